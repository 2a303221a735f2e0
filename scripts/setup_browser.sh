#!/usr/bin/env bash
# Prepare the browser client and its tests: Debian's chromium (headless, for Playwright) and
# web/vendor (the npm files the page imports). Idempotent: does nothing when both are current.
# The playwright Python package comes with the test extras (bash scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "setup_browser: installing Debian chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

cd web
# vendor/ is stale when package-lock.json changed since it was built (the stamp keeps its hash).
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f vendor/VERSIONS.json ] || [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$want" ]; then
  command -v npm >/dev/null || { echo "error: npm not found (install Node.js 20+)" >&2; exit 1; }
  echo "setup_browser: npm ci + vendor (three, onnxruntime-web, mujoco-js)"
  npm ci --no-audit --no-fund --loglevel=error
  node scripts/vendor.mjs
  echo "$want" > node_modules/.lock-hash
fi
echo "setup_browser: ready (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), $(tr -d '\n ' < vendor/VERSIONS.json))"
