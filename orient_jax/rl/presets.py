"""Training presets: the same code at several scales, chosen by config only.

- `quick`: the cpu-quick pipeline's upright policy and the shipped one (3 M steps, ~6 min on 2 cores).
- `full`: twice `quick` (the cpu-full pipeline).
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
