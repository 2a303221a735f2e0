"""Observation memory: exponential moving averages of the policy's own features.

A single observation cannot tell a stall (pushing at the torque limit, not moving, for a
second already) from a slow climb that will make it; the physics draw that decides which it is
cannot be seen either. A memory of where the features have been can. It is a fixed filter, not
a learned one: `update` is part of the policy's exported graph (input `memory`, output
`memory_out`), so the page only feeds back what the last call returned, zeros at reset.

Layout: memory (..., K, F + 1) for the K rates of `DECAYS`: per rate, the running sum
sum_t d^(T-t) (1 - d) f_t of the features f (F,) and its weight 1 - d^T (bias-corrected
like Adam's moments: zeros are a valid start, and the first average is the first frame).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DECAYS = (0.9, 0.98)
"""Per control step (20 ms): time constants of 0.2 s and 1 s."""


def shape(feature_size: int) -> tuple[int, int]:
    """(K, F + 1): one memory's shape for F features."""
    return len(DECAYS), feature_size + 1


def zeros(feature_size: int, batch: tuple[int, ...] = ()) -> jax.Array:
    """The memory of a fresh episode, (*batch, K, F + 1)."""
    return jnp.zeros((*batch, *shape(feature_size)), jnp.float32)


def update(memory: jax.Array, features: jax.Array) -> jax.Array:
    """memory (..., K, F + 1), this step's features (..., F) -> memory including them."""
    d = jnp.asarray(DECAYS, jnp.float32)[:, None]
    frame = jnp.concatenate([features, jnp.ones_like(features[..., :1])], axis=-1)[..., None, :]
    return d * memory + (1.0 - d) * frame


def averages(memory: jax.Array) -> jax.Array:
    """memory (..., K, F + 1) -> bias-corrected averages (..., K, F) (zero where empty)."""
    return memory[..., :-1] / jnp.maximum(memory[..., -1:], 1e-6)
