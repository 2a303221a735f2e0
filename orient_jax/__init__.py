"""orient-jax: see a 3D object's orientation and turn it upright (MJX + PPO + ONNX + web)."""

import contextlib as _contextlib
import io as _io

# MJX probes for the optional NVIDIA Warp backend on import and prints when it is absent;
# import it once here, quietly, so that the CLI's output stays clean.
with _contextlib.redirect_stdout(_io.StringIO()):
    from mujoco import mjx as _mjx  # noqa: F401

__version__ = "0.1.0"
