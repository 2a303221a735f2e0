"""Task `goal`: reach and hold a given target orientation, yaw included.

The target [x, y, z, w] is an input of the policy, one per episode: uniformly random on SO(3)
among the orientations the engine can physically hold. Almost every orientation rests on a
single vertex of the hull, and holding it takes a body torque of m * g * (horizontal distance
from the COM to that vertex); targets needing more than `goal_hold_margin` of the torque limit
are rejected (about 41% of SO(3) is accepted at the default 0.7).
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

    CANDIDATES = 16  # P(no holdable candidate) = 0.59^16 < 3e-4; then the easiest is taken

    def __init__(self, config: base.EnvConfig, mjcf_path: str | None = None):
        super().__init__(config, mjcf_path)
        from orient_jax.assets import engine_spec

        mp = engine_spec.mass_properties()
        self._com = jnp.asarray(mp.com, jnp.float32)
        self._max_lever = config.goal_hold_margin * float(self.action_scale.min()) / (mp.mass * 9.81)

    def holding_lever(self, quat: jax.Array) -> jax.Array:
        """Horizontal distance (m) from the COM to the hull's lowest point at `quat`."""
        points = rotations.rotate(quat[..., None, :], self._hull_points)
        lowest = jnp.take_along_axis(points, jnp.argmin(points[..., 2], axis=-1)[..., None, None], axis=-2)[..., 0, :]
        com = rotations.rotate(quat, self._com)
        return jnp.linalg.norm((com - lowest)[..., :2], axis=-1)

    def _sample_target(self, key: jax.Array) -> jax.Array:
        candidates = rotations.sample_uniform(key, (self.CANDIDATES,))
        lever = self.holding_lever(candidates)
        holdable = lever <= self._max_lever
        pick = jnp.where(holdable.any(), jnp.argmax(holdable), jnp.argmin(lever))
        if self.config.hard_target_fraction > 0:  # static; the uniform draw keeps its keys either way
            hard = jax.random.uniform(jax.random.fold_in(key, 1)) < self.config.hard_target_fraction
            hardest = jnp.argmax(jnp.where(holdable, lever, -1.0))
            pick = jnp.where(hard & holdable.any(), hardest, pick)
        return candidates[pick]

    @staticmethod
    def error_angle(quat: jax.Array, target: jax.Array) -> jax.Array:
        return rotations.geodesic_angle(quat, target)

    @staticmethod
    def signal_features(obs: base.Obs) -> jax.Array:
        """[rotation-to-go 6D (6), up_in_body (3), ang_vel (3), prev_action (3)]."""
        quat = rotations.normalize(obs["quat"])
        target = rotations.normalize(obs["target"])
        to_go = rotations.multiply(rotations.inverse(quat), target)  # body frame
        return jnp.concatenate([rotations.to_6d(to_go), rotations.up_in_body(quat), obs["ang_vel"],
                                obs["prev_action"]], axis=-1)
