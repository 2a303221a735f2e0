"""The stage runner: caching, invalidation, failure and resume, the run manifest."""

from __future__ import annotations

import json

import pytest

from orient_jax.pipeline.stages import Runner, Stage, StageFailed, sha256_tree


def _stages(tmp_path, calls, fail_b=False, scale=2):
    src = tmp_path / "input.txt"

    def run_a(ctx):
        calls.append("a")
        value = int(src.read_text()) * ctx.config["scale"]
        (ctx.dir / "a.txt").write_text(str(value))
        return {"value": value}

    def run_b(ctx):
        calls.append("b")
        if fail_b:
            raise RuntimeError("boom")
        (ctx.dir / "out").mkdir(exist_ok=True)
        (ctx.dir / "out" / "b.txt").write_text(ctx.inputs[0].read_text() + "!")
        return {}

    a = Stage("a", run_a, {"scale": scale}, [src], ["a.txt"])
    b = Stage("b", run_b, {}, [tmp_path / "run" / "a" / "a.txt"], ["out"])
    return a, b


def _run(tmp_path, calls, **kw):
    runner = Runner(tmp_path / "run", {"preset": "test"}, log=lambda m: None)
    for stage in _stages(tmp_path, calls, **kw):
        runner.run(stage)
    return runner


def test_second_run_does_nothing_and_changes_rerun_only_what_depends_on_them(tmp_path):
    (tmp_path / "input.txt").write_text("21")
    calls = []
    _run(tmp_path, calls)
    assert calls == ["a", "b"]
    assert (tmp_path / "run" / "b" / "out" / "b.txt").read_text() == "42!"
    _run(tmp_path, calls)
    assert calls == ["a", "b"]  # all cached
    _run(tmp_path, calls, scale=3)  # config change: a reruns, and b because its input changed
    assert calls == ["a", "b", "a", "b"]
    assert (tmp_path / "run" / "b" / "out" / "b.txt").read_text() == "63!"
    (tmp_path / "run" / "b" / "out" / "b.txt").write_text("tampered")  # a damaged output is redone
    _run(tmp_path, calls, scale=3)
    assert calls == ["a", "b", "a", "b", "b"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["a"]["metrics"] == {"value": 63}
    assert manifest["stages"]["b"]["outputs"]["out"] == sha256_tree(tmp_path / "run" / "b" / "out")
    assert manifest["versions"]["jax"]


def test_failing_stage_names_itself_and_the_next_run_resumes_from_it(tmp_path):
    (tmp_path / "input.txt").write_text("1")
    calls = []
    with pytest.raises(StageFailed, match=r"stage 'b' failed \(inputs: .*a\.txt\): RuntimeError: boom"):
        _run(tmp_path, calls, fail_b=True)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["b"]["status"] == "failed"
    assert not (tmp_path / "run" / "b" / "stage.json").exists()
    _run(tmp_path, calls)
    assert calls == ["a", "b", "b"]  # a was cached, b resumed
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]["b"]["status"] == "done"


def test_missing_input_is_a_clear_error(tmp_path):
    runner = Runner(tmp_path / "run", {}, log=lambda m: None)
    with pytest.raises(StageFailed, match="input .*nope.txt does not exist"):
        runner.run(Stage("x", lambda ctx: {}, {}, [tmp_path / "nope.txt"], []))


def test_work_of_other_inputs_is_not_resumed_but_an_interrupted_run_is(tmp_path):
    """A stage that reruns because its inputs or config changed starts from an empty folder (a
    finished or killed run of other inputs is not continued); a run of the same key that was
    interrupted keeps its partial work (a render resumes its shards)."""
    (tmp_path / "input.txt").write_text("1")
    seen, die = [], [False]

    def work(ctx):
        seen.append(sorted(p.name for p in ctx.dir.iterdir()))
        (ctx.dir / f"partial-{ctx.inputs[0].read_text()}").write_text("x")
        if die[0]:
            raise KeyboardInterrupt  # a kill after some work
        (ctx.dir / "out.txt").write_text("done")
        return {}

    stage = Stage("s", work, {}, [tmp_path / "input.txt"], ["out.txt"])
    runner = Runner(tmp_path / "run", {}, log=lambda m: None)
    runner.run(stage)
    (tmp_path / "input.txt").write_text("2")  # new inputs: the finished folder is cleared
    die[0] = True
    with pytest.raises(KeyboardInterrupt):
        runner.run(stage)
    assert seen[-1] == ["started.json"]
    die[0] = False  # the same inputs again: the interrupted run's work is resumed
    runner.run(Stage("s", work, {}, [tmp_path / "input.txt"], ["out.txt"]))
    assert seen[-1] == ["partial-2", "started.json"]
    (tmp_path / "input.txt").write_text("3")  # and a killed run of other inputs is cleared too
    die[0] = True
    with pytest.raises(KeyboardInterrupt):
        runner.run(stage)
    (tmp_path / "input.txt").write_text("4")
    die[0] = False
    runner.run(stage)
    assert seen[-1] == ["started.json"]


def test_render_and_pose_keys_hold_what_changes_their_output(tmp_path):
    """The render stages are keyed by the resolved dataset config (a wider default randomization,
    or `--render-set`, renders again); a bad override is refused before any folder is made; an
    asymmetric object's pose key is what it was, a symmetric one's names its resolved loss."""
    from types import SimpleNamespace

    from orient_jax.data.config import LIGHT_FAMILIES
    from orient_jax.errors import UserError
    from orient_jax.pipeline.run import PRESETS, REPO, _symmetry_key, build_stages
    from orient_jax.pose import presets as pose_presets

    def render_config(overrides=()):
        stages = build_stages(tmp_path / "run", PRESETS["tiny"], 1, None, tuple(overrides))
        return next(s for s in stages if s.name == "render_train").config

    wide, classic = render_config(), render_config(["dr.light_families=studio", "dr.background_families=plain"])
    assert tuple(wide["dataset"]["dr"]["light_families"]) == LIGHT_FAMILIES
    assert wide != classic and tuple(classic["dataset"]["dr"]["light_families"]) == ("studio",)
    with pytest.raises(UserError, match="fog"):
        render_config(["dr.fog=1"])
    assert not (tmp_path / "run").exists()
    quick = pose_presets.preset("quick")
    assert _symmetry_key(None, quick) == {} and _symmetry_key(SimpleNamespace(dir=REPO / "objects" / "bunny"), quick) == {}
    box = _symmetry_key(SimpleNamespace(dir=REPO / "objects" / "box"), quick)
    assert box["symmetry_loss"] == "canonical" and len(box["symmetry"]["discrete"]) == 7
    assert _symmetry_key(SimpleNamespace(dir=REPO / "objects" / "box"),
                         pose_presets.preset("quick", symmetry_loss="min"))["symmetry_loss"] == "min"


def test_training_stages_are_keyed_by_their_resolved_configs(tmp_path):
    """The pose and policy stages are keyed by the configs they train with, not by preset names:
    a preset whose default changes (more steps), or `--pose-set`/`--policy-set`, trains again and
    only that stage; a bad override is one error line before any folder is made."""
    from orient_jax.errors import UserError
    from orient_jax.pipeline.run import PRESETS, build_stages
    from orient_jax.pose import presets as pose_presets
    from orient_jax.rl import presets as policy_presets

    def keys(pose_set=(), policy_set=()):
        stages = build_stages(tmp_path / "run", PRESETS["cpu-quick"], 1, None, (), "none", tuple(pose_set),
                              tuple(policy_set))
        return {s.name: s.config for s in stages}

    default, pose_pinned, policy_pinned = keys(), keys(["steps=2400"]), keys(policy_set=["total_steps=3000000"])
    assert default["train_pose"]["config"]["steps"] == pose_presets.preset("quick").steps
    assert default["train_policy"]["config"]["total_steps"] == policy_presets.preset("full").total_steps
    assert pose_pinned["train_pose"]["config"]["steps"] == 2400 and pose_pinned["train_pose"] != default["train_pose"]
    assert pose_pinned["train_policy"] == default["train_policy"]
    assert policy_pinned["train_policy"]["config"]["total_steps"] == 3_000_000
    assert policy_pinned["train_policy"] != default["train_policy"] and policy_pinned["train_pose"] == default["train_pose"]
    with pytest.raises(UserError, match="stepz"):
        keys(["stepz=3"])
    with pytest.raises(UserError, match="total_stepz"):
        keys(policy_set=["total_stepz=3"])
    assert not (tmp_path / "run").exists()


def test_pose_stage_starts_from_the_shipped_model_unless_told(tmp_path):
    """cpu-quick's pose training starts from the shipped engine pose model, whose fingerprint is
    part of the pose key (a new shipped model retrains); `--pose-init none` trains from scratch;
    a folder without a pose model, or a preset whose net has another shape, is one clear error."""
    from orient_jax.errors import UserError
    from orient_jax.pipeline.run import PRESETS, SHIPPED_POSE, build_stages
    from orient_jax.pose.checkpoint import pose_fingerprint

    def pose_key(preset, pose_init=None):
        stages = build_stages(tmp_path / "run", PRESETS[preset], 1, None, (), pose_init)
        return next(s for s in stages if s.name == "train_pose").config

    assert pose_key("cpu-quick")["init"] == pose_fingerprint(SHIPPED_POSE)
    assert "init" not in pose_key("cpu-quick", "none") and "init" not in pose_key("tiny")
    assert pose_key("cpu-quick", SHIPPED_POSE) == pose_key("cpu-quick")
    with pytest.raises(UserError, match="no pose model"):
        pose_key("cpu-quick", tmp_path)
    with pytest.raises(UserError, match="architecture"):
        pose_key("tiny", SHIPPED_POSE)
