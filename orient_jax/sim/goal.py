"""Task `goal`: reach and hold a given target orientation, yaw included.

The target [x, y, z, w] is an input of the policy, one per episode: uniformly random on SO(3)
among the orientations the object can physically hold. Almost every orientation rests on a
single vertex of the hull, and holding it takes a body torque of m * g * (horizontal distance
from the COM to that vertex); targets needing more than `goal_hold_margin` of the torque limit
are rejected (about 41% of SO(3) is accepted for the engine at the default 0.7).
Success: geodesic angle to the target <= 10 deg and |angular velocity| <= 0.5 rad/s, held
for 1 s. The policy sees the rotation still to go, in its own body frame (6D, continuous),
and world-up in its body frame (gravity decides what is easy to hold); with `memory`, moving
averages of those features (`memory.py`), and around a trained policy the stall reflex
(`reflex.py`).

Training starts (the curriculum behind the shipped goal policy, `scripts/train_goal.sh`): a
share of the episodes starts at rest instead of dropped, since a converged policy rarely
explores the full-torque tip that leaves a stable rest; evaluation always drops.

Engine recipes: the curriculum's fractions and stages (`scripts/train_goal.sh`), the hold
margin and the reward weights were tuned on the engine alone. Every value here is relative (a
share of episodes, a share of the torque limit, an angle), so it runs for any object, but for
another object it is a starting point, not a tuned recipe; the goal policy stays optional for
imported objects.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.config import check_range
from orient_jax.errors import UserError
from orient_jax.sim import base, rest_poses, start_bank
from orient_jax.sim import reflex as reflex_lib


@dataclasses.dataclass(frozen=True)
class GoalConfig(base.EnvConfig):
    goal_hold_margin: float = 0.7
    """Targets are uniformly random orientations that the object can hold against gravity
    using at most this fraction of its torque (balanced on its lowest point). Engine recipe:
    0.7 accepts ~41% of SO(3) for the engine; another object's share depends on its shape."""
    upright_start_fraction: float = 0.0
    """Training curriculum (engine recipe, `scripts/train_goal.sh`): this fraction of episodes
    starts at rest on the floor, upright with a random yaw, instead of dropped. Upright is where
    a dropped engine most often settles and leaving it takes a deliberate full-torque tip over a
    base edge."""
    rest_start_fraction: float = 0.0
    """Training curriculum (engine recipe): this fraction of episodes starts at rest in one of
    the poses a dropped, unpowered object settles in (`rest_poses.py`), at a random yaw."""
    near_rest_start_fraction: float = 0.0
    """Training curriculum (engine recipe): this fraction of episodes starts at rest in the
    settled pose (at the yaw, of 8 random ones) nearest the episode's target: where a policy
    that cannot yet lift the object onto the target's balancing point stops short of it."""
    stall_start_fraction: float = 0.0
    """Training curriculum: this fraction of episodes starts from a state of `stall_starts`
    (position, velocity, target and physics as recorded), with the whole episode to go."""
    stall_starts: str = ""
    """Start bank (.npz, `start_bank.py`) for `stall_start_fraction`: states where an earlier
    policy stalled short of its target (`experiments/collect_stall_starts.py`)."""
    memory: bool = False
    """The policy also sees moving averages of its past features (`memory.py`): the
    observation (and `policy_goal.onnx`) gains a `memory` the policy updates and the caller
    feeds back. Off: every decision rests on the current observation alone."""
    reflex: reflex_lib.ReflexConfig = reflex_lib.ReflexConfig()
    """The stall reflex around a trained policy (`reflex.py`; `orient-jax reflex`): its state
    is one more row of the memory."""

    def __post_init__(self):
        super().__post_init__()
        check_range("goal_hold_margin", self.goal_hold_margin, 0.05, 1.0)
        check_range("upright_start_fraction", self.upright_start_fraction, 0.0, 1.0)
        check_range("rest_start_fraction", self.rest_start_fraction, 0.0, 1.0 - self.upright_start_fraction)
        check_range("near_rest_start_fraction", self.near_rest_start_fraction, 0.0,
                    1.0 - self.upright_start_fraction - self.rest_start_fraction)
        check_range("stall_start_fraction", self.stall_start_fraction, 0.0,
                    1.0 - self.upright_start_fraction - self.rest_start_fraction - self.near_rest_start_fraction)
        if self.stall_start_fraction > 0 and not self.stall_starts:
            raise UserError("stall_start_fraction > 0 needs a start bank: --set env.stall_starts=PATH.npz")
        if self.reflex.enabled and not self.memory:
            raise UserError("env.reflex needs env.memory=true (the reflex keeps its state in the policy's memory)")


def default_config() -> GoalConfig:
    return GoalConfig()


class Goal(base.ReorientEnv):
    goal_conditioned = True

    CANDIDATES = 16  # P(no holdable candidate) = 0.59^16 < 3e-4 for the engine; then the easiest is taken

    def __init__(self, config: GoalConfig, mjcf_path: str | None = None):
        super().__init__(config, mjcf_path)
        self._com = jnp.asarray(self.body.com, jnp.float32)
        self._max_lever = config.goal_hold_margin * float(self.action_scale.min()) / (self.body.mass * 9.81)
        # Rest poses are found (by simulation, ~2 s) only where the curriculum starts from them.
        self._settled = jnp.asarray(rest_poses.settled_orientations(self.mjcf_path)
                                    if config.rest_start_fraction + config.near_rest_start_fraction > 0
                                    else [[0.0, 0.0, 0.0, 1.0]], jnp.float32)
        # The start bank is read only where the curriculum uses it (evaluation never does).
        self._stall_bank = ({k: jnp.asarray(v) for k, v in start_bank.load(config.stall_starts).items()}
                            if config.stall_start_fraction > 0 else None)

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
        return candidates[jnp.where(holdable.any(), jnp.argmax(holdable), jnp.argmin(lever))]

    def _training_start(self, key: jax.Array, drop: base.Start) -> base.Start:
        """The curriculum's share of episodes starts at rest (upright, in a settled pose, or in
        the settled pose nearest the target, at a random yaw) or from the start bank; the rest
        keep the drop. Every draw here uses keys folded from `key`, apart from the drop's."""
        cfg = self.config
        at_rest_share = cfg.upright_start_fraction + cfg.rest_start_fraction + cfg.near_rest_start_fraction
        if at_rest_share + cfg.stall_start_fraction == 0:  # static: evaluation's configs
            return drop
        k_mode, k_yaw = jax.random.split(jax.random.fold_in(key, 1), 2)
        mode = jax.random.uniform(k_mode)
        upright = mode < cfg.upright_start_fraction
        settled = ~upright & (mode < cfg.upright_start_fraction + cfg.rest_start_fraction)
        near = ~upright & ~settled & (mode < at_rest_share)
        z_axis = jnp.array([0.0, 0.0, 1.0])
        yaw = rotations.from_axis_angle(z_axis, jax.random.uniform(k_yaw, (), maxval=2 * jnp.pi))
        pose = self._settled[jax.random.randint(jax.random.fold_in(key, 2), (), 0, self._settled.shape[0])]
        at_rest = jnp.where(settled, rotations.canonicalize(rotations.multiply(yaw, pose)), yaw)
        if cfg.near_rest_start_fraction > 0:  # static: a reset runs every step (vec_env), so only pay when used
            # Nearest rest: every settled pose (P, 4) at 8 random yaws, (8 * P, 4) candidates.
            yaws = rotations.from_axis_angle(z_axis, jax.random.uniform(jax.random.fold_in(key, 3), (8,),
                                                                        maxval=2 * jnp.pi))
            candidates = rotations.multiply(yaws[:, None, :], self._settled[None, :, :]).reshape(-1, 4)
            nearest = candidates[jnp.argmin(rotations.geodesic_angle(candidates, drop.target))]
            at_rest = jnp.where(near, rotations.canonicalize(nearest), at_rest)
        resting = upright | settled | near
        quat = jnp.where(resting, at_rest, drop.quat)
        # At rest: the hull's lowest point 1 mm above the floor.
        rest_height = 1e-3 - jnp.min(rotations.rotate(quat[None, :], self._hull_points)[:, 2])
        height = jnp.where(resting, rest_height, drop.qpos[2])
        start = dataclasses.replace(drop, quat=quat,
                                    qpos=jnp.concatenate([drop.qpos[:2], height[None], rotations.to_mujoco(quat)]))
        if cfg.stall_start_fraction > 0:  # static; the last share of `mode` (the fractions sum to <= 1)
            bank = self._stall_bank
            row = jax.random.randint(jax.random.fold_in(key, 5), (), 0, bank["qpos"].shape[0])
            stalled = mode >= 1.0 - cfg.stall_start_fraction
            pick = lambda name, default: jnp.where(stalled, bank[name][row], default)
            qpos = pick("qpos", start.qpos)
            start = base.Start(qpos=qpos, qvel=pick("qvel", start.qvel),
                               quat=rotations.canonicalize(rotations.from_mujoco(qpos[3:7])),
                               target=pick("target", start.target), prev_action=pick("prev_action", start.prev_action),
                               dr={k: pick(k, v) for k, v in start.dr.items()})
        return start

    @staticmethod
    def error_angle(quat: jax.Array, target: jax.Array, sym: symmetry_lib.Symmetry = symmetry_lib.TRIVIAL) -> jax.Array:
        return symmetry_lib.error_angle(quat, target, sym)

    @staticmethod
    def signal_features(obs: base.Obs) -> jax.Array:
        """[rotation-to-go 6D (6), up_in_body (3), ang_vel (3), prev_action (3)]."""
        quat = rotations.normalize(obs["quat"])
        target = rotations.normalize(obs["target"])
        to_go = rotations.multiply(rotations.inverse(quat), target)  # body frame
        return jnp.concatenate([rotations.to_6d(to_go), rotations.up_in_body(quat), obs["ang_vel"],
                                obs["prev_action"]], axis=-1)
