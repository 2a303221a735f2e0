"""Parity: the ONNX graphs compute what JAX computes (open and closed loop, and in the browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orient_jax.export import gate, onnx_export, parity, testing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped():
    from orient_jax.rl.checkpoint import load_policy

    return load_policy(ROOT / "models" / "checkpoints" / "upright")


@pytest.fixture(scope="module")
def files(tmp_path_factory, shipped):
    """policy.onnx (shipped upright), policy_goal.onnx (untrained goal policy), pose.onnx (tiny net),
    policy_goal_memory.onnx (an untrained goal policy with memory)."""
    out = tmp_path_factory.mktemp("parity")
    goal = testing.random_policy_artifact("goal")
    pose = gate.random_pose_source(0, testing.tiny_pose_config())
    onnx_export.export_policy(shipped, out / "policy.onnx")
    onnx_export.export_policy(goal, out / "policy_goal.onnx")
    onnx_export.export_policy(testing.random_policy_artifact("goal", memory=True), out / "policy_goal_memory.onnx")
    onnx_export.export_pose(pose.model, out / "pose.onnx")
    return out, goal, pose


def test_quat_angle_is_precise_sign_and_scale_invariant():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(100, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    angle = np.radians(1e-4)  # 1e-4 deg: far below float32 acos resolution
    axis = rng.normal(size=(100, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    dq = np.concatenate([axis * np.sin(angle / 2), np.full((100, 1), np.cos(angle / 2))], -1)
    x1, y1, z1, w1 = q.T
    x2, y2, z2, w2 = dq.T
    prod = np.stack([w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2], -1)
    np.testing.assert_allclose(parity.quat_angle_deg(q, prod), 1e-4, rtol=1e-6)
    np.testing.assert_allclose(parity.quat_angle_deg(q, -3.0 * prod), 1e-4, rtol=1e-6)
    assert parity.quat_max_abs(q, -q) == (0.0, 100)


def test_policy_cases_cover_the_adversarial_inputs():
    cases = parity.policy_cases(goal=True, n=64)
    assert {"random", "quat_near_zero", "quat_unnormalized", "quat_both_signs", "quat_w_near_zero", "ang_vel_extreme",
            "prev_action_extreme", "target_unnormalized"} <= set(cases)
    assert np.abs(cases["ang_vel_extreme"]["ang_vel"]).min() >= 60.0
    assert np.abs(cases["prev_action_extreme"]["prev_action"]).max() > 1.0
    assert np.linalg.norm(cases["quat_near_zero"]["quat"], axis=-1).min() == 0.0
    assert all(v.dtype == np.float32 and v.shape[0] == 64 for c in cases.values() for v in c.values())


def test_upright_policy_parity_and_closed_loop(shipped, files):
    report = parity.policy_parity(shipped, files[0] / "policy.onnx", episodes=4, seconds=10.0)
    assert report["pass"], report["failures"]
    assert report["max_abs"] <= parity.BOUNDS["action_max_abs"]
    assert set(report["cases"]["real_rollout"]) == {"1", "7", "64"}
    cl = report["closed_loop"]
    assert cl["seconds"] == 10.0 and cl["episodes"] == 4
    assert cl["max_orientation_gap_deg"] <= parity.CLOSED_LOOP["orientation_deg"]
    assert cl["success_jax"] == cl["success_onnx"]
    assert cl["success_rate_jax"] >= 0.75  # the shipped policy solves the task from clean observations


def test_goal_policy_parity(files):
    _, goal, _ = files
    report = parity.policy_parity(goal, files[0] / "policy_goal.onnx", episodes=2, seconds=2.0)
    assert report["pass"], report["failures"]
    assert "target_unnormalized" in report["cases"]


def test_memory_policy_parity_feeds_memory_back(files):
    """A policy with memory: memory_out matches too (empty and extreme memories included), and the
    closed loop passes each step's memory_out back; a graph that drops the memory update fails."""
    from orient_jax.export import contract

    memory_policy = testing.random_policy_artifact("goal", memory=True)
    path = files[0] / "policy_goal_memory.onnx"
    want = contract.policy_contract_for(memory_policy)
    assert want.memory is not None and list(want.outputs) == ["action", "memory_out"]
    assert contract.check_contract(path, want) == []
    report = parity.policy_parity(memory_policy, path, episodes=2, seconds=2.0)
    assert report["pass"], report["failures"]
    assert {"memory_empty", "memory_extreme", "real_rollout"} <= set(report["cases"])
    assert report["memory_max_rel"] <= parity.BOUNDS["memory_max_rel"]
    real = report["cases"]["real_rollout"]
    assert real  # real states carry the memories the closed loop built
    runs = parity.closed_loop("goal", memory_policy.env_config, {"onnx": parity.onnx_runner(path)}, episodes=2,
                              seconds=1.0, memory=want.memory)
    memories = runs["onnx"]["memory"]  # (E, T, K, F + 1): zeros first, then the weights grow
    assert not memories[:, 0].any() and np.all(np.diff(memories[:, :, :, -1], axis=1) > 0)
    # The same graph without the memory (as the memory-less policy) is refused by the contract.
    assert any("names are" in f for f in contract.check_contract(files[0] / "policy_goal.onnx", want))
    # A memory_out that is not the update: the summary names it.
    stale = parity.compare("policy", lambda **f: (parity.onnx_runner(path)(**f)[0], f["memory"]), path,
                           parity.policy_cases(True, 7, memory=want.memory), batches=(7,))
    assert any(f.startswith("memory_out max relative error") for f in stale["failures"]), stale["failures"]


def test_pose_parity(files):
    _, _, pose = files
    report = parity.pose_parity(pose.model, files[0] / "pose.onnx")
    assert report["pass"], report["failures"]
    assert {"random", "black", "white", "saturated", "noisy", "gradient"} <= set(report["cases"])
    assert report["angle_deg"] <= parity.BOUNDS["quat_angle_deg"]


def test_closed_loop_report_catches_a_different_controller(shipped):
    import jax

    from orient_jax.rl.policy import make_policy_fn

    fn = jax.jit(make_policy_fn(shipped))
    runs = parity.closed_loop("upright", shipped.env_config,
                              {"jax": fn, "onnx": lambda **f: 0.3 * np.asarray(fn(**f))}, episodes=2, seconds=2.0)
    report = parity.closed_loop_report(runs, shipped.env_config.control_dt)
    assert not report["pass"]
    assert report["failures"][0].startswith("closed loop: orientation gap")


def test_summary_names_the_worst_case():
    rows = {"random": {"1": {"max_abs": 1e-7}}, "ang_vel_extreme": {"64": {"max_abs": 3e-5}}}
    out = parity.summarize("policy", rows)
    assert out["failures"] == ["action max abs error 3e-05 > 1e-05 (case ang_vel_extreme, batch 64)"]


@pytest.mark.browser
def test_browser_parity(files):
    from orient_jax.export import browser, contract

    why = browser.available()
    if why:
        pytest.skip(why)
    memory = contract.policy_contract_for(testing.random_policy_artifact("goal", memory=True))
    report = browser.browser_parity(files[0], {"policy": contract.policy_contract(False),
                                               "policy_goal": contract.policy_contract(True),
                                               "policy_goal_memory": memory,
                                               "pose": contract.pose_contract(32, 32)}, batches=(1, 7))
    assert report["pass"], report["failures"]
    assert set(report["models"]) == {"policy", "policy_goal", "policy_goal_memory", "pose"}
    assert report["models"]["policy_goal_memory"]["memory_max_rel"] <= parity.BOUNDS["memory_max_rel"]
    assert report["models"]["pose"]["angle_deg"] <= parity.BOUNDS["quat_angle_deg"]


def _synthetic_run(angles_deg, success):
    """A closed-loop record whose orientation is a rotation about z by `angles_deg` (E, T)."""
    half = np.radians(np.asarray(angles_deg, float)) / 2
    quat = np.stack([np.zeros_like(half), np.zeros_like(half), np.sin(half), np.cos(half)], -1)
    success = np.asarray(success)
    return {"quat": quat, "action": np.zeros(half.shape + (3,)), "success": success,
            "time_to_success_s": np.where(success, 1.0, np.nan)}


def test_closed_loop_gate_compares_each_episode_until_it_turns_chaotic():
    zeros = np.zeros((4, 10))
    drift = zeros.copy()
    drift[0, 5:] = 20.0  # episode 0 diverges...
    jax_run = _synthetic_run(zeros, [True, True, False, True])
    chaos = _synthetic_run(drift, [False, True, False, True])  # ...under a 1e-6 action jitter too
    onnx = _synthetic_run(drift, [False, True, False, True])
    report = parity.closed_loop_report({"jax": jax_run, "onnx": onnx, "jax_jittered": chaos}, 0.02)
    assert report["pass"], report["failures"]
    assert report["chaotic_episodes"] == [0] and report["max_orientation_gap_all_deg"] > 19
    # Without the chaos reference the same runs fail; a gap in a calm episode always fails.
    assert not parity.closed_loop_report({"jax": jax_run, "onnx": onnx}, 0.02)["pass"]
    calm_gap = drift.copy()
    calm_gap[2, 8:] = 0.5
    bad = parity.closed_loop_report({"jax": jax_run, "onnx": _synthetic_run(calm_gap, [False, True, False, True]),
                                     "jax_jittered": chaos}, 0.02)
    assert not bad["pass"] and "orientation gap 0.5" in bad["failures"][0]
    # One jitter draw may leave a chaotic episode calm: any reference run that moves it sets it aside.
    calm = _synthetic_run(zeros, [True, True, False, True])
    assert not parity.closed_loop_report({"jax": jax_run, "onnx": onnx, "jax_jittered_0": calm}, 0.02)["pass"]
    either = parity.closed_loop_report({"jax": jax_run, "onnx": onnx, "jax_jittered_0": calm, "jax_jittered_1": chaos}, 0.02)
    assert either["pass"] and either["chaotic_episodes"] == [0] and either["chaos_runs"] == 2
    # A chaotic episode is still compared before it turns: a gap there fails.
    early = drift.copy()
    early[0, 2:5] = 0.5  # the ONNX run leaves episode 0 while the jittered one still follows
    early_bad = parity.closed_loop_report({"jax": jax_run, "onnx": _synthetic_run(early, [False, True, False, True]),
                                           "jax_jittered": chaos}, 0.02)
    assert not early_bad["pass"] and "orientation gap 0.5" in early_bad["failures"][0]
    assert report["calm_prefix_s"] == [0.1, 0.2, 0.2, 0.2] and report["compared_fraction"] == 35 / 40
    # Every episode chaotic, but late: their calm prefixes are most of the run, and they agree.
    late = np.zeros((4, 10))
    late[:, 7:] = 0.05  # a few hundredths of a degree, as a barely trained policy tumbling a chair
    late_run = _synthetic_run(late, [False, False, False, False])
    tumbling = parity.closed_loop_report({"jax": _synthetic_run(zeros, [False] * 4), "onnx": late_run,
                                          "jax_jittered": late_run}, 0.02)
    assert tumbling["pass"] and tumbling["chaotic_episodes"] == [0, 1, 2, 3] and tumbling["compared_fraction"] == 0.7
    # Nothing left to compare when every episode is chaotic from the start.
    all_chaos = _synthetic_run(np.full((4, 10), 30.0), [True, True, False, True])
    none_left = parity.closed_loop_report({"jax": jax_run, "onnx": all_chaos, "jax_jittered": all_chaos}, 0.02)
    assert not none_left["pass"] and "only 0% of the control steps" in none_left["failures"][0]
