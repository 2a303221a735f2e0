"""orient-jax: see a 3D object's orientation and turn it upright (MJX + PPO + ONNX + web)."""

import contextlib as _contextlib
import io as _io
import os as _os

# XLA:CPU logs an error line per program it loads from the persistent compilation cache
# (orient_jax/compile_cache.py) on hosts whose CPU lacks its tuning-only features ("+prefer-no-
# gather ... could lead to execution errors such as SIGILL"): harmless, and on every warm run.
# XLA reads this level once, when jax loads, so it is set here, before the import below; a
# user's own TF_CPP_MIN_LOG_LEVEL (e.g. 0, to see every XLA log line) wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# MJX probes for the optional NVIDIA Warp backend on import and prints when it is absent;
# import it once here, quietly, so that the CLI's output stays clean.
with _contextlib.redirect_stdout(_io.StringIO()):
    from mujoco import mjx as _mjx  # noqa: F401

__version__ = "0.1.0"
