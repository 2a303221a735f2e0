#!/usr/bin/env bash
# The main job on CPU with defaults: set up, then train + evaluate the quick preset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/orient-jax quickstart "$@"
