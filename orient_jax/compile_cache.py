"""JAX's persistent compilation cache for every command: a rerun loads the compiled programs
(the MJX step, the PPO update, the pose network) from disk instead of compiling them again.

Measured on the 2-core CPU machine (`benchmarks/compile_cache.py`: `orient-jax train --preset
tiny` in a fresh process): 25.7 s cold, 11.5 s warm, 24.9 s with the cache off. The folder is `$ORIENT_JAX_COMPILE_CACHE` (default `~/.cache/orient-jax/xla`;
`off` turns the cache off); a `JAX_COMPILATION_CACHE_DIR` the user set wins over both. Only
programs that took at least JAX's `jax_persistent_cache_min_compile_time_secs` (1 s by default)
to compile are written, so the folder holds the expensive ones. An entry is keyed by the
program, the JAX/XLA versions, the devices and the compiler flags: a cached program is the one
XLA would compile, so results do not change.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "ORIENT_JAX_COMPILE_CACHE"
DEFAULT = Path("~/.cache/orient-jax/xla")


def folder() -> Path | None:
    """The cache folder this process uses, or None when it is off."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("off", "0", "none"):
        return None
    return Path(value or DEFAULT).expanduser()


def enable() -> Path | None:
    """Point JAX's compilation cache at `folder()` (before the first compile). A folder that
    cannot be created turns the cache off for this process instead of failing the command."""
    path = folder()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    # JAX reads the variable when it is imported; a process that imported it already is told directly.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
    if "jax" in sys.modules:
        sys.modules["jax"].config.update("jax_compilation_cache_dir", str(path))
    return path
