"""SHAC (`orient-jax train --algo shac`): learning through the differentiable MJX physics.

One tiny run (a fixture, compiled once) serves the resume and artifact tests; the learning
test runs a few updates at a small batch; the NaN test puts a non-finite cotangent into the
physics of half the envs and checks that it is masked, counted and never reaches the weights.
"""

import dataclasses
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax import sim
from orient_jax.errors import UserError
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl.presets import preset
from orient_jax.rl.shac import SHAC
from orient_jax.rl.train import RunConfig, train_and_evaluate

from cli_helpers import run_cli

UPDATES = 6


def _leaves(artifact):
    return [np.asarray(x) for x in jax.tree.leaves((artifact.actor_params, artifact.obs_norm))]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One uninterrupted tiny SHAC run: (its folder, its policy)."""
    workdir = tmp_path_factory.mktemp("shac") / "run"
    config = preset("tiny", "shac", total_steps=8 * 8 * UPDATES)
    policy = train_and_evaluate(RunConfig(env="upright", checkpoint_every=3), sim.default_config("upright"), config,
                                workdir, show_progress=False)
    return workdir, policy


def test_resume_from_a_checkpoint_gives_the_same_parameters(tmp_path, tiny_run):
    """The run folder as a kill after update 3 leaves it (checkpoint 3, no policy): rerunning
    resumes there and ends with the uninterrupted run's parameters, bit for bit."""
    workdir, ref = tiny_run
    killed = tmp_path / "killed"
    shutil.copytree(workdir, killed)
    shutil.rmtree(killed / "policy")
    shutil.rmtree(killed / "checkpoints" / str(UPDATES))
    got = train_and_evaluate(RunConfig(env="upright", checkpoint_every=3), sim.default_config("upright"),
                             preset("tiny", "shac", total_steps=8 * 8 * UPDATES), killed, show_progress=False)
    for a, b in zip(_leaves(ref), _leaves(got), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_shac_policy_is_a_policy_artifact(tiny_run):
    """The artifact says it was trained by SHAC and loads into the same actor the export uses."""
    from orient_jax.rl.policy import make_policy_fn

    workdir, _ = tiny_run
    artifact = ckpt_lib.load_policy(workdir / "policy")
    assert type(artifact.ppo_config).__name__ == "SHACConfig"
    action = make_policy_fn(artifact)(jnp.array([[0.0, 0.0, 0.0, 1.0]]), jnp.zeros((1, 3)), jnp.zeros((1, 3)))
    assert action.shape == (1, 3) and np.all(np.abs(np.asarray(action)) <= 1.0)


@pytest.mark.slow
def test_short_shac_run_lowers_the_loss_and_raises_the_return():
    """A few updates from fixed starts: the window's loss (the negative discounted return plus
    the critic's tail) falls and the dense reward rises, the tilt falls."""
    env = sim.load("upright")
    config = preset("quick", "shac", num_envs=32, horizon=16, total_steps=32 * 16 * 20, critic_minibatches=4)
    shac = SHAC(env, config)
    state = shac.init(jax.random.PRNGKey(0))
    history = []
    for _ in range(config.num_updates):
        state, metrics = shac.update(state)
        history.append({k: float(v) for k, v in metrics.items()})
    assert all(np.isfinite(v) for h in history for v in h.values())
    first = {k: np.mean([h[k] for h in history[:4]]) for k in history[0]}
    last = {k: np.mean([h[k] for h in history[-4:]]) for k in history[0]}
    assert last["loss/actor"] < first["loss/actor"], (first["loss/actor"], last["loss/actor"])
    assert last["reward/alignment"] > first["reward/alignment"], (first["reward/alignment"], last["reward/alignment"])
    assert last["env/error_deg"] < first["env/error_deg"], (first["env/error_deg"], last["env/error_deg"])


@jax.custom_vjp
def _nan_cotangent_where(x, poison):
    return x


def _ncw_fwd(x, poison):
    return x, poison


def _ncw_bwd(poison, g):
    return jnp.where(poison, jnp.nan, g), None


_nan_cotangent_where.defvjp(_ncw_fwd, _ncw_bwd)


def test_a_nan_in_the_physics_gradient_is_masked_and_counted():
    """The cotangent through the physics is NaN wherever the body is at x > 0 (about half the
    drops start there): those envs are masked, counted in grad/masked, and the update stays finite
    and still moves."""
    env = sim.load("upright", sim.default_config("upright"))
    physics = env._physics

    def poisoned(model, data, ctrl):
        out = physics(model, data, ctrl)
        return out.replace(qvel=_nan_cotangent_where(out.qvel, data.qpos[0] > 0))

    env._physics = poisoned
    config = preset("tiny", "shac", num_envs=16, total_steps=16 * 8)
    shac = SHAC(env, config)
    state = shac.init(jax.random.PRNGKey(1))
    before = [np.asarray(x) for x in jax.tree.leaves(state.params.actor)]
    x0 = np.asarray(state.env_state.data.qpos[:, 0])
    state, metrics = shac.update(state)
    masked = float(metrics["grad/masked"])
    # Every env that starts at x > 0 is poisoned at its first step; some cross x = 0 later.
    assert np.mean(x0 > 0) - 1e-6 <= masked < 1 and masked > 0, (masked, x0)
    after = [np.asarray(x) for x in jax.tree.leaves(state.params.actor)]
    assert all(np.all(np.isfinite(a)) for a in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert np.isfinite(float(metrics["grad/norm"]))


def test_cli_options_for_shac(tmp_path):
    """--set shac.KEY works with --algo shac; a ppo key with it (or a shac key without it) is one
    error line; SHAC refuses a memory and a warm start it cannot use."""
    ok = run_cli("config", "--algo", "shac", "--preset", "tiny", "--set", "shac.horizon=4")
    assert ok.returncode == 0 and "\nhorizon = 4" in ok.stdout and "# shac, preset tiny" in ok.stdout, ok.stdout
    bad = run_cli("config", "--algo", "shac", "--set", "ppo.num_envs=8")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--algo ppo" in bad.stderr, bad.stderr
    bad = run_cli("config", "--set", "shac.horizon=4")
    assert bad.returncode == 2 and "--algo shac" in bad.stderr, bad.stderr
    with pytest.raises(UserError, match="without memory"):
        SHAC(sim.load("goal", dataclasses.replace(sim.default_config("goal"), memory=True)), preset("tiny", "shac"))
