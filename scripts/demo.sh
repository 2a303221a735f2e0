#!/usr/bin/env bash
# Try the shipped models now, no training: fetch the page's npm files (the first time, ~10 s),
# then serve the committed bundle (models/export) on http://127.0.0.1:8000/ with any Python 3.
# Flags go to the server: --port N, --models DIR (another models folder), --host ADDR.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f web/vendor/VERSIONS.json ]; then
  command -v npm >/dev/null || { echo "error: npm not found (install Node.js 20+)" >&2; exit 1; }
  (cd web && npm ci --no-audit --no-fund --loglevel=error && node scripts/vendor.mjs)
fi
exec python3 orient_jax/web/server.py "$@"
