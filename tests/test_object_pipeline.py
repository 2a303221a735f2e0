"""An imported object through the product: `--object DIR` on train, eval, export and the
pipeline's stages (orient_jax/object_ref.py, sim.default_config / sim.load with an MJCF, the
policy artifact's MJCF, the export's object assets, the pipeline's object-keyed stages).

The object is the wedge of `object_helpers.py`. The fast tests need no training: object-relative
defaults, the policy artifact's copy of the MJCF, the export's and the pipeline's wiring, and bad
object folders (one error line, nothing run). The slow ones train the `tiny` preset on it, then
evaluate and export that policy. The whole `tiny` pipeline for it, its bundle's page and a
gallery bundle are in test_pipeline.py (one pipeline run for the suite).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from object_helpers import import_wedge
from orient_jax import object_ref, sim
from orient_jax.assets import mjcf as engine_mjcf
from orient_jax.errors import UserError

REPO = Path(__file__).resolve().parent.parent
@pytest.fixture(scope="module")
def wedge(tmp_path_factory) -> Path:
    return import_wedge(tmp_path_factory.mktemp("objects"))


def copy_object(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def heavier_mjcf(text: str, factor: float) -> str:
    """The MJCF with the body's mass and inertia times `factor` (same shape: same accelerations
    under gravity, `factor` x slower angular accelerations under a torque)."""
    def scale(match):
        return " ".join(f"{float(v) * factor:.9g}" for v in match.group(1).split())

    def inertial(match):
        tag = re.sub(r'\bmass="([^"]+)"', lambda m: f'mass="{scale(m)}"', match.group(0))
        return re.sub(r'\bfullinertia="([^"]+)"', lambda m: f'fullinertia="{scale(m)}"', tag)

    text, n = re.subn(r"<inertial [^>]*>", inertial, text)
    assert n == 1
    return text


# ----- no training ---------------------------------------------------------------------------
def test_env_defaults_are_relative_to_the_object_and_the_engine_keeps_its_own(wedge):
    obj = object_ref.resolve(wedge)
    for name in sim.ALL_ENVS:  # the engine's MJCF gives back exactly the defaults it always had
        assert sim.default_config(name, engine_mjcf.MJCF_PATH) == sim.default_config(name)
    assert sim.default_config("upright").spawn_xy == 0.05 and sim.default_config("upright").max_ang_vel == 60.0
    cfg = sim.default_config("upright", obj.mjcf)
    env = sim.load("upright", mjcf_path=obj.mjcf)  # its default config is the object's
    radius = env.body.bounding_radius
    assert radius == pytest.approx(obj.meta["bounding_radius_m"], abs=1e-4)
    assert env.config == cfg and cfg.spawn_xy == round(0.228 * radius, 3) and cfg.spawn_xy < 0.05
    assert cfg.max_ang_vel == round(8.97 * np.sqrt(9.81 / radius)) and cfg.max_ang_vel > 60
    assert env.body.mass == pytest.approx(obj.meta["mass"]["kg"], rel=1e-5) and env.body.name == "wedge"
    # The arena comes from the MJCF: the object's is scaled to its size, the engine's is 0.5 m.
    assert env.arena_half_size == pytest.approx(obj.meta["arena"]["half_size_m"])
    assert sim.load("upright").arena_half_size == pytest.approx(engine_mjcf.PhysicsConfig().arena_half_size)
    with pytest.raises(UserError, match="would touch the arena's walls"):
        sim.load("upright", dataclasses.replace(cfg, spawn_xy=0.25), mjcf_path=obj.mjcf)


def test_the_policy_artifact_carries_its_mjcf(wedge, tmp_path):
    from orient_jax.export.testing import random_policy_artifact
    from orient_jax.rl import checkpoint

    engine = random_policy_artifact("upright")
    checkpoint.save_policy(tmp_path / "engine", engine)
    meta = json.loads((tmp_path / "engine" / "policy.json").read_text())
    assert not {"mjcf", "mjcf_sha256", "object_dir"} & set(meta)  # an engine policy is as it always was
    assert checkpoint.load_policy(tmp_path / "engine").mjcf_path == ""

    art = dataclasses.replace(engine, mjcf_path=str(wedge / "object.xml"), object_dir=str(wedge))
    checkpoint.save_policy(tmp_path / "policy", art)
    meta = json.loads((tmp_path / "policy" / "policy.json").read_text())
    assert meta["mjcf"] == "object.xml" and meta["object_dir"] == str(wedge)
    assert (tmp_path / "policy" / "object.xml").read_bytes() == (wedge / "object.xml").read_bytes()
    moved = tmp_path / "elsewhere"  # the policy folder carries its physics wherever it goes
    shutil.move(tmp_path / "policy", moved)
    loaded = checkpoint.load_policy(moved)
    assert loaded.mjcf_path == str(moved / "object.xml") and loaded.object_dir == str(wedge)
    (moved / "object.xml").write_text(heavier_mjcf((moved / "object.xml").read_text(), 2.0))
    with pytest.raises(UserError, match="differs from the MJCF the policy was trained on"):
        checkpoint.load_policy(moved)
    (moved / "object.xml").unlink()
    with pytest.raises(UserError, match="object.xml, which is missing"):
        checkpoint.load_policy(moved)


def test_export_refuses_a_policy_trained_on_other_physics(wedge, tmp_path):
    from orient_jax.export import gate
    from orient_jax.export.testing import random_policy_artifact

    obj = object_ref.resolve(wedge)
    engine = random_policy_artifact("upright")
    with pytest.raises(UserError, match="policy was trained on the built-in engine, not on the object.xml"):
        gate.export_models(tmp_path / "a", policy=engine, obj=obj)
    on_wedge = dataclasses.replace(engine, mjcf_path=str(obj.mjcf), object_dir=str(wedge))
    with pytest.raises(UserError, match="policy was trained on the object in .*, not on the engine.xml"):
        gate.export_models(tmp_path / "b", policy=on_wedge, mjcf_path=engine_mjcf.MJCF_PATH)
    goal = random_policy_artifact("goal")
    with pytest.raises(UserError, match="one policy was trained on an imported object, the other on the built-in"):
        gate.export_models(tmp_path / "c", policy=on_wedge, goal_policy=goal)
    assert not any((tmp_path / name).exists() and any((tmp_path / name).iterdir()) for name in "abc")


def test_pipeline_stages_depend_on_the_object(wedge, tmp_path):
    """Without rendering: the renders depend on the object's look and camera, the policy and the
    export on all its files (their cache keys change with the object); a new torque limit reruns
    the policy, not the renders; the engine's stages are as they were."""
    from orient_jax.pipeline.run import PRESETS, REPO as PIPELINE_REPO, build_stages
    from orient_jax.pipeline.stages import Runner

    obj = object_ref.resolve(copy_object(wedge, tmp_path / "wedge"))
    preset = PRESETS["tiny"]
    stages = {s.name: s for s in build_stages(tmp_path / "run", preset, 1, obj)}
    engine = {s.name: s for s in build_stages(tmp_path / "engine", preset, 1)}
    assert set(stages) == set(engine)
    files = {str(p) for p in obj.files}
    for name in ("train_policy", "export"):
        assert files <= {str(p) for p in stages[name].inputs}, name
        assert not files & {str(p) for p in engine[name].inputs}, name
    for name in ("render_train", "render_val"):
        assert stages[name].inputs == [obj.glb], name
    assert engine["render_train"].inputs == [PIPELINE_REPO / "orient_jax" / "assets" / "engine.glb"]
    keyed = engine["render_train"].config
    assert {k: keyed[k] for k in ("images", "seed", "samples")} == {"images": preset.train_images, "seed": 1,
                                                                     "samples": preset.samples}
    assert keyed["dataset"]["num_images"] == preset.train_images and "object_dir" not in keyed["dataset"]
    # the object's renders: the same dataset config (its path left out), plus its look
    assert stages["render_train"].config == {**keyed, "object": "wedge", "camera": obj.camera}

    runner = Runner(tmp_path / "run", {}, log=lambda m: None)
    (tmp_path / "run" / "eval_pose").mkdir(parents=True)
    (tmp_path / "run" / "eval_pose" / "pose_error_model.json").write_text("{}")  # the policy stage's other input
    keys = lambda: {name: runner.key(stages[name])[0] for name in ("render_train", "train_policy")}  # noqa: E731
    before = keys()
    assert keys() == before
    # Other physics (here: mass and torque limit in both files): the policy reruns, the renders not.
    meta = json.loads((obj.dir / "object.json").read_text())
    meta["torque"]["limit_nm"] *= 2
    (obj.dir / "object.json").write_text(json.dumps(meta))
    physics = keys()
    assert physics["render_train"] == before["render_train"] and physics["train_policy"] != before["train_policy"]
    with open(obj.glb, "ab") as f:  # another look: the renders (and so everything after) rerun
        f.write(b"\0")
    assert keys()["render_train"] != before["render_train"]


def test_a_bad_object_folder_is_one_line_and_nothing_runs(wedge, tmp_path):
    incomplete = copy_object(wedge, tmp_path / "incomplete")
    (incomplete / "visual.glb").unlink()
    stale = copy_object(wedge, tmp_path / "stale")
    (stale / "object.xml").write_text(heavier_mjcf((stale / "object.xml").read_text(), 2.0))
    cases = [(incomplete, "incomplete: visual.glb missing"), (stale, "is stale: object.xml does not match object.json"),
             (tmp_path / "nowhere", "no such folder")]
    for folder, message in cases:
        root = tmp_path / f"run-{folder.name}"
        out = run_cli("pipeline", "--object", str(folder), "--preset", "tiny", "--no-serve", "--root", str(root),
                      "--dist", str(tmp_path / "dist"))
        assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        assert not root.exists() and not (tmp_path / "dist").exists()
    out = run_cli("train", "--preset", "tiny", "--object", str(stale), "--workdir", str(tmp_path / "train"))
    assert out.returncode == 2 and "is stale" in out.stderr and not (tmp_path / "train").exists()


# ----- trained on the object -----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(wedge, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("train") / "run"
    out = run_cli("train", "--preset", "tiny", "--object", str(wedge), "--workdir", str(workdir), "--no-progress")
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_training_records_the_object_and_the_policy_carries_its_mjcf(wedge, trained):
    obj = object_ref.resolve(wedge)
    record = json.loads((trained / "config.json").read_text())
    assert record["run"]["object_dir"] == str(wedge) and record["object"] == obj.record()
    assert record["env"]["spawn_xy"] == sim.default_config("upright", obj.mjcf).spawn_xy
    policy = json.loads((trained / "policy" / "policy.json").read_text())
    assert policy["mjcf"] == "object.xml" and policy["object_dir"] == str(wedge)
    assert (trained / "policy" / "object.xml").read_bytes() == obj.mjcf.read_bytes()
    # Resuming on a changed object is refused (the run record holds its hash).
    changed = copy_object(wedge, trained.parent / "changed")
    with open(changed / "visual.glb", "ab") as f:
        f.write(b"\0")
    shutil.copytree(trained, trained.parent / "resume")
    record["run"]["object_dir"] = str(changed)
    record["object"]["dir"] = str(changed)
    (trained.parent / "resume" / "config.json").write_text(json.dumps(record))
    out = run_cli("train", "--preset", "tiny", "--object", str(changed), "--workdir", str(trained.parent / "resume"))
    assert out.returncode == 2 and "holds a run with a different config" in out.stderr, out.stderr[-2000:]


@pytest.mark.slow
def test_evaluation_simulates_the_policys_own_mjcf(trained, tmp_path):
    """A heavier copy of the object falls the same but turns slower under the same torque (its
    MJCF's mass is the env's); the policy's evaluation runs whichever MJCF its folder carries."""
    import jax

    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.sim.base import RandomizationConfig

    heavy_dir = tmp_path / "heavy"
    shutil.copytree(trained / "policy", heavy_dir)
    (heavy_dir / "object.xml").write_text(heavier_mjcf((heavy_dir / "object.xml").read_text(), 4.0))
    meta = json.loads((heavy_dir / "policy.json").read_text())
    from orient_jax.fileio import sha256_file
    meta["mjcf_sha256"] = sha256_file(heavy_dir / "object.xml")
    (heavy_dir / "policy.json").write_text(json.dumps(meta))

    light, heavy = load_policy(trained / "policy"), load_policy(heavy_dir)
    cfg = dataclasses.replace(light.env_config, randomization=RandomizationConfig(enabled=False))
    envs = [sim.load(a.env_name, cfg, mjcf_path=a.mjcf_path) for a in (light, heavy)]
    assert envs[1].body.mass == pytest.approx(4 * envs[0].body.mass)
    start = envs[0].reset(jax.random.PRNGKey(0)).data  # in the air, clear of the floor for > 40 ms
    ctrl = envs[0].action_scale * jax.numpy.asarray([1.0, 0.5, 0.0])
    after = [jax.jit(env._physics)(env.mjx_model, start, ctrl) for env in envs]  # one control step
    after = [jax.jit(env._physics)(env.mjx_model, a, ctrl) for env, a in zip(envs, after)]  # and another
    z = [float(a.qpos[2]) for a in after]
    spin = [float(np.linalg.norm(a.qvel[3:6])) for a in after]
    assert z[0] < float(start.qpos[2]) - 0.005 and z[0] == pytest.approx(z[1], abs=1e-6)  # falls the same
    assert spin[0] > 0.5 and spin[1] == pytest.approx(spin[0] / 4, rel=0.02)  # turns 4x slower

    # `orient-jax eval` of the policy, a few episodes, and which MJCF its rollouts are built on.
    out = run_cli("eval", "--policy", str(trained / "policy"), "--episodes", "6", "--noise-levels", "1",
                  "--out", str(tmp_path / "eval"))
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["object_dir"] == json.loads((trained / "config.json").read_text())["run"]["object_dir"]
    assert report["noisy"]["episodes"] == 6 and report["nominal"]["episodes"] == 6
    out = ["--episodes", "2", "--out", str(tmp_path / "spied")]
    assert built_on(["eval", "--policy", str(heavy_dir), *out]) == str(heavy_dir / "object.xml")
    assert built_on(["eval", *out]) is None  # the shipped engine policy: the built-in engine


class _Built(Exception):
    pass


def built_on(argv: list[str]):
    """The MJCF `orient-jax argv` builds its rollouts' env on (stopped there, before compiling)."""
    from orient_jax import cli

    seen = []

    def spy(name, config=None, config_overrides=(), mjcf_path=None):
        seen.append(mjcf_path)
        raise _Built

    patch = pytest.MonkeyPatch()
    patch.setattr(sim, "load", spy)
    try:
        with pytest.raises(_Built):
            cli.main(argv)
    finally:
        patch.undo()
    return seen[0]


@pytest.mark.slow
def test_export_ships_the_object_and_passes_parity(wedge, trained, tmp_path):
    """No --object: the export takes the object from the policy (the MJCF it carries, found in
    the object folder it records, with that folder's visual.glb and camera)."""
    obj = object_ref.resolve(wedge)
    out = run_cli("export", "--policy", str(trained / "policy"), "--pose-random-init", "--out", str(tmp_path / "models"),
                  "--episodes", "2")
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    models = tmp_path / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["asset"]["mjcf"] == "object.xml" and manifest["asset"]["glb"] == "object.glb"
    assert (models / "object.xml").read_bytes() == obj.mjcf.read_bytes()
    assert (models / "object.glb").read_bytes() == obj.glb.read_bytes()
    assert not (models / "engine.xml").exists() and not (models / "engine.glb").exists()
    assert manifest["camera"] == obj.camera
    section = manifest["object"]
    assert section["name"] == section["body"] == "wedge"
    assert section["mass_kg"] == pytest.approx(obj.meta["mass"]["kg"], rel=1e-5)
    assert section["spawn"]["xy"] == sim.default_config("upright", obj.mjcf).spawn_xy
    assert "policy_goal" not in manifest["models"]  # the engine's goal policy is not the object's
    assert manifest["source_object"] == obj.record()
    parity = json.loads((models / "parity.json").read_text())
    assert parity["pass"] and parity["parity"]["policy"]["closed_loop"]["simulator"] == "C MuJoCo (object.xml)"
    assert manifest["models"]["policy"]["config"]["mjcf"]["sha256"] == manifest["asset"]["mjcf_sha256"]
    # The same export with --object for a policy of the engine is refused, with one line.
    bad = run_cli("export", "--object", str(wedge), "--pose-random-init", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "trained on the built-in engine" in bad.stderr, bad.stderr[-2000:]
