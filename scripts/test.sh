#!/usr/bin/env bash
# Set up, then run the whole test suite (all markers: slow, blender, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
exec .venv/bin/python -m pytest --durations=12 "$@"
