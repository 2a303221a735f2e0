"""Rotation-aware loss: the geodesic angle between predicted and true rotations."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from orient_jax import rotations
from orient_jax.pose.model import matrix_from_raw


def geodesic_from_matrices(r_pred: jax.Array, r_true: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Angle (rad) between rotation matrices (..., 3, 3). Clipped inside (-1, 1) so the
    gradient of arccos stays finite when the prediction is exact (or exactly opposite)."""
    cos = (jnp.trace(jnp.swapaxes(r_pred, -1, -2) @ r_true, axis1=-2, axis2=-1) - 1.0) / 2.0
    return jnp.arccos(jnp.clip(cos, -1.0 + eps, 1.0 - eps))


def geodesic_loss(raw: jax.Array, quat_true: jax.Array, head: str) -> jax.Array:
    """Mean geodesic angle (rad) of a head's raw output (N, 6|4) against labels (N, 4)."""
    return jnp.mean(geodesic_from_matrices(matrix_from_raw(raw, head), rotations.to_matrix(quat_true)))
