"""`orient-jax pipeline`: data -> pose -> pose error model -> policy -> export + parity -> bundle.

Every stage is a function of its config and inputs (see `stages.py`): rerunning an unchanged
stage is a no-op, a killed or failed stage resumes on the next run, and `RUN/manifest.json`
records config, versions, input/output hashes, metrics and durations of each. The policy is
trained against the error model the pose evaluation measured, so it sees the noise the vision
model really makes. The last stage assembles `dist/`, the static page with its models.

`--object DIR` runs every stage for an imported object instead of the built-in engine: the
renders show it (`DatasetConfig.object_dir`), the policy trains on its MJCF with the env defaults
relative to its size, the export ships its object.xml and visual.glb. The renders depend on the
object's look and camera (visual.glb, object.json's camera), the policy and the export on all
its files (object.json, object.xml, visual.glb), so a changed object reruns what depends on it:
a new torque limit retrains the policy, not the pose model. The folder is checked before any
stage runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from orient_jax.errors import UserError
from orient_jax.fileio import publish_dir
from orient_jax.pipeline.stages import Runner, Stage, sha256_file, versions

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"


@dataclasses.dataclass(frozen=True)
class PipelinePreset:
    train_images: int
    val_images: int
    samples: int
    """Cycles samples per pixel of the renders."""
    pose_preset: str
    policy_preset: str
    policy_eval_episodes: int
    goal_preset: str | None = None
    """Also train and ship the goal-conditioned policy at this preset (None: skip)."""
    closed_loop_s: float | None = None
    """Length of the export's closed-loop parity episodes (None: a full episode)."""
    pose_overrides: tuple[str, ...] = ()
    policy_overrides: tuple[str, ...] = ()
    pose_init: bool = True
    """Start the pose model from the shipped engine pose model's weights (its features of shape,
    shading and silhouette at 128 px carry over to another object: experiments/pose_transfer.py)
    rather than from a fresh initialisation; needs the shipped architecture."""


SHIPPED_POSE = REPO / "models" / "checkpoints" / "pose"

PRESETS = {
    # The README's main job on 2 CPU cores (<= 45 min; measured 41 min). Its upright policy trains the `full` PPO
    # preset's 6 M steps: at 3 M the duck's policy left 3.8 % of starts short of upright, at 6 M 0.9 %.
    "cpu-quick": PipelinePreset(10000, 1000, 8, "quick", "full", 200),
    "cpu-full": PipelinePreset(40000, 2000, 16, "full", "full", 1000, goal_preset="goal"),
    "gpu": PipelinePreset(400000, 5000, 16, "gpu", "gpu", 1000, goal_preset="gpu"),
    # Minutes: a smoke run of every stage (tests); its models are not meant to work.
    # An untrained policy tumbles chaotically, so its closed-loop check is kept to 1 s.
    "tiny": PipelinePreset(64, 32, 1, "tiny", "tiny", 8, closed_loop_s=1.0, pose_overrides=("model.image_size=128",),
                           pose_init=False),
}
TRAIN_SEED, VAL_SEED = 1, 2  # the held-out set uses a seed the training set never does


def _render_stage(name: str, images: int, seed: int, preset: PipelinePreset, workers: int, obj=None,
                  render_overrides: tuple[str, ...] = ()) -> Stage:
    from orient_jax import config as config_lib
    from orient_jax.data.config import DatasetConfig, RendererConfig

    what = {"object_dir": str(obj.dir.resolve())} if obj is not None else {}
    dataset = config_lib.apply_overrides(
        DatasetConfig(num_images=images, seed=seed, renderer=RendererConfig(engine="cycles", samples=preset.samples), **what),
        list(render_overrides))

    def run(ctx):
        from orient_jax.data.render import render_dataset

        manifest = render_dataset(ctx.dir / "data", dataset, workers=workers)
        return {"images": manifest["num_images"], "shards": len(manifest["shards"])}

    # the whole resolved config but the object's path (its look is keyed below): a changed default
    # (a wider randomization) renders again
    config = {"images": images, "seed": seed, "samples": preset.samples,
              "dataset": {k: v for k, v in dataset.to_dict().items() if k != "object_dir"}}
    if obj is not None:  # renders depend on the object's look and camera, not its physics (MJCF, torque)
        config.update(object=obj.name, camera=obj.camera)
    inputs = [obj.glb] if obj is not None else [REPO / "orient_jax" / "assets" / "engine.glb"]
    return Stage(name, run, config, inputs, ["data"], fingerprint={"data": lambda p: sha256_file(p / "manifest.json")})


def _physics_versions() -> dict:
    """The MuJoCo release a policy is trained (MJX) and gated (C MuJoCo) on: part of the policy
    and export stages' keys, so a new release retrains and re-checks them (renders and the pose
    model do not simulate and stay cached)."""
    return {pkg: v for pkg, v in versions().items() if pkg in ("mujoco", "mujoco-mjx")}


def _symmetry_key(obj, pose_config) -> dict:
    """A symmetric object's group and the loss `pose_config` resolves to for it, part of the pose
    stage's key (the loss and its errors are taken modulo the group, and a changed default loss
    must retrain); nothing for an asymmetric one, whose key stays what it was."""
    from orient_jax.objects.folder import symmetry_of
    from orient_jax.pose.loss import resolve_symmetry_loss

    if obj is None:
        return {}
    sym = symmetry_of(obj.dir)
    if sym.trivial:
        return {}
    return {"symmetry": sym.to_card(), "symmetry_loss": resolve_symmetry_loss(pose_config.symmetry_loss, sym)}


def check_object(object_dir: str | Path):
    """The pipeline's object, checked before any stage runs: a complete, current object folder
    (`object_ref.resolve`) and a renderer that can draw it. One UserError line otherwise."""
    from orient_jax import object_ref

    obj = object_ref.resolve(object_dir)
    from orient_jax.data.config import DatasetConfig

    if "object_dir" not in {f.name for f in dataclasses.fields(DatasetConfig)}:
        raise UserError("this version cannot render an imported object yet (DatasetConfig has no object_dir): "
                        "`orient-jax pipeline --object` needs `orient-jax data render --object`")
    return obj


def _pose_init(preset: PipelinePreset, pose_init: str | Path | None) -> Path | None:
    """The pose model whose weights start the pose training: `pose_init` (a folder, or "none" for
    a fresh initialisation), else the preset's choice (the shipped engine model, or none)."""
    if pose_init is None:
        if not preset.pose_init:
            return None
        path = SHIPPED_POSE
    elif str(pose_init).lower() == "none":
        return None
    else:
        path = Path(pose_init)
    if not (path / "pose.json").is_file():
        raise UserError(f"--pose-init {path}: no pose model there (expected {path / 'pose.json'}); "
                        "give a pose model folder, or 'none' to train from scratch")
    return path


def build_stages(root: Path, preset: PipelinePreset, workers: int, obj=None,
                 render_overrides: tuple[str, ...] = (), pose_init: str | Path | None = None,
                 pose_overrides: tuple[str, ...] = (), policy_overrides: tuple[str, ...] = ()) -> list[Stage]:
    """The stages for the built-in engine, or for the object `obj` (an `object_ref.ObjectRef`);
    `render_overrides` (KEY=VALUE, as `data render --set`) apply to both datasets;
    `pose_overrides` (KEY=VALUE, as `train-pose --set`) to the pose training and
    `policy_overrides` (PPO config KEY=VALUE) to the policies', after the preset's own;
    `pose_init`: see `_pose_init`."""
    root = Path(root).resolve()
    train_data, val_data = root / "render_train" / "data", root / "render_val" / "data"
    object_files = obj.files if obj is not None else []
    mjcf_path = str(obj.mjcf.resolve()) if obj is not None else None

    from orient_jax import config as config_lib
    from orient_jax.pose import presets as pose_presets
    from orient_jax.rl import presets as policy_presets

    pose_config = config_lib.apply_overrides(pose_presets.preset(preset.pose_preset),
                                             [*preset.pose_overrides, *pose_overrides])
    init = _pose_init(preset, pose_init)
    init_key = {}
    if init is not None:
        from orient_jax.pose.checkpoint import load_pose, pose_fingerprint

        if load_pose(init).model.config != pose_config.model:
            raise UserError(f"the pose preset {preset.pose_preset!r} has another architecture than {init}: "
                            "start it from scratch (--pose-init none)")
        init_key = {"init": pose_fingerprint(init)}

    def train_pose(ctx):
        from orient_jax.pose.train import train_and_evaluate

        train_and_evaluate(pose_config, train_data, ctx.dir / "run", val_data, init=init)
        shutil.rmtree(ctx.dir / "pose", ignore_errors=True)
        shutil.copytree(ctx.dir / "run" / "pose", ctx.dir / "pose")
        from orient_jax.pose.checkpoint import load_pose
        return load_pose(ctx.dir / "pose").metrics

    def eval_pose(ctx):
        from orient_jax.pose.evaluate import evaluate

        report = evaluate(root / "train_pose" / "pose", val_data, ctx.dir)
        return {k: v for k, v in report.items() if k not in ("worst", "model", "dataset")}

    def ppo_config(policy_preset: str):
        return config_lib.apply_overrides(policy_presets.preset(policy_preset),
                                          [*preset.policy_overrides, *policy_overrides])

    def train_policy(env: str, ppo):
        def run(ctx):
            from orient_jax import sim
            from orient_jax.rl.train import RunConfig, train_and_evaluate

            env_config = config_lib.apply_overrides(
                sim.default_config(env, mjcf_path), [f"noise.model_path={root / 'eval_pose' / 'pose_error_model.json'}"])
            run_config = RunConfig(env=env, object_dir=str(obj.dir.resolve()) if obj is not None else "")
            artifact = train_and_evaluate(run_config, env_config, ppo, ctx.dir / "run", show_progress=True)
            shutil.rmtree(ctx.dir / "policy", ignore_errors=True)
            shutil.copytree(ctx.dir / "run" / "policy", ctx.dir / "policy")
            from orient_jax.rl import evaluate as ev
            from orient_jax.rl.policy import obs_policy_fn

            result = ev.rollout(env, env_config, obs_policy_fn(artifact), preset.policy_eval_episodes, seed=0,
                                mjcf_path=mjcf_path)
            summary = result.summary()
            ev.write_report(ctx.dir / "eval.json", summary)
            return summary
        return run

    def export(ctx):
        from orient_jax.export.gate import export_models, pose_source_from_dir
        from orient_jax.rl.checkpoint import load_policy

        goal_dir = root / "train_goal" / "policy"
        manifest = export_models(ctx.dir / "models", policy=load_policy(root / "train_policy" / "policy"),
                                 policy_source=str(root / "train_policy" / "policy"),
                                 goal_policy=load_policy(goal_dir) if preset.goal_preset else None,
                                 goal_policy_source=str(goal_dir), pose=pose_source_from_dir(root / "train_pose" / "pose"),
                                 dataset=val_data, seconds=preset.closed_loop_s, obj=obj)
        return {"parity": manifest.get("parity", {}).get("summary", manifest.get("parity", {}))}

    def bundle(ctx):
        dist = ctx.dir / "dist"
        build_bundle(root / "export" / "models", dist, obj)
        return {"files": sum(1 for p in dist.rglob("*") if p.is_file())}

    physics = _physics_versions()
    upright_ppo = ppo_config(preset.policy_preset)
    stages = [
        _render_stage("render_train", preset.train_images, TRAIN_SEED, preset, workers, obj, render_overrides),
        _render_stage("render_val", preset.val_images, VAL_SEED, preset, workers, obj, render_overrides),
        # keyed by the resolved config, so a changed preset (more steps) or `--pose-set` retrains
        Stage("train_pose", train_pose, {"config": config_lib.to_dict(pose_config),
                                         **_symmetry_key(obj, pose_config), **init_key},
              [train_data / "manifest.json", val_data / "manifest.json"], ["pose"]),
        Stage("eval_pose", eval_pose, {}, [root / "train_pose" / "pose", val_data / "manifest.json"],
              ["pose_eval.json", "pose_error_model.json"]),
        Stage("train_policy", train_policy("upright", upright_ppo),
              {"env": "upright", "config": config_lib.to_dict(upright_ppo),
               "eval_episodes": preset.policy_eval_episodes, "physics": physics},
              [root / "eval_pose" / "pose_error_model.json", *object_files], ["policy", "eval.json"]),
    ]
    if preset.goal_preset:
        goal_ppo = ppo_config(preset.goal_preset)
        stages.append(Stage("train_goal", train_policy("goal", goal_ppo),
                            {"env": "goal", "config": config_lib.to_dict(goal_ppo),
                             "eval_episodes": preset.policy_eval_episodes, "physics": physics},
                            [root / "eval_pose" / "pose_error_model.json", *object_files], ["policy", "eval.json"]))
    export_inputs = [root / "train_policy" / "policy", root / "train_pose" / "pose", val_data / "manifest.json",
                     *object_files]
    if preset.goal_preset:
        export_inputs.append(root / "train_goal" / "policy")
    stages += [
        Stage("export", export, {"physics": physics}, export_inputs, ["models"]),
        Stage("bundle", bundle, {}, [root / "export" / "models", WEB / "index.html", WEB / "src", WEB / "vendor" / "VERSIONS.json"],
              ["dist"]),
    ]
    return stages


def build_bundle(models: Path | list[Path], dist: Path, obj=None) -> Path:
    """The static page (index.html, src/, vendor/) + its models, atomically. `models`: one models
    folder, or several (a gallery: the first in `public/models/`, the others in
    `public/objects/NAME/`, listed in `public/gallery.json`; see `gallery.py`). With `obj` (an
    `object_ref.ObjectRef`), the first models folder must ship that object's MJCF."""
    from orient_jax.pipeline import gallery
    from orient_jax.pipeline.deploy import GALLERY_FILE, MODELS_SUBDIR, OBJECTS_SUBDIR, check_bundle, headers_file, nginx_config

    if not (WEB / "vendor" / "VERSIONS.json").is_file():
        raise UserError(f"{WEB / 'vendor'} is missing: run `bash scripts/setup_browser.sh` first")
    items = gallery.entries([models] if isinstance(models, (str, Path)) else list(models))
    if obj is not None:
        from orient_jax.export.manifest import read_manifest

        first = items[0][1]
        shipped = first / read_manifest(first)["asset"]["mjcf"]
        if not shipped.is_file() or sha256_file(shipped) != sha256_file(obj.mjcf):
            raise UserError(f"{first} does not hold object {obj.name!r} ({shipped.name} is not {obj.mjcf}): "
                            f"export it with --object {obj.dir}")
    tmp = dist.with_name(dist.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy2(WEB / "index.html", tmp / "index.html")
    shutil.copytree(WEB / "src", tmp / "src")
    shutil.copytree(WEB / "vendor", tmp / "vendor")
    listed = []
    for i, (name, folder) in enumerate(items):
        sub = MODELS_SUBDIR if i == 0 else f"{OBJECTS_SUBDIR}/{name}"
        shutil.copytree(folder, tmp / sub)
        listed.append((name, str(Path(sub).relative_to(Path(GALLERY_FILE).parent))))
    (tmp / GALLERY_FILE).write_text(json.dumps(gallery.document(listed), indent=2) + "\n")
    (tmp / "_headers").write_text(headers_file())
    (tmp / "nginx.conf").write_text(nginx_config("/var/www/orient-jax"))
    check_bundle(tmp)
    return publish_dir(tmp, dist)


def run_pipeline(preset_name: str, root: Path, workers: int | None = None, dist: Path | None = None,
                 until: str | None = None, log=print, object_dir: str | Path | None = None,
                 render_overrides: tuple[str, ...] = (), pose_init: str | Path | None = None,
                 pose_overrides: tuple[str, ...] = (), policy_overrides: tuple[str, ...] = ()) -> Path:
    """Run every stage of `preset_name` under `root` (for the object folder `object_dir`; None:
    the built-in engine; `render_overrides`: dataset config KEY=VALUE for both renders;
    `pose_overrides`, `policy_overrides`: pose and PPO config KEY=VALUE; `pose_init`: the pose
    model to start from, "none", or None for the preset's); copy the bundle to `dist`; return it."""
    if preset_name not in PRESETS:
        raise UserError(f"unknown pipeline preset {preset_name!r}; choose one of: {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    obj = check_object(object_dir) if object_dir else None
    workers = workers or max(1, os.cpu_count() or 1)
    run_config = {"preset": preset_name, **dataclasses.asdict(preset), "workers": workers}
    if render_overrides:
        run_config["render_overrides"] = list(render_overrides)
    if pose_overrides:
        run_config["pose_set"] = list(pose_overrides)
    if policy_overrides:
        run_config["policy_set"] = list(policy_overrides)
    if pose_init is not None:
        run_config["pose_init_model"] = str(pose_init)
    if obj is not None:
        run_config["object"] = obj.record()
    stages = build_stages(root, preset, workers, obj, tuple(render_overrides), pose_init,  # bad input: refused first
                          tuple(pose_overrides), tuple(policy_overrides))
    runner = Runner(root, run_config, log=log)
    names = [s.name for s in stages]
    if until is not None and until not in names:
        raise UserError(f"unknown stage {until!r}; stages: {', '.join(names)}")
    for stage in stages:
        runner.run(stage)
        if stage.name == until:
            return Path(root) / stage.name
    bundle_dir = Path(root).resolve() / "bundle" / "dist"
    if dist is not None:
        from orient_jax.pipeline.deploy import deploy
        deploy(bundle_dir, str(dist), log=log)
        return Path(dist)
    return bundle_dir
