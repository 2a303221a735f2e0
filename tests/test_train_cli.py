"""Training through the CLI: kill -> resume gives the same parameters; warm starts continue a run."""

import json
import signal
import subprocess
import time

import jax
import numpy as np
import pytest

from orient_jax import sim
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl.presets import preset
from orient_jax.rl.train import RunConfig, train_and_evaluate

from cli_helpers import CLI, run_cli

UPDATES = 40
TINY = ["--preset", "tiny", "--set", f"ppo.total_steps={32 * 16 * UPDATES}"]


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
    resumed = run_cli("train", *TINY, "--workdir", str(workdir), "--checkpoint-every", "5", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr
    got = ckpt_lib.load_policy(workdir / "policy")
    for a, b in zip(_leaves(ref), _leaves(got), strict=True):
        np.testing.assert_array_equal(a, b)
    # The metrics log covers every update exactly once after the resume.
    updates = [json.loads(l)["update"] for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert sorted(set(updates)) == list(range(1, UPDATES + 1))


def test_warm_start_continues_from_another_run(tmp_path, reference_run):
    from orient_jax.rl.train import warm_start_params
    from orient_jax.errors import UserError

    stage1, source = reference_run
    params = warm_start_params(stage1, "upright", preset("tiny"))
    for a, b in zip(_leaves(source), [np.asarray(x) for x in jax.tree.leaves((params.actor, params.obs_norm))], strict=True):
        np.testing.assert_array_equal(a, b)
    # Through the CLI: stage 2 starts from stage 1 and says so; its first update moves on from there.
    out = run_cli("train", "--preset", "tiny", "--set", "env.spawn_xy=0.04", "--set", "env.noise.scale=1.5",
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
    bad = run_cli("train", "--preset", "tiny", "--workdir", str(tmp_path / "stage3"), "--init-from", str(tmp_path), "--no-progress")
    assert bad.returncode != 0 and "not a training run folder" in bad.stderr and "Traceback" not in bad.stderr


def test_warm_start_reads_only_the_parameters(tmp_path, reference_run):
    """A run saved by an older version (here: env states without the per-episode noise levels)
    still starts the next stage: a warm start restores the parameters and nothing else."""
    import shutil

    from orient_jax.rl.ppo import PPO
    from orient_jax.rl.train import warm_start_params

    stage1, source = reference_run
    old = tmp_path / "old_run"
    old.mkdir()
    shutil.copy(stage1 / "config.json", old / "config.json")
    manager = ckpt_lib.checkpoint_manager(stage1, 1)
    step = manager.latest_step()
    state = ckpt_lib.restore_train_state(manager, step, PPO(sim.load("upright"), preset("tiny")).abstract_state())
    info = {k: v for k, v in state.env_state.info.items() if k != "noise"}
    state = state.replace(env_state=state.env_state.replace(info=info))
    old_manager = ckpt_lib.checkpoint_manager(old, 1)
    ckpt_lib.save_train_state(old_manager, step, state, force=True)
    old_manager.wait_until_finished()
    params = warm_start_params(old, "upright", preset("tiny"))
    for a, b in zip(_leaves(source), [np.asarray(x) for x in jax.tree.leaves((params.actor, params.obs_norm))], strict=True):
        np.testing.assert_array_equal(a, b)


def test_warm_start_from_a_policy_artifact(tmp_path, reference_run):
    """A shipped policy (actor + normalizer, no critic) starts a fine-tuning run: the critic is
    fresh, and `ppo.actor_frozen_updates` holds the actor exactly still while it learns."""
    from orient_jax.errors import UserError
    from orient_jax.rl.ppo import PPO
    from orient_jax.rl.train import warm_start_params

    stage1, source = reference_run
    fresh = PPO(sim.load("upright"), preset("tiny")).init(jax.random.PRNGKey(3)).params
    params = warm_start_params(stage1 / "policy", "upright", preset("tiny"), fresh=fresh)
    for a, b in zip(_leaves(source), [np.asarray(x) for x in jax.tree.leaves((params.actor, params.obs_norm))], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(fresh.critic), jax.tree.leaves(params.critic), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match="cannot start a 'goal' run"):
        warm_start_params(stage1 / "policy", "goal", preset("tiny"), fresh=fresh)

    # Another actor shape is refused in one line (a memory's new inputs are the one growth:
    # tests/test_memory.py).
    for hidden in ((8, 8), (64, 64), (32, 32, 32)):
        cfg = preset("tiny", actor_hidden=hidden)
        with pytest.raises(UserError, match="actor_hidden"):
            warm_start_params(stage1 / "policy", "upright", cfg, fresh=PPO(sim.load("upright"), cfg).init(jax.random.PRNGKey(3)).params)

    # Through the CLI: 3 updates with the actor frozen, then one more. The checkpoint after
    # update 3 holds exactly the source's actor (only the normalizer and critic learned); the
    # final policy has moved on.
    workdir = tmp_path / "finetune"
    out = run_cli("train", "--preset", "tiny", "--set", f"ppo.total_steps={32 * 16 * 4}", "--set", "ppo.actor_frozen_updates=3",
                  "--checkpoint-every", "1", "--workdir", str(workdir), "--init-from", str(stage1 / "policy"), "--no-progress")
    assert out.returncode == 0, out.stderr[-3000:]
    frozen = ckpt_lib.restore_params(ckpt_lib.checkpoint_manager(workdir, 1), 3,
                                     PPO(sim.load("upright"), preset("tiny")).abstract_state().params).actor
    for a, b in zip(jax.tree.leaves(source.actor_params), jax.tree.leaves(frozen), strict=True):
        np.testing.assert_array_equal(a, b)
    moved = jax.tree.leaves(ckpt_lib.load_policy(workdir / "policy").actor_params)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(frozen), moved))
