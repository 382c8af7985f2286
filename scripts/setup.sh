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
    # The CPU build of torch first: installed later, as a dependency of sentence-transformers,
    # pip would choose the registry's newest build with several GB of CUDA packages.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev,bench,rag,mongodb]'
    echo "$want" > "$STAMP"
fi

# Bytecode for the runtime, written now: with PYTHONDONTWRITEBYTECODE set (as on these
# machines) every `hydrogen` and every worker would otherwise recompile the changed modules at
# each start (tens of ms). Idempotent: unchanged sources are skipped.
"$VENV/bin/python" -m compileall -q runtime >/dev/null

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

# MCP Inspector (CLI mode), for one smoke test of `hydrogen serve --stdio` with a third-party
# client. Optional: without npm, or if the registry is unreachable, that test says why it skipped.
INSPECTOR_DIR="$VENV/share/hydrogen/inspector"
INSPECTOR_VERSION="2.12.0"
if [ ! -x "$INSPECTOR_DIR/node_modules/.bin/mcp-inspector" ] && command -v npm >/dev/null 2>&1; then
    mkdir -p "$INSPECTOR_DIR"
    if ! (cd "$INSPECTOR_DIR" && npm install --silent --no-audit --no-fund \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null 2>&1); then
        echo "setup: could not install the MCP Inspector from npm; its smoke test will skip" >&2
    fi
fi
