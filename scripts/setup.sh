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

# The official SARIF 2.1.0 JSON schema, for the test that validates `hydrogen review --format
# sarif`. It ships inside Microsoft's jest-sarif package on the npm registry; nothing of it is
# committed. Optional: without npm the test says why it skipped.
SARIF_SCHEMA="$VENV/share/hydrogen/sarif-2.1.0.json"
if [ ! -f "$SARIF_SCHEMA" ] && command -v npm >/dev/null 2>&1; then
    tmp="$(mktemp -d)"
    if (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null 2>&1 \
        && tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json); then
        mkdir -p "$(dirname "$SARIF_SCHEMA")"
        mv "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$SARIF_SCHEMA"
    else
        echo "setup: could not fetch the SARIF schema from npm; its validation test will skip" >&2
    fi
    rm -rf "$tmp"
fi
