"""The deployed policy: raw named signals in, deterministic action out.

`make_policy_fn` is the function `policy.onnx` is exported from and the one evaluation runs,
so the features (sign canonicalisation, rotation features, normalisation) are written once.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from orient_jax import sim
from orient_jax.rl.checkpoint import PolicyArtifact
from orient_jax.rl.networks import Actor

PolicyFn = Callable[..., jax.Array]


def make_policy_fn(artifact: PolicyArtifact) -> PolicyFn:
    """Returns `policy(quat (N,4), ang_vel (N,3), prev_action (N,3)[, target (N,4)]) -> action (N,3)`."""
    env_cls = sim.env_class(artifact.env_name)
    actor = Actor(artifact.ppo_config.actor_hidden, 3, artifact.ppo_config.init_log_std)
    params, norm = artifact.actor_params, artifact.obs_norm

    def policy(quat, ang_vel, prev_action, target=None):
        obs = {"quat": quat, "ang_vel": ang_vel, "prev_action": prev_action}
        if env_cls.goal_conditioned:
            if target is None:
                raise ValueError("the goal policy needs a target quaternion")
            obs["target"] = target
        features = norm.normalize(env_cls.policy_features(obs))
        return jnp.clip(actor.apply(params, features)[0], -1.0, 1.0)

    return policy


def obs_policy_fn(artifact: PolicyArtifact) -> Callable[[dict], jax.Array]:
    """The same policy taking the env's observation dict."""
    policy = make_policy_fn(artifact)
    return lambda obs: policy(**obs)
