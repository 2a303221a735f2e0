"""Task `upright`: dropped at a uniformly random orientation, flip upright and hold still.

Success (docs/design.md): tilt <= 10 deg and |angular velocity| <= 0.5 rad/s, held for 1 s,
within the 10 s episode. Yaw is free, so the policy sees only where world-up points in its
body frame: a yaw-invariant, sign-invariant feature of the (noisy) quaternion.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.sim import base


def default_config() -> base.EnvConfig:
    return base.EnvConfig()


class Upright(base.ReorientEnv):
    goal_conditioned = False

    def _sample_target(self, key: jax.Array) -> jax.Array:
        return rotations.identity()

    @staticmethod
    def error_angle(quat: jax.Array, target: jax.Array, sym: symmetry_lib.Symmetry = symmetry_lib.TRIVIAL) -> jax.Array:
        """Tilt modulo the symmetry: a box with two square faces is upright on either."""
        return symmetry_lib.tilt(quat, sym)

    @staticmethod
    def signal_features(obs: base.Obs) -> jax.Array:
        """[up_in_body (3), ang_vel (3), prev_action (3)] from quat [x,y,z,w] of either sign."""
        quat = rotations.normalize(obs["quat"])
        return jnp.concatenate([rotations.up_in_body(quat), obs["ang_vel"], obs["prev_action"]], axis=-1)
