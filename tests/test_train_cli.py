"""Training loop and CLI: kill -> resume gives the same parameters; user errors are one line."""

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from orient_jax import sim
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl.presets import preset
from orient_jax.rl.train import RunConfig, train_and_evaluate

CLI = [sys.executable, "-m", "orient_jax.cli"]
UPDATES = 40
TINY = ["--preset", "tiny", "--set", f"ppo.total_steps={32 * 16 * UPDATES}"]


def _run_cli(*args, timeout=600, **kw):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, **kw)


def _leaves(artifact):
    return [np.asarray(x) for x in jax.tree.leaves((artifact.actor_params, artifact.obs_norm))]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One uninterrupted tiny run: (its folder, its policy), shared by the tests below."""
    workdir = tmp_path_factory.mktemp("ref") / "run"
    policy = train_and_evaluate(RunConfig(env="upright", checkpoint_every=5), sim.default_config("upright"),
                                preset("tiny", total_steps=32 * 16 * UPDATES), workdir, show_progress=False)
    return workdir, policy


@pytest.mark.slow
def test_kill_then_resume_gives_the_same_parameters(tmp_path, reference_run):
    ref = reference_run[1]
    # Same run, SIGKILLed once a mid-run checkpoint is on disk, then started again.
    workdir = tmp_path / "killed"
    cmd = CLI + ["train", *TINY, "--workdir", str(workdir), "--checkpoint-every", "5", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (workdir / "checkpoints" / "10").is_dir():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (workdir / "policy").exists(), "the run finished before it could be killed"
    resumed = _run_cli("train", *TINY, "--workdir", str(workdir), "--checkpoint-every", "5", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr
    got = ckpt_lib.load_policy(workdir / "policy")
    for a, b in zip(_leaves(ref), _leaves(got), strict=True):
        np.testing.assert_array_equal(a, b)
    # The metrics log covers every update exactly once after the resume.
    updates = [json.loads(l)["update"] for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert sorted(set(updates)) == list(range(1, UPDATES + 1))


def test_cli_user_errors_are_one_line(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "policy.json").write_text("{not json")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "policy.json").write_text(json.dumps({"kind": "orient_jax_policy", "format": 1, "env": "upright",
                                                     "env_config": {}, "ppo_config": {}}))
    cases = [
        (["train", "--env", "nope"], "unknown env"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "--set", "ppo.num_envs=0"], "out of range"),
        (["train", "--set", "env.noise.scale=abc"], "cannot parse"),
        (["train", "--set", "bogus=1"], "must start with"),
        (["eval", "--policy", str(tmp_path / "missing")], "no policy checkpoint"),
        (["eval", "--policy", str(broken)], "corrupt policy metadata"),
        (["eval", "--policy", str(partial)], "corrupt or unreadable"),
    ]
    for args, message in cases:
        out = _run_cli(*args, timeout=120)
        assert out.returncode == 2, (args, out.stderr[-2000:])
        lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_cli_help_explains_every_command():
    out = _run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "eval", "quickstart", "asset", "config"):
        assert command in out.stdout
    out = _run_cli("config", "--env", "goal")
    assert out.returncode == 0 and "noise.scale = 1.0  # Multiplies every sampled error angle" in out.stdout


def test_eval_writes_the_report_and_the_plot(tmp_path):
    """`orient-jax eval` on the shipped upright policy, at smoke scale."""
    # Three sweep levels, not the default five: each level compiles its own rollout (CI time).
    out = _run_cli("eval", "--episodes", "8", "--noise-levels", "0", "1", "4", "--out", str(tmp_path / "eval"),
                   timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["noisy"]["episodes"] == 8 and report["noisy"]["success_rate"] >= 0.75
    assert set(report["success_vs_noise_scale"]) == {"0.0", "1.0", "4.0"}
    png = (tmp_path / "eval" / "eval.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert "upright evaluation" in out.stdout


def test_warm_start_continues_from_another_run(tmp_path, reference_run):
    from orient_jax.rl.train import warm_start_params
    from orient_jax.errors import UserError

    stage1, source = reference_run
    params = warm_start_params(stage1, "upright", preset("tiny"))
    for a, b in zip(_leaves(source), [np.asarray(x) for x in jax.tree.leaves((params.actor, params.obs_norm))], strict=True):
        np.testing.assert_array_equal(a, b)
    # Through the CLI: stage 2 starts from stage 1 and says so; its first update moves on from there.
    out = _run_cli("train", "--preset", "tiny", "--set", "env.upright_start_fraction=0.3", "--set", "env.rest_start_fraction=0.3",
                   "--workdir", str(tmp_path / "stage2"),
                   "--init-from", str(stage1), "--warm-start-std", "2.0", "--no-progress")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "warm start" in out.stderr
    first = json.loads((tmp_path / "stage2" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["update"] == 1
    assert first["policy/std"] > 1.5  # raised from stage 1's ~0.6 for fresh exploration
    # Wrong task, other network sizes, not a run folder: one clear error each.
    with pytest.raises(UserError, match="cannot start a 'goal' run"):
        warm_start_params(stage1, "goal", preset("tiny"))
    with pytest.raises(UserError, match="actor_hidden"):
        warm_start_params(stage1, "upright", preset("tiny", actor_hidden=(64, 64)))
    bad = _run_cli("train", "--preset", "tiny", "--workdir", str(tmp_path / "stage3"), "--init-from", str(tmp_path), "--no-progress")
    assert bad.returncode != 0 and "not a training run folder" in bad.stderr and "Traceback" not in bad.stderr
