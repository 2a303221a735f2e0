"""The stall reflex (`env.reflex`, sim/reflex.py): the rule, the env's copy of its state, the ONNX
graph, the CLI, and that it turns real stalls of the shipped goal policy into successes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cli_helpers import run_cli
from orient_jax import sim
from orient_jax.errors import UserError
from orient_jax.export import onnx_export, parity, testing
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl import evaluate as ev
from orient_jax.rl.policy import make_policy_fn, obs_policy_fn, with_reflex
from orient_jax.sim import memory as memory_lib
from orient_jax.sim import reflex

ROOT = Path(__file__).resolve().parents[1]
DT = 0.02
QUICK = reflex.ReflexConfig(enabled=True, stall_s=0.1, push_s=0.06)  # the default thresholds, quicker


def _run(rule: reflex.ReflexConfig, steps: int, error_deg: float, speed: float, prev_action, network_action):
    """Feed `steps` identical observations through the rule; the pushed action is what the env
    then reports as the previous action. Returns the actions sent and the final state."""
    state, prev, sent = jnp.zeros(16), jnp.asarray(prev_action, jnp.float32), []
    for _ in range(steps):
        state = reflex.observe(state, jnp.deg2rad(error_deg), jnp.asarray([0.0, 0.0, speed]), prev, rule, DT)
        action = reflex.act(state, jnp.asarray(network_action, jnp.float32))
        sent.append(np.asarray(action))
        prev = action if float(state[reflex.PUSH_LEFT]) > 0 else prev  # a stalled network keeps pushing
    return np.stack(sent), state


def test_a_stall_is_pushed_back_for_push_s_then_the_network_takes_over():
    stalled = [1.0, -0.3, 0.2]  # QUICK: 5 steps stalled, then 3 pushing
    sent, state = _run(QUICK, 12, error_deg=30.0, speed=0.1, prev_action=stalled, network_action=[0.5, 0.5, 0.5])
    pushed = np.all(np.isclose(sent, [-1.0, 0.3, -0.2]), axis=-1)
    # Steps 0-3 count the stall, step 4 triggers, 4-6 push the stalled action reversed; then the
    # network again, and the count starts over (the next push would come at step 12).
    np.testing.assert_array_equal(pushed, [False] * 4 + [True] * 3 + [False] * 5)
    np.testing.assert_allclose(sent[~pushed], 0.5)
    assert float(state[reflex.PUSHES]) == 1.0 and 0 < float(state[reflex.STALLED]) < 5


@pytest.mark.parametrize("error_deg, speed, prev_action", [
    (QUICK.far_deg - 3.0, 0.1, [1.0, 0.0, 0.0]),  # near the goal: holding a demanding target is not a stall
    (30.0, QUICK.still_rad_s + 0.3, [1.0, 0.0, 0.0]),  # moving: a climb, not a stall
    (30.0, 0.1, [QUICK.saturation - 0.05, -0.9, 0.5]),  # below the torque limit
])
def test_no_push_unless_far_still_and_at_the_torque_limit(error_deg, speed, prev_action):
    sent, state = _run(QUICK, 40, error_deg, speed, prev_action, network_action=[0.5, 0.5, 0.5])
    np.testing.assert_allclose(sent, 0.5)
    assert float(state[reflex.PUSHES]) == 0.0


def test_bad_settings_and_a_reflex_without_memory_are_one_line_errors():
    with pytest.raises(UserError, match="reflex.far_deg"):
        reflex.ReflexConfig(far_deg=5.0)  # inside the success region
    with pytest.raises(UserError, match="env.reflex needs env.memory=true"):
        dataclasses.replace(sim.default_config("goal"), reflex=reflex.ReflexConfig(enabled=True))
    with pytest.raises(UserError, match="has no memory"):
        with_reflex(testing.random_policy_artifact("goal"))
    with pytest.raises(UserError, match="only reflex"):
        with_reflex(testing.random_policy_artifact("goal", memory=True), ["noise.scale=0"])


@pytest.fixture(scope="module")
def eager():
    """An untrained goal policy with memory and a reflex that fires at once (any saturated,
    slow-ish step farther than 10 deg from the target): every branch of the rule runs."""
    art = testing.random_policy_artifact("goal", memory=True)
    return with_reflex(art, ["reflex.stall_s=0.02", "reflex.push_s=0.1", "reflex.far_deg=10",
                             "reflex.still_rad_s=10", "reflex.saturation=0.5"])


def test_the_env_keeps_the_reflex_state_the_policy_returns(eager):
    env = sim.load("goal", eager.env_config)
    assert env.obs_spec()["memory"] == (len(memory_lib.DECAYS) + 1, env.signal_size() + 1)
    policy, network = jax.jit(make_policy_fn(eager)), jax.jit(make_policy_fn(dataclasses.replace(
        eager, env_config=dataclasses.replace(eager.env_config, reflex=reflex.ReflexConfig()))))
    state, step = jax.jit(env.reset)(jax.random.PRNGKey(1)), jax.jit(env.step)
    pushing_steps = 0
    for _ in range(60):
        action, memory_out = policy(**state.obs)
        row = np.asarray(memory_out[-1])
        if row[reflex.PUSH_LEFT] > 0:  # the push, not the network's action
            pushing_steps += 1
            np.testing.assert_allclose(action, np.clip(row[reflex.PUSH], -1, 1))
        else:  # the network alone: the reflex row does not leak into its features
            np.testing.assert_allclose(action, network(**{**state.obs, "memory": state.obs["memory"][:-1]})[0], atol=1e-6)
        state = step(state, action)
        np.testing.assert_allclose(state.obs["memory"], memory_out, atol=1e-6)
    assert pushing_steps >= 5 and float(state.obs["memory"][-1, reflex.PUSHES]) >= 1


def test_the_reflex_is_in_the_exported_graph(eager, tmp_path):
    """Open-loop and closed-loop parity with onnxruntime; random memories put half the cases in
    a push, so both branches of the graph are compared."""
    path = onnx_export.export_policy(eager, tmp_path / "policy_goal.onnx")
    report = parity.policy_parity(eager, path, episodes=2, seconds=2.0)
    assert report["pass"], report["failures"]
    cases = parity.policy_cases(True, 64, memory=(3, sim.env_class("goal").signal_size() + 1))["random"]
    assert 0.2 < np.mean(cases["memory"][:, -1, reflex.PUSH_LEFT] > 0) < 0.8


def test_cli_wraps_a_policy_and_eval_reports_the_pushes(tmp_path):
    src = testing.save_random_policy(tmp_path / "net", "goal", memory=True)
    run = lambda *a: run_cli(*a, timeout=600)
    bad = run("reflex", str(testing.save_random_policy(tmp_path / "plain", "goal")), "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "no memory" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x").exists()
    same = run("reflex", str(src), "--out", str(src))
    assert same.returncode == 2 and "is the input policy" in same.stderr
    ok = run("reflex", str(src), "--out", str(tmp_path / "wrapped"), "--set", "reflex.push_s=0.4")
    assert ok.returncode == 0, ok.stderr
    wrapped = ckpt_lib.load_policy(tmp_path / "wrapped")
    assert wrapped.env_config.reflex == reflex.ReflexConfig(enabled=True, push_s=0.4)
    for got, want in zip(jax.tree.leaves(wrapped.actor_params), jax.tree.leaves(ckpt_lib.load_policy(src).actor_params)):
        np.testing.assert_array_equal(got, want)  # the network is untouched
    out = run("eval", "--policy", str(tmp_path / "wrapped"), "--episodes", "8", "--noise-levels", "1",
              "--set", "env.episode_s=1", "--set", "env.success_hold_s=0.2", "--out", str(tmp_path / "ev"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert 0.0 <= report["noisy"]["reflex_episodes"] <= 1.0 and "stall reflex" in out.stdout
    train = run("train", "--env", "goal", "--preset", "quick", "--workdir", str(tmp_path / "t"),
                "--set", "env.memory=true", "--set", "env.reflex.enabled=true")
    assert train.returncode == 2 and "not trained with" in train.stderr


def test_the_reflex_rescues_stalls_of_the_shipped_goal_policy():
    """Same 200 evaluation starts (noisy, randomized physics), the shipped network with and
    without the reflex: some episodes it fails alone are successes with the reflex, and the
    rate does not go down."""
    art = ckpt_lib.load_policy(ROOT / "models" / "checkpoints" / "goal")
    plain = dataclasses.replace(art, env_config=dataclasses.replace(art.env_config, reflex=reflex.ReflexConfig()))
    wrapped = with_reflex(plain)
    alone = ev.rollout("goal", plain.env_config, obs_policy_fn(plain), 200, seed=11)
    helped = ev.rollout("goal", wrapped.env_config, obs_policy_fn(wrapped), 200, seed=11)
    rescued = int(np.sum(helped.success & ~alone.success & (helped.reflex_pushes > 0)))
    assert alone.reflex_pushes is None and helped.reflex_pushes.max() >= 1
    assert rescued >= 3, (rescued, alone.summary(), helped.summary())
    assert helped.success.sum() >= alone.success.sum(), (alone.summary(), helped.summary())


def test_the_reflex_experiment_refuses_a_policy_it_cannot_wrap_in_one_line(tmp_path):
    """experiments/stall_reflex.py on the upright policy (no memory, not a goal task): one
    `error:` line, exit 2, no results written."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "stall_reflex.py"), "--policy",
                          str(ROOT / "models" / "checkpoints" / "upright"), "--out", str(tmp_path / "res")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.startswith("error:") and out.stderr.count("\n") == 1, out.stderr
    assert "'upright' policy" in out.stderr and not (tmp_path / "res").exists()
