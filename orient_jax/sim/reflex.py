"""Stall reflex: a fixed recovery rule around a learned policy with memory (`env.reflex`).

The goal policy's failures are stalls (`experiments/results/goal_failures.md`): pushing at the
torque limit, barely moving, short of the target, until the episode ends. Pushed out of one, it
succeeds again often, and about equally for every push direction and duration
(`experiments/results/stall_escape.md`): there is no manoeuvre to teach, only a second try to
take. The reflex takes it: once the policy has been stalled for `stall_s`, it reverses the
stalled torque for `push_s` (the engine falls back, away from the target), then hands back to
the policy, which comes at the target again with a run-up; as often as the policy stalls.

Like the memory's moving averages, the reflex is part of the policy's exported graph: its state
is one more row of the memory (`sim/memory.py`, zeros at an episode's start) and a function of
the observations alone, so the env keeps it exactly as the policy's `memory_out` does and the
page only feeds back what the last call returned. Training never uses it (it overrides actions
PPO would have to account for); it is put around a trained policy with `orient-jax reflex`.

State row (..., F + 1), first `SIZE` entries used:
[control steps stalled so far, push steps left, push action (3), pushes so far].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from orient_jax.config import check_range

SIZE = 6
STALLED, PUSH_LEFT, PUSH, PUSHES = 0, 1, slice(2, 5), 5


@dataclasses.dataclass(frozen=True)
class ReflexConfig:
    """Engine recipe: the defaults were chosen around the engine's goal policy (times in s,
    angles, shares of the torque limit, so they apply to any object, untuned)."""

    enabled: bool = False
    """Wrap the policy in the stall reflex (needs `env.memory`: its state is a row of the memory)."""
    stall_s: float = 0.2
    """A stall lasting this long (s) triggers a push."""
    push_s: float = 0.3
    """How long (s) the push, the stalled action reversed, is held before the policy takes over."""
    far_deg: float = 15.0
    """A stall is only counted this far (deg, observed error angle) or farther from the goal, so
    that holding a target that needs much torque never looks like one (success is 10 deg)."""
    saturation: float = 0.95
    """...while some component of the previous action is at least this (of the torque limit)..."""
    still_rad_s: float = 1.0
    """...and the observed angular speed is below this (rad/s). The defaults were chosen on
    evaluation seeds 100-103 (docs/goal_task.md), none of the seeds reported there."""

    def __post_init__(self):
        check_range("reflex.stall_s", self.stall_s, 0.02, 10.0)
        check_range("reflex.push_s", self.push_s, 0.02, 5.0)
        check_range("reflex.far_deg", self.far_deg, 10.0, 180.0)
        check_range("reflex.saturation", self.saturation, 0.5, 1.0)
        check_range("reflex.still_rad_s", self.still_rad_s, 0.0, 10.0)


def observe(state: jax.Array, error: jax.Array, ang_vel: jax.Array, prev_action: jax.Array,
            config: ReflexConfig, control_dt: float) -> jax.Array:
    """The reflex state (..., W >= SIZE) after one observation: its observed error angle (...,
    rad), angular velocity (..., 3, rad/s) and the previous action (..., 3, in [-1, 1])."""
    stall_steps, push_steps = round(config.stall_s / control_dt), round(config.push_s / control_dt)
    stalled = ((jnp.max(jnp.abs(prev_action), axis=-1) >= config.saturation)
               & (jnp.linalg.norm(ang_vel, axis=-1) < config.still_rad_s)
               & (error > jnp.deg2rad(config.far_deg)))
    pushing = state[..., PUSH_LEFT] > 0
    count = jnp.where(stalled & ~pushing, state[..., STALLED] + 1.0, 0.0)
    trigger = count >= stall_steps
    new = jnp.stack([jnp.where(trigger, 0.0, count),
                     jnp.where(trigger, float(push_steps), jnp.maximum(state[..., PUSH_LEFT] - 1.0, 0.0))], axis=-1)
    push = jnp.where(trigger[..., None], -prev_action, state[..., PUSH])
    pushes = state[..., PUSHES] + trigger
    return jnp.concatenate([new, push, pushes[..., None], state[..., SIZE:]], axis=-1)


def act(state: jax.Array, action: jax.Array) -> jax.Array:
    """The action sent (..., 3): the push while one is on, else the policy's `action`."""
    return jnp.where(state[..., PUSH_LEFT, None] > 0, jnp.clip(state[..., PUSH], -1.0, 1.0), action)
