"""Observation memory: exponential moving averages of the policy's own features.

A single observation cannot tell a stall (pushing at the torque limit, not moving, for a
second already) from a slow climb that will make it; the physics draw that decides which it is
cannot be seen either. A memory of where the features have been can. It is a fixed filter, not
a learned one: `update` is part of the policy's exported graph (input `memory`, output
`memory_out`), so the page only feeds back what the last call returned, zeros at reset.

Layout: memory (..., K, F + 1) for the K rates of `DECAYS`: per rate, the running sum
sum_t d^(T-t) (1 - d) f_t of the features f (F,) and its weight 1 - d^T (bias-corrected
like Adam's moments: zeros are a valid start, and the first average is the first frame).
A policy with the stall reflex (`sim/reflex.py`) has one more row, the reflex's state, which
`update` and `averages` leave alone.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DECAYS = (0.9, 0.98)
"""Per control step (20 ms): time constants of 0.2 s and 1 s."""


def shape(feature_size: int, reflex: bool = False) -> tuple[int, int]:
    """(K, F + 1), or (K + 1, F + 1) with the reflex's row: one memory's shape for F features."""
    return len(DECAYS) + int(reflex), feature_size + 1


def zeros(feature_size: int, batch: tuple[int, ...] = (), reflex: bool = False) -> jax.Array:
    """The memory of a fresh episode, (*batch, K[+1], F + 1)."""
    return jnp.zeros((*batch, *shape(feature_size, reflex)), jnp.float32)


def update(memory: jax.Array, features: jax.Array) -> jax.Array:
    """memory (..., K[+1], F + 1), this step's features (..., F) -> memory including them."""
    k = len(DECAYS)
    d = jnp.asarray(DECAYS, jnp.float32)[:, None]
    frame = jnp.concatenate([features, jnp.ones_like(features[..., :1])], axis=-1)[..., None, :]
    return jnp.concatenate([d * memory[..., :k, :] + (1.0 - d) * frame, memory[..., k:, :]], axis=-2)


def averages(memory: jax.Array) -> jax.Array:
    """memory (..., K[+1], F + 1) -> bias-corrected averages (..., K, F) (zero where empty)."""
    rates = memory[..., :len(DECAYS), :]
    return rates[..., :-1] / jnp.maximum(rates[..., -1:], 1e-6)
