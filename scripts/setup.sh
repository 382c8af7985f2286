#!/usr/bin/env bash
# Idempotent set-up: the .venv at the repository root with Hydrogen and its dev tools.
# Safe to run any number of times, with no stdin (CI=true); only package registries are used.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.hydrogen-setup"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the dependency declaration changed since the last successful set-up.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
    echo "$want" > "$STAMP"
fi
