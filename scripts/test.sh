#!/usr/bin/env bash
# Set up, then the whole test suite: lint, strict types, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check runtime
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
