#!/usr/bin/env bash
# The main job on CPU with defaults: set up, then run the whole pipeline at the cpu-quick preset
# (render -> pose model -> its error model -> policy -> ONNX export + parity -> bundle), and
# serve the page on 127.0.0.1 (its URL is printed). Rerun to resume; finished stages are cached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
exec .venv/bin/orient-jax pipeline --preset cpu-quick "$@"
