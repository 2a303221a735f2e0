"""`orient-jax soup`: the uniform average of fine-tunes of one policy."""

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from cli_helpers import run_cli
from orient_jax.errors import UserError
from orient_jax.rl import checkpoint, soup

MODELS = Path(__file__).resolve().parent.parent / "models" / "checkpoints"


def _nudged(artifact, scale: float, seed: int):
    """`artifact` with every actor weight and normalizer moment moved by random amounts."""
    leaves, treedef = jax.tree.flatten(artifact.actor_params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    moved = [x + scale * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    norm = dataclasses.replace(artifact.obs_norm, mean=artifact.obs_norm.mean + scale,
                               var=artifact.obs_norm.var * (1 + scale))
    return dataclasses.replace(artifact, actor_params=jax.tree.unflatten(treedef, moved), obs_norm=norm)


def test_soup_is_the_leafwise_mean_and_written_by_the_cli(tmp_path):
    goal = checkpoint.load_policy(MODELS / "goal")
    a, b = _nudged(goal, 0.01, 0), _nudged(goal, 0.03, 1)
    checkpoint.save_policy(tmp_path / "a", a)
    checkpoint.save_policy(tmp_path / "b", b)
    out = run_cli("soup", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "soup"), timeout=300)
    assert out.returncode == 0, out.stderr
    mixed = checkpoint.load_policy(tmp_path / "soup")
    for got, x, y in zip(jax.tree.leaves(mixed.actor_params), jax.tree.leaves(a.actor_params),
                         jax.tree.leaves(b.actor_params)):
        np.testing.assert_allclose(got, (np.asarray(x) + np.asarray(y)) / 2, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed.obs_norm.mean, (a.obs_norm.mean + b.obs_norm.mean) / 2, rtol=1e-6)
    np.testing.assert_allclose(mixed.obs_norm.var, (a.obs_norm.var + b.obs_norm.var) / 2, rtol=1e-6)
    assert mixed.env_config == goal.env_config and mixed.metrics["soup_of"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    # A soup of copies is the policy itself.
    same = soup.average([goal, goal], ["x", "y"])
    for got, want in zip(jax.tree.leaves(same.actor_params), jax.tree.leaves(goal.actor_params)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_soup_refuses_ingredients_of_other_kinds(tmp_path):
    upright, goal = checkpoint.load_policy(MODELS / "upright"), checkpoint.load_policy(MODELS / "goal")
    with pytest.raises(UserError, match="'upright' policy cannot join"):
        soup.average([goal, upright], ["goal", "upright"])
    with pytest.raises(UserError, match="env.memory"):
        soup.average([goal, dataclasses.replace(goal, env_config=dataclasses.replace(goal.env_config, memory=False))],
                     ["goal", "no-memory"])
    with pytest.raises(UserError, match="at least two"):
        soup.average([goal], ["goal"])
    out = run_cli("soup", str(MODELS / "goal"), str(MODELS / "upright"), "--out", str(tmp_path / "soup"), timeout=300)
    assert out.returncode == 2 and out.stderr.startswith("error:") and "Traceback" not in out.stderr
    assert not (tmp_path / "soup").exists()  # nothing half-written
    out = run_cli("soup", str(MODELS / "goal"), str(tmp_path / "missing"), "--out", str(tmp_path / "soup"), timeout=300)
    assert out.returncode == 2 and "no policy checkpoint" in out.stderr
