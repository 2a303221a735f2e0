"""Small models for tests and development: a policy artifact from random weights, a tiny pose net."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp


def random_policy_artifact(env_name: str = "goal", hidden: tuple[int, ...] = (32, 32), seed: int = 0,
                           out_gain: float = 50.0, memory: bool = False, reflex: bool = False, symmetry=None):
    """An untrained `PolicyArtifact` of `env_name` whose actions are not all ~0 (the last layer
    is scaled by `out_gain`) and whose feature normalizer is not the identity; `memory`: a
    policy with memory (`env.memory`), `reflex`: and the stall reflex around it (`env.reflex`);
    `symmetry`: for an object with this symmetry group (its policy carries the observer)."""
    import dataclasses

    from orient_jax import sim
    from orient_jax.rl.checkpoint import PolicyArtifact
    from orient_jax.rl.networks import Actor, RunningStats
    from orient_jax.rl.presets import preset
    from orient_jax.sim.reflex import ReflexConfig

    env_cls = sim.env_class(env_name)
    env_config = sim.default_config(env_name)
    if "memory" in {f.name for f in dataclasses.fields(env_config)}:  # a task whose policy may have memory
        env_config = dataclasses.replace(env_config, memory=memory, reflex=ReflexConfig(enabled=reflex))
    elif memory or reflex:
        raise ValueError(f"the {env_name!r} task's policy has no memory (nor the reflex kept in it)")
    if symmetry is not None:
        env_config = dataclasses.replace(env_config, symmetry=symmetry)
    ppo_config = dataclasses.replace(preset("tiny") if _has_preset("tiny") else preset("quick"), actor_hidden=tuple(hidden))
    obs = {"quat": jnp.array([0.0, 0.0, 0.0, 1.0]), "ang_vel": jnp.zeros(3), "prev_action": jnp.zeros(3)}
    if env_cls.goal_conditioned:
        obs["target"] = jnp.array([0.0, 0.0, 0.0, 1.0])
    if (shape := sim.base.memory_shape(env_config, env_cls)) is not None:
        obs["memory"] = jnp.zeros(shape, jnp.float32)
    size = env_cls.policy_features(obs, env_config).shape[-1]
    k_init, k_mean, k_var = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = Actor(tuple(hidden), 3, ppo_config.init_log_std).init(k_init, jnp.zeros(size))
    last = f"Dense_{len(hidden)}"
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: x * out_gain if any(getattr(p, "key", None) == last for p in path) else x, params)
    norm = RunningStats(mean=0.1 * jax.random.normal(k_mean, (size,)),
                        var=jax.random.uniform(k_var, (size,), minval=0.5, maxval=2.0), count=jnp.asarray(1000.0))
    return PolicyArtifact(env_name, env_config, ppo_config, params, norm, {"untrained": True})


def _has_preset(name: str) -> bool:
    from orient_jax.rl.presets import PRESETS

    return name in PRESETS


def save_random_policy(path: Path, env_name: str = "goal", **kw) -> Path:
    from orient_jax.rl.checkpoint import save_policy

    return save_policy(Path(path), random_policy_artifact(env_name, **kw))


def tiny_pose_config():
    """A 32 px pose net with a handful of channels: exports and runs in a second."""
    from orient_jax.pose.model import PoseNetConfig

    return PoseNetConfig(image_size=32, widths=(4, 8, 8, 8, 8), extra_convs=(1,), hidden=16)


def tiny_camera(size: int = 32) -> dict:
    from orient_jax.export.manifest import DEFAULT_CAMERA

    return {**DEFAULT_CAMERA, "width": size, "height": size}
