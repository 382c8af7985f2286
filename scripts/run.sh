#!/usr/bin/env bash
# Set up, then the main job: admit, start and call every bundled plugin's tools for real.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/hydrogen --plugins plugins demo "$@"
