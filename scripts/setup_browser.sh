#!/usr/bin/env bash
# Prepare the browser client and its tests: Debian's chromium (headless, for Playwright) and
# web/vendor (the npm files the page imports). Idempotent: does nothing when both are current.
# The playwright Python package comes with the test extras (bash scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the page's tests; nginx + rsync: the deploy tests (a static host, a remote copy).
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v rsync >/dev/null || missing="$missing rsync"
if [ -n "$missing" ]; then
  echo "setup_browser: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  # Installing nginx may start the system service; the tests run their own instance.
  { command -v systemctl >/dev/null && $SUDO systemctl stop nginx; } >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
fi

cd web
# vendor/ is stale when package-lock.json changed since it was built (the stamp keeps its hash).
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f vendor/VERSIONS.json ] || [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$want" ]; then
  command -v npm >/dev/null || { echo "error: npm not found (install Node.js 20+)" >&2; exit 1; }
  echo "setup_browser: npm ci + vendor (three, onnxruntime-web, @mujoco/mujoco)"
  npm ci --no-audit --no-fund --loglevel=error
  node scripts/vendor.mjs
  echo "$want" > node_modules/.lock-hash
fi
echo "setup_browser: ready (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), $(tr -d '\n ' < vendor/VERSIONS.json))"
