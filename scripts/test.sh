#!/usr/bin/env bash
# Set up, then run the whole test suite (all markers: slow, blender, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
# Test files run in parallel on ORIENT_JAX_TEST_WORKERS processes (default 2, CI's cores); a file's
# tests stay together on one worker so its module fixtures (trained runs, servers) are built once.
exec .venv/bin/python -m pytest -n "${ORIENT_JAX_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder --durations=12 "$@"
