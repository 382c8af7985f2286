#!/usr/bin/env bash
# Set up, then the benchmark; arguments go to scripts/bench.py (--seconds, --quick, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/bench.py "$@"
