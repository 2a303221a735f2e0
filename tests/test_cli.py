"""The CLI's face: `--help`, one-line user errors, `orient-jax eval`'s report and plot."""

import json

from cli_helpers import run_cli


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
        (["eval", "--set", "env.nope=1"], "unknown config key"),
        # Documented once, removed since: one line naming what replaces it.
        (["soup", "a/policy", "b/policy", "--out", "c"], "`orient-jax soup` was removed"),
        (["quickstart", "--preset", "tiny"], "orient-jax pipeline --preset cpu-quick"),
        (["train", "--set", "ppo.noise_hold_steps=8"], "'noise_hold_steps' was removed"),
        (["train", "--env", "goal", "--set", "env.hard_target_fraction=0.3"], "was removed"),
    ]
    for args, message in cases:
        out = run_cli(*args, timeout=120)
        assert out.returncode == 2, (args, out.stderr[-2000:])
        lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_cli_help_explains_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert {"train", "eval", "reflex", "config", "data", "train-pose", "eval-pose", "export", "parity",
            "serve", "pipeline", "bundle", "deploy"} <= listed
    assert not listed & {"soup", "quickstart"}  # removed: not offered, but still answered (above)
    out = run_cli("config", "--env", "goal")
    assert out.returncode == 0 and "noise.scale = 1.0  # Multiplies every sampled error angle" in out.stdout


def test_eval_writes_the_report_and_the_plot(tmp_path):
    """`orient-jax eval` on the shipped upright policy, at smoke scale."""
    out = run_cli("eval", "--episodes", "8", "--noise-levels", "0", "1", "4", "--out", str(tmp_path / "eval"),
                  timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["noisy"]["episodes"] == 8 and report["noisy"]["success_rate"] >= 0.75
    assert report["clean"]["episodes"] == report["nominal"]["episodes"] == 8
    assert set(report["success_vs_noise_scale"]) == {"0.0", "1.0", "4.0"}
    png = (tmp_path / "eval" / "eval.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert "upright evaluation" in out.stdout


def test_eval_can_change_the_conditions(tmp_path):
    """`eval --set`: the same policy under another env config (here a hold as long as the
    episode, which no dropped start can meet): the report says so and the numbers follow."""
    out = run_cli("eval", "--episodes", "4", "--noise-levels", "1", "--set", "env.episode_s=2",
                  "--set", "env.success_hold_s=2", "--out", str(tmp_path / "eval"), timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["overrides"] == ["env.episode_s=2", "env.success_hold_s=2"]
    assert report["noisy"]["success_rate"] == report["clean"]["success_rate"] == 0.0
    assert "except: env.episode_s=2 env.success_hold_s=2" in out.stdout
