"""Training presets: the same code at three scales, chosen by config only.

- `quick`: the README's CPU job (2 cores, <= 20 min, >= 80% upright success).
- `full`: the CPU run behind the shipped upright policy (twice as long).
- `goal`: the CPU run behind the shipped goal policy (a harder task: more envs and steps).
- `gpu`: one accelerator (or several: `num_envs` splits over all local devices).
"""

from __future__ import annotations

import dataclasses

from orient_jax.errors import UserError
from orient_jax.rl.ppo import PPOConfig

PRESETS: dict[str, PPOConfig] = {
    "quick": PPOConfig(num_envs=512, rollout_steps=32, total_steps=3_000_000, num_minibatches=8, update_epochs=4),
    "full": PPOConfig(num_envs=512, rollout_steps=32, total_steps=6_000_000, num_minibatches=8, update_epochs=4),
    "goal": PPOConfig(num_envs=1024, rollout_steps=32, total_steps=30_000_000, num_minibatches=8, update_epochs=4),
    "gpu": PPOConfig(num_envs=8192, rollout_steps=32, total_steps=200_000_000, num_minibatches=16, update_epochs=4),
    # A few updates: smoke tests and CI.
    "tiny": PPOConfig(num_envs=32, rollout_steps=16, total_steps=32 * 16 * 4, num_minibatches=4, update_epochs=2,
                      actor_hidden=(32, 32), critic_hidden=(32, 32)),
}


def preset(name: str, **changes) -> PPOConfig:
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **changes)
