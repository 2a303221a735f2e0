"""A policy soup: the uniform average of several fine-tunes of one policy (Wortsman et al.,
"Model soups", 2022).

Fine-tunes that start from the same parameters stay in one basin of the loss, so their average
is a policy too, and can be a better one than each: the noise each run's last updates leave in
its weights averages out (for the goal policy it was not: README, goal task). The actor's weights and the observation normalizer's moments are
averaged leaf by leaf; the env and PPO configs (and so the ONNX contract) are the first
ingredient's. Ingredients must share the task, the observation (memory on or off) and every
weight's shape; anything else is a `UserError`.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp

from orient_jax.errors import UserError
from orient_jax.rl.checkpoint import PolicyArtifact, load_policy
from orient_jax.rl.networks import RunningStats


def _shapes(artifact: PolicyArtifact):
    return jax.tree.map(jnp.shape, (artifact.actor_params, artifact.obs_norm.mean))


def average(artifacts: list[PolicyArtifact], names: list[str]) -> PolicyArtifact:
    """The uniform soup of `artifacts` (`names` only label errors and the metrics)."""
    if len(artifacts) < 2:
        raise UserError("a soup needs at least two policies")
    first = artifacts[0]
    for name, art in zip(names[1:], artifacts[1:]):
        if art.env_name != first.env_name:
            raise UserError(f"{name}: a {art.env_name!r} policy cannot join a soup of {first.env_name!r} policies")
        if art.env_config.memory != first.env_config.memory:
            raise UserError(f"{name}: env.memory={art.env_config.memory} differs from {names[0]}'s")
        if _shapes(art) != _shapes(first):
            raise UserError(f"{name}: its network's shapes differ from {names[0]}'s (other actor_hidden?)")
    mean = lambda *leaves: sum(leaves) / len(leaves)
    actor = jax.tree.map(mean, *[a.actor_params for a in artifacts])
    norm = RunningStats(mean=mean(*[a.obs_norm.mean for a in artifacts]), var=mean(*[a.obs_norm.var for a in artifacts]),
                        count=mean(*[a.obs_norm.count for a in artifacts]))
    return PolicyArtifact(first.env_name, first.env_config, first.ppo_config, actor, norm,
                          {"soup_of": list(names)})


def load_and_average(paths: list[Path]) -> PolicyArtifact:
    return average([load_policy(Path(p)) for p in paths], [str(p) for p in paths])
