"""Rotation-aware loss: the geodesic angle between predicted and true rotations, modulo the
object's symmetry (`orient_jax.symmetry`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.pose.model import matrix_from_raw
from orient_jax.symmetry import Symmetry


def geodesic_from_matrices(r_pred: jax.Array, r_true: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Angle (rad) between rotation matrices (..., 3, 3). Clipped inside (-1, 1) so the
    gradient of arccos stays finite when the prediction is exact (or exactly opposite)."""
    cos = (jnp.trace(jnp.swapaxes(r_pred, -1, -2) @ r_true, axis1=-2, axis2=-1) - 1.0) / 2.0
    return jnp.arccos(jnp.clip(cos, -1.0 + eps, 1.0 - eps))


def geodesic_loss(raw: jax.Array, quat_true: jax.Array, head: str) -> jax.Array:
    """Mean geodesic angle (rad) of a head's raw output (N, 6|4) against labels (N, 4)."""
    return jnp.mean(geodesic_from_matrices(matrix_from_raw(raw, head), rotations.to_matrix(quat_true)))


SYMMETRY_LOSSES = ("auto", "min", "canonical")
"""How a symmetric object's labels are read (`PoseTrainConfig.symmetry_loss`):
- "auto" (the default, `resolve_symmetry_loss`): "canonical" for a group of discrete turns only,
  "min" for one with a continuous axis. For discrete groups the minimum over look-alikes trains
  worse, as the literature warns (experiments/symmetry_loss.py, the box: 9.70 deg with "min"
  against 5.87 with "canonical" on the same renders); with a continuous axis "min" compares only
  the axis's direction, a smooth target, and trained the can to 1.79 deg;
- "min": the angle to the nearest look-alike of the label (min over the discrete elements; with
  a continuous symmetry, the angle between the predicted and true directions of its axis, plus
  the angle to the line of that axis, see `symmetric_loss`);
- "canonical": the angle to one fixed representative of the label's look-alikes
  (`symmetry.canonical`: the look-alike nearest the identity, untwisted about a continuous axis).
experiments/symmetry_loss.py compares them (and the naive loss) on the same renders."""


def resolve_symmetry_loss(mode: str, sym: Symmetry) -> str:
    """The loss `mode` ("auto", "min" or "canonical") means for the group `sym`."""
    if mode != "auto":
        return mode
    return "min" if sym.continuous else "canonical"


def symmetric_loss(raw: jax.Array, quat_true: jax.Array, head: str, sym: Symmetry, mode: str = "auto") -> jax.Array:
    """Mean angle (rad) of a head's raw output (N, 6|4) against labels (N, 4) modulo the object's
    symmetry; the plain geodesic loss (the same ops) for an asymmetric object."""
    if sym.trivial:
        return geodesic_loss(raw, quat_true, head)
    r_pred = matrix_from_raw(raw, head)
    if resolve_symmetry_loss(mode, sym) == "canonical":
        return jnp.mean(geodesic_from_matrices(r_pred, rotations.to_matrix(symmetry_lib.canonical(quat_true, sym))))
    looks = rotations.to_matrix(rotations.multiply(quat_true[..., None, :], jnp.asarray(sym.elements())))  # (N, K, 3, 3)
    if not sym.continuous:
        return jnp.mean(jnp.min(geodesic_from_matrices(r_pred[..., None, :, :], looks), axis=-1))
    axis = jnp.asarray(sym.axis, jnp.float32)
    seen = r_pred @ axis  # (N, 3)
    wanted = looks @ axis  # (N, K, 3)
    cos = jnp.sum(seen[..., None, :] * wanted, axis=-1)
    eps = 1e-6  # as in geodesic_from_matrices: a finite arccos gradient at an exact answer
    angles = jnp.arccos(jnp.clip(cos, -1.0 + eps, 1.0 - eps))  # (N, K)
    # The line term: a network that cannot yet tell the axis's two ends apart (a can's top from
    # its bottom) sees angle(d, a) + angle(d, -a) = 180 deg whatever it predicts, so the signed
    # angle alone teaches it nothing, not even the line the ends lie on (measured: stuck at 90
    # deg). The angle to the line, min(angle, 180 - angle), teaches the line meanwhile; both
    # vanish at the right answer only.
    line = jnp.minimum(angles, jnp.pi - angles)
    return jnp.mean(jnp.min(angles, axis=-1) + jnp.min(line, axis=-1))
