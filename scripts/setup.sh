#!/usr/bin/env bash
# Create .venv with Python 3.13 and install orient-jax (+ test extras). Idempotent: reruns
# only reinstall when pyproject.toml (or ORIENT_JAX_EXTRAS) changed.
# ORIENT_JAX_EXTRAS: extras to install (default "test"; GPU machines: "test,cuda").
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for cand in python3.13 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/"3.13*/bin/python3.13 \
              "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -x "$(command -v "$cand" 2>/dev/null || echo "$cand")" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
  PY="$(find_python)" || { echo "error: Python 3.13 not found (needed by bpy and the pinned jax stack). Install it, e.g. 'pyenv install 3.13', then rerun." >&2; exit 1; }
  echo "setup: creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi

stamp=".venv/.orient-jax-installed"
extras="${ORIENT_JAX_EXTRAS:-test}"
want="$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing orient-jax and its pinned dependencies into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  echo "$want" > "$stamp"
fi
