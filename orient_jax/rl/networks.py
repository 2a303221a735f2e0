"""Flax networks of the PPO agent and the running observation normalizer.

The actor maps normalized policy features (F,) to a Gaussian over actions: mean = tanh(MLP),
a learned state-independent log-std. Its deterministic action (the mean) is in [-1, 1] by
construction, which is what `policy.onnx` outputs. The critic sees privileged features.
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct


class MLP(nn.Module):
    hidden: Sequence[int]
    out: int
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.tanh(nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x))
        return nn.Dense(self.out, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def tanh_with_grad_floor(z: jax.Array, floor: float) -> jax.Array:
    """tanh(z) whose derivative never drops below `floor` (the forward value is exact).

    A saturated tanh (|z| > 3: derivative < 0.01) freezes the action in exactly the states
    where the policy pushes at its torque limit, so PPO cannot teach it to push less there.
    The surrogate derivative keeps the true sign and lifts only its size."""
    return jnp.tanh(z)


@tanh_with_grad_floor.defjvp
def _tanh_with_grad_floor_jvp(floor, primals, tangents):
    (z,), (dz,) = primals, tangents
    y = jnp.tanh(z)
    return y, dz * jnp.maximum(1.0 - jnp.square(y), floor)


class Actor(nn.Module):
    hidden: Sequence[int]
    action_size: int
    init_log_std: float = -0.5
    tanh_grad_floor: float = 0.0
    """Training only: see `tanh_with_grad_floor`; 0 = the plain tanh (same forward either way)."""

    @nn.compact
    def __call__(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
        """features (..., F) -> (mean (..., A) in [-1, 1], log_std (A,))."""
        z = MLP(self.hidden, self.action_size, out_scale=0.01)(features)
        mean = tanh_with_grad_floor(z, self.tanh_grad_floor) if self.tanh_grad_floor > 0 else nn.tanh(z)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_size,))
        return mean, log_std


class Critic(nn.Module):
    hidden: Sequence[int]

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        """features (..., C) -> value (...,)."""
        return MLP(self.hidden, 1, out_scale=1.0)(features)[..., 0]


@struct.dataclass
class RunningStats:
    """Running mean and variance of features (F,), merged batch by batch (Chan et al.)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, size: int) -> "RunningStats":
        return cls(mean=jnp.zeros(size), var=jnp.ones(size), count=jnp.zeros(()))

    def update(self, batch: jax.Array, axis_name: str | None = None) -> "RunningStats":
        """Merge a batch (..., F); with `axis_name`, across all devices of that axis."""
        x = batch.reshape(-1, batch.shape[-1])
        n = jnp.asarray(x.shape[0], jnp.float32)
        mean = x.mean(0)
        var = x.var(0)
        if axis_name is not None:  # equal shards: the global moments are the mean of the local ones
            mean_g = jax.lax.pmean(mean, axis_name)
            var = jax.lax.pmean(var + jnp.square(mean - mean_g), axis_name)
            mean = mean_g
            n = n * jax.lax.psum(1.0, axis_name)
        total = self.count + n
        delta = mean - self.mean
        new_mean = self.mean + delta * n / total
        m2 = self.var * self.count + var * n + jnp.square(delta) * self.count * n / total
        return RunningStats(mean=new_mean, var=m2 / total, count=total)

    def normalize(self, x: jax.Array) -> jax.Array:
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + 1e-6), -10.0, 10.0)


def grow_mlp_inputs(trained: dict, fresh: dict) -> dict:
    """A trained MLP's params over a same-shaped MLP with more input features, so that it
    computes the same function: the first kernel's rows for the new features are zero (the
    policy gained inputs, e.g. a memory, and learns to use them from there). Works on any
    params tree of Dense {kernel (in, out), bias (out,)} layers; other leaves (the log-std) are
    copied. Every other leaf must have the same shape in both trees."""

    def embed(path, s, l):
        l = jnp.asarray(l)
        s = jnp.asarray(s, l.dtype)
        if s.shape == l.shape:
            return s
        if path[-1].key != "kernel" or s.shape[1:] != l.shape[1:] or s.shape[0] > l.shape[0]:
            raise ValueError(f"{jax.tree_util.keystr(path)}: {s.shape} does not fit in {l.shape}")
        return jnp.zeros_like(l).at[:s.shape[0]].set(s)

    return jax.tree_util.tree_map_with_path(embed, trained, fresh)
