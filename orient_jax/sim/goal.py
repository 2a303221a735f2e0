"""Task `goal`: reach and hold a given target orientation, yaw included.

The target [x, y, z, w] is an input of the policy (uniform on SO(3), one per episode).
Success: geodesic angle to the target <= 10 deg and |angular velocity| <= 0.5 rad/s, held
for 1 s. The policy sees the rotation still to go, in its own body frame (6D, continuous),
and world-up in its body frame (gravity decides what is easy to hold).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from orient_jax import rotations
from orient_jax.sim import base


def default_config() -> base.EnvConfig:
    return base.EnvConfig()


class Goal(base.ReorientEnv):
    goal_conditioned = True

    def _sample_target(self, key: jax.Array) -> jax.Array:
        return rotations.sample_uniform(key)

    def error_angle(self, quat: jax.Array, target: jax.Array) -> jax.Array:
        return rotations.geodesic_angle(quat, target)

    @staticmethod
    def policy_features(obs: base.Obs) -> jax.Array:
        """[rotation-to-go 6D (6), up_in_body (3), ang_vel (3), prev_action (3)]."""
        quat = rotations.normalize(obs["quat"])
        target = rotations.normalize(obs["target"])
        to_go = rotations.multiply(rotations.inverse(quat), target)  # body frame
        return jnp.concatenate([rotations.to_6d(to_go), rotations.up_in_body(quat), obs["ang_vel"],
                                obs["prev_action"]], axis=-1)
