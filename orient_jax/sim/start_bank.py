"""A bank of recorded mid-episode states that a training curriculum restarts episodes from.

The goal policy's failures stall: held up at its torque limit on the way to the target, the
engine stands still and the episode runs out (`experiments/goal_failures.py`). Those states
are rare among the training's starts, so PPO sees few of them and learns little there.
Recording them from the policy's own failed rollouts and starting a share of the training
episodes in them (with the whole episode still to go) is a reverse curriculum: the policy
practises exactly the situations it cannot yet leave (`experiments/collect_stall_starts.py`).

One `.npz` file, every array with a leading axis B (one row per state):
  qpos (B, 7)        MuJoCo free-joint position: xyz (m), orientation [w, x, y, z]
  qvel (B, 6)        MuJoCo free-joint velocity: linear (world, m/s), angular (body, rad/s)
  target (B, 4)      the episode's target [x, y, z, w]
  prev_action (B, 3) the action applied on the step that led to the state, in [-1, 1]
  mass (B,), inertia (B, 3), friction (B,), torque_gain (B,)   the episode's physics draw
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from orient_jax import fileio
from orient_jax.errors import UserError

FIELDS = {"qpos": (7,), "qvel": (6,), "target": (4,), "prev_action": (3,),
          "mass": (), "inertia": (3,), "friction": (), "torque_gain": ()}
PHYSICS = ("mass", "inertia", "friction", "torque_gain")


def _check(bank: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    missing = sorted(set(FIELDS) - set(bank))
    if missing:
        raise UserError(f"{where}: not a start bank (missing {', '.join(missing)})")
    size = bank["qpos"].shape[0] if bank["qpos"].ndim else 0
    if size == 0:
        raise UserError(f"{where}: the start bank is empty")
    out = {}
    for name, shape in FIELDS.items():
        a = np.asarray(bank[name], np.float32)
        if a.shape != (size, *shape):
            raise UserError(f"{where}: {name} has shape {a.shape}, expected {(size, *shape)}")
        if not np.isfinite(a).all():
            raise UserError(f"{where}: {name} holds non-finite values")
        out[name] = a
    return out


def save(path: Path, bank: dict[str, np.ndarray]) -> None:
    """Write a bank atomically (checked first: a bad bank is never written)."""
    bank = _check(bank, str(path))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **bank)
    fileio.write_bytes_atomic(path, buffer.getvalue())


def load(path: str | Path) -> dict[str, np.ndarray]:
    """The bank's arrays (float32), checked; one clear UserError for a missing or bad file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"start bank {path} not found (make one with experiments/collect_stall_starts.py)")
    try:
        with np.load(path) as data:
            bank = {k: data[k] for k in data.files}
    except Exception as exc:  # zip / pickle / format errors all mean the same to a user
        raise UserError(f"start bank {path} cannot be read: {type(exc).__name__}: {exc}") from None
    return _check(bank, str(path))
