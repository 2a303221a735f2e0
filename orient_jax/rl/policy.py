"""The deployed policy: raw named signals in, deterministic action out.

`make_policy_fn` is the function `policy.onnx` is exported from and the one evaluation runs,
so the features (sign canonicalisation, rotation features, normalisation) are written once.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from orient_jax import sim
from orient_jax.rl.checkpoint import PolicyArtifact
from orient_jax.rl.networks import Actor
from orient_jax.sim import reflex

PolicyFn = Callable[..., jax.Array]


def make_policy_fn(artifact: PolicyArtifact) -> PolicyFn:
    """Returns `policy(quat (N,4), ang_vel (N,3), prev_action (N,3)[, target (N,4)]) -> action (N,3)`;
    a policy with memory (`env.memory`) also takes `memory (N,K,F+1)` (zeros at an episode's
    start; one more row with the stall reflex, `env.reflex`) and returns `(action, memory_out)`,
    the memory to pass on the next call."""
    env_cls = sim.env_class(artifact.env_name)
    actor = Actor(artifact.ppo_config.actor_hidden, 3, artifact.ppo_config.init_log_std)
    params, norm = artifact.actor_params, artifact.obs_norm
    env_config = artifact.env_config
    has_memory = sim.base.memory_shape(env_config, env_cls) is not None

    def policy(quat, ang_vel, prev_action, target=None, memory=None):
        obs = {"quat": quat, "ang_vel": ang_vel, "prev_action": prev_action}
        if env_cls.goal_conditioned:
            if target is None:
                raise ValueError("the goal policy needs a target quaternion")
            obs["target"] = target
        if has_memory:
            if memory is None:
                raise ValueError("this policy needs its memory (zeros at an episode's start)")
            obs["memory"] = memory
        features = norm.normalize(env_cls.policy_features(obs, env_config))
        action = jnp.clip(actor.apply(params, features)[0], -1.0, 1.0)
        if not has_memory:
            return action
        memory_out = env_cls.next_memory(env_config, obs)
        if env_config.reflex.enabled:  # its state is memory_out's last row (this step's included)
            action = reflex.act(memory_out[..., -1, :], action)
        return action, memory_out

    return policy


def obs_policy_fn(artifact: PolicyArtifact) -> Callable[[dict], jax.Array]:
    """The same policy taking the env's observation dict (which carries the memory: the env
    keeps it exactly as `memory_out` would), returning the action alone."""
    policy = make_policy_fn(artifact)
    if sim.base.memory_shape(artifact.env_config, sim.env_class(artifact.env_name)) is not None:
        return lambda obs: policy(**obs)[0]
    return lambda obs: policy(**obs)


def with_reflex(artifact: PolicyArtifact, overrides: list[str] | tuple[str, ...] = ()) -> PolicyArtifact:
    """`artifact` wrapped in the stall reflex (`sim/reflex.py`), with `reflex.KEY=VALUE`
    overrides of its settings; the network is unchanged."""
    from orient_jax import config as config_lib
    from orient_jax.errors import UserError

    if not artifact.env_config.memory:
        raise UserError("this policy has no memory (env.memory), where the reflex keeps its state; "
                        "train one with --set env.memory=true")
    for item in overrides:
        if not item.removeprefix("env.").startswith("reflex."):
            raise UserError(f"--set {item}: only reflex.* settings belong to the reflex")
    config = dataclasses.replace(artifact.env_config, reflex=dataclasses.replace(artifact.env_config.reflex, enabled=True))
    config = config_lib.apply_overrides(config, [o.removeprefix("env.") for o in overrides])
    return dataclasses.replace(artifact, env_config=config)
