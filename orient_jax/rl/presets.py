"""Training presets: the same code at several scales, chosen by config only.

- `quick`: the shipped upright policy's recipe (3 M steps, ~5 min on 2 cores).
- `full`: twice `quick` (the cpu-quick and cpu-full pipelines' upright policies).
- `goal`: the CPU run behind the shipped goal policy (a harder task: more envs and steps).
- `gpu`: one accelerator (or several: `num_envs` splits over all local devices).

SHAC (`--algo shac`) has its own presets of the same names where they apply (`SHAC_PRESETS`).
"""

from __future__ import annotations

import dataclasses

from orient_jax.errors import UserError
from orient_jax.rl.ppo import PPOConfig
from orient_jax.rl.shac import SHACConfig

PRESETS: dict[str, PPOConfig] = {
    "quick": PPOConfig(num_envs=512, rollout_steps=32, total_steps=3_000_000, num_minibatches=8, update_epochs=4),
    "full": PPOConfig(num_envs=512, rollout_steps=32, total_steps=6_000_000, num_minibatches=8, update_epochs=4),
    "goal": PPOConfig(num_envs=1024, rollout_steps=32, total_steps=30_000_000, num_minibatches=8, update_epochs=4),
    "gpu": PPOConfig(num_envs=8192, rollout_steps=32, total_steps=200_000_000, num_minibatches=16, update_epochs=4),
    # A few updates: smoke tests and CI.
    "tiny": PPOConfig(num_envs=32, rollout_steps=16, total_steps=32 * 16 * 4, num_minibatches=4, update_epochs=2,
                      actor_hidden=(32, 32), critic_hidden=(32, 32)),
}


SHAC_PRESETS: dict[str, SHACConfig] = {
    "quick": SHACConfig(num_envs=64, horizon=32, total_steps=1_000_000),
    "gpu": SHACConfig(num_envs=4096, horizon=32, total_steps=50_000_000, critic_minibatches=16),
    "tiny": SHACConfig(num_envs=8, horizon=8, total_steps=8 * 8 * 3, critic_minibatches=2, critic_epochs=2,
                       actor_hidden=(32, 32), critic_hidden=(32, 32)),
}
ALGOS = ("ppo", "shac")


def preset(name: str, algo: str = "ppo", **changes) -> PPOConfig | SHACConfig:
    """The training config of preset `name` for `algo` (ppo or shac)."""
    table = {"ppo": PRESETS, "shac": SHAC_PRESETS}.get(algo)
    if table is None:
        raise UserError(f"unknown --algo {algo!r}; choose one of: {', '.join(ALGOS)}")
    if name not in table:
        raise UserError(f"unknown preset {name!r} for --algo {algo}; choose one of: {', '.join(table)}")
    return dataclasses.replace(table[name], **changes)


CONFIG_CLASSES = {"ppo": PPOConfig, "shac": SHACConfig}


def algo_of(config: PPOConfig | SHACConfig) -> str:
    """"ppo" or "shac": the algorithm a training config belongs to."""
    return "shac" if isinstance(config, SHACConfig) else "ppo"


def trainer_record(config: PPOConfig | SHACConfig) -> dict:
    """How policy.json and the export manifest record a training config: {"ppo_config": ...}
    as always, or {"shac_config": ..., "algo": "shac"}."""
    from orient_jax import config as config_lib

    algo = algo_of(config)
    return {f"{algo}_config": config_lib.to_dict(config), **({"algo": algo} if algo != "ppo" else {})}
