"""`export_models`: export, check, and only then publish — never a half or a bad bundle.

Everything is written into a temp folder inside the output folder (same filesystem), the
contract and parity checks run on those files, and only when all pass are the files moved
into place with `os.replace` (each move atomic; `manifest.json` last, so a reader that trusts
the manifest's sha256 never sees a mix). A failed export deletes its temp folder, leaves the
previous files byte-identical and raises a UserError naming each failed check and its numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from orient_jax.errors import UserError
from orient_jax.export import contract as contract_lib
from orient_jax.export import manifest as manifest_lib
from orient_jax.export import onnx_export
from orient_jax.export import parity as parity_lib

MODEL_FILES = ("policy.onnx", "policy_goal.onnx", "pose.onnx")
ENGINE_ASSET = ("engine.xml", "engine.glb")
"""The built-in engine's MJCF and visual mesh in a models folder."""
OBJECT_ASSET = ("object.xml", "object.glb")
"""An imported object's (its object.xml and visual.glb) in a models folder; `asset` names them."""
BUNDLE_FILES = MODEL_FILES + ENGINE_ASSET + OBJECT_ASSET + ("parity.json", "manifest.json")
"""Every file an export may write; a new export removes those of the old it no longer has."""

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "models" / "export"


@dataclasses.dataclass
class PoseSource:
    """A pose model to export, with what the manifest says about it.

    `meta`: "camera" (dict, DESIGN's keys), "metrics" (dict), "config" (dict: architecture and
    training config), "trained" (bool: False marks a random initialisation, for development
    only), "source" (str: the checkpoint folder, or "random-init:<seed>").
    """

    model: Any  # orient_jax.pose.model.PoseNet
    meta: dict


def random_pose_source(seed: int = 0, config=None) -> PoseSource:
    """An untrained PoseNet (random weights): development and tests only, labelled as such."""
    from flax import nnx

    from orient_jax import config as config_lib
    from orient_jax.pose.model import PoseNet, PoseNetConfig

    config = config or PoseNetConfig()
    model = PoseNet(config, rngs=nnx.Rngs(seed))
    model.eval()
    return PoseSource(model, {"camera": dict(manifest_lib.DEFAULT_CAMERA), "metrics": {},
                              "config": {"model": config_lib.to_dict(config)}, "trained": False,
                              "source": f"random-init:{seed}"})


def pose_source_from_dir(path: Path) -> PoseSource:
    """A trained pose model folder (`orient_jax.pose.checkpoint.save_pose`)."""
    from orient_jax import config as config_lib
    from orient_jax.pose.checkpoint import load_pose

    art = load_pose(Path(path))
    return PoseSource(art.model, {"camera": art.camera or dict(manifest_lib.DEFAULT_CAMERA), "metrics": art.metrics,
                                  "config": {"model": config_lib.to_dict(art.model.config), **art.info},
                                  "trained": True, "source": _rel(Path(path))})


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def resolve_source(source: str) -> Path:
    path = Path(source)
    return path if path.is_absolute() else REPO_ROOT / path


def _policy_config(artifact, source: str) -> dict:
    from orient_jax import config as config_lib

    env_config = config_lib.to_dict(artifact.env_config)
    noise = env_config["noise"]
    if noise["model_path"]:  # the file, not where it lay on the exporting machine
        model = Path(noise["model_path"])
        noise.update(model_path=model.name, model_sha256=manifest_lib.sha256(model))
    from orient_jax.rl.presets import trainer_record

    out = {"env": artifact.env_name, "source": source, "env_config": env_config, **trainer_record(artifact.ppo_config)}
    if artifact.mjcf_path:  # trained on an imported object (an engine policy's entry is as it was)
        out["mjcf"] = {"file": Path(artifact.mjcf_path).name, "sha256": manifest_lib.sha256(Path(artifact.mjcf_path)),
                       "object_dir": artifact.object_dir}
    return out


def check_and_measure(folder: Path, *, policies: dict, pose: PoseSource | None, dataset: Path | None = None,
                      seed: int = 0, episodes: int = 8, seconds: float | None = None, browser: bool = False,
                      mjcf_path: Path | None = None) -> dict:
    """Contract + parity for the model files in `folder`: {"contract": ..., "parity": ..., "failures": [...]}.

    `policies`: {"policy": artifact, "policy_goal": artifact}; the files are `<name>.onnx`. The
    closed loop simulates `mjcf_path` (the MJCF shipped in `folder`; None: each policy's own).
    """
    folder = Path(folder)
    report: dict = {"contract": {}, "parity": {}, "bounds": {**parity_lib.BOUNDS, "closed_loop": parity_lib.CLOSED_LOOP}}
    failures: list[str] = []
    items = [(name, art, contract_lib.policy_contract_for(art)) for name, art in policies.items()]
    if pose is not None:
        size = pose.model.config.image_size
        items.append(("pose", pose, contract_lib.pose_contract(size, size)))
    dataset_images = parity_lib.load_dataset_images(dataset, seed=seed) if dataset else None
    for name, src, contract in items:
        path = folder / f"{name}.onnx"
        found = contract_lib.check_contract(path, contract)
        report["contract"][name] = {"pass": not found, "failures": found}
        failures += [f"contract: {f}" for f in found]
        if found:
            report["parity"][name] = {"skipped": "contract failed"}
            continue
        if name == "pose":
            rep = parity_lib.pose_parity(src.model, path, seed=seed, dataset_images=dataset_images)
        else:
            rep = parity_lib.policy_parity(src, path, seed=seed, episodes=episodes, seconds=seconds, mjcf_path=mjcf_path)
        report["parity"][name] = rep
        failures += [f"parity {name}: {f}" for f in rep["failures"]]
    if browser and not failures:
        from orient_jax.export import browser as browser_lib

        rep = browser_lib.browser_parity(folder, {name: c for name, _, c in items}, seed=seed, dataset_images=dataset_images)
        report["browser"] = rep
        failures += [f"browser: {f}" for f in rep["failures"]]
    report["failures"] = failures
    report["pass"] = not failures
    return report


def parity_summary(report: dict) -> dict:
    """The manifest's `parity` key: the headline numbers and where the full report is."""
    out: dict = {"report": "parity.json", "pass": report["pass"], "bounds": report["bounds"]}
    for name, rep in report["parity"].items():
        if "max_abs" not in rep:
            continue
        row = {"max_abs": rep["max_abs"]}
        if "angle_deg" in rep:
            row["angle_deg"] = rep["angle_deg"]
        if "closed_loop" in rep:
            cl = rep["closed_loop"]
            row["closed_loop"] = {k: cl[k] for k in ("episodes", "seconds", "max_orientation_gap_deg", "max_orientation_gap_all_deg",
                                                     "chaotic_episodes", "compared_fraction", "success_rate_jax", "success_rate_onnx")}
        out[name] = row
    if "browser" in report:
        web = report["browser"]
        out["browser"] = {"pass": web["pass"], "onnxruntime_web": web["onnxruntime_web"], "backend": web["backend"],
                          "models": {name: {k: m[k] for k in ("max_abs", "angle_deg", "ms_median") if k in m}
                                     for name, m in web["models"].items()}}
    return out


def export_models(out_dir: Path = DEFAULT_OUT, *, policy=None, policy_source: str = "", goal_policy=None,
                  goal_policy_source: str = "", pose: PoseSource | None = None, dataset: Path | None = None,
                  camera: dict | None = None, seed: int = 0, episodes: int = 8, seconds: float | None = None,
                  browser: bool = False, mjcf_path: Path | None = None, glb_path: Path | None = None,
                  obj=None) -> dict:
    """Export the given models into `out_dir` (see the module doc); returns the manifest.

    `policy`/`goal_policy`: `PolicyArtifact`s of the upright and goal envs (`*_source`: the
    folder they were loaded from, recorded in the manifest). `camera` overrides the pose
    metadata's. Raises UserError (nothing published) when any check fails.

    The object shipped beside the models: `obj` (an `object_ref.ObjectRef`: its object.xml and
    visual.glb become object.xml / object.glb, its camera the manifest's when the pose model is
    untrained, and a trained pose model's camera must be its), else the MJCF the policies carry,
    else the built-in engine (engine.xml, engine.glb). `mjcf_path`/`glb_path` override the files.
    Every policy must have been trained on the shipped MJCF, which the closed-loop parity runs.
    """
    from orient_jax import sim
    from orient_jax.assets import mjcf

    if policy is None and goal_policy is None and pose is None:
        raise UserError("nothing to export: give a policy, a goal policy or a pose model")
    for art, want_goal, flag in ((policy, False, "--policy"), (goal_policy, True, "--goal-policy")):
        if art is not None and sim.env_class(art.env_name).goal_conditioned != want_goal:
            raise UserError(f"{flag}: a policy of the {art.env_name!r} env is "
                            f"{'goal-conditioned' if not want_goal else 'not goal-conditioned'}; "
                            f"pass it as {'--goal-policy' if not want_goal else '--policy'}")
    mjcf_path, glb_path, names = _asset_sources(obj, [a for a in (policy, goal_policy) if a is not None],
                                                mjcf_path, glb_path)
    mjcf_name, glb_name = names
    mismatch = _check_trained_on({k: a for k, a in (("policy", policy), ("policy_goal", goal_policy)) if a is not None},
                                 mjcf_path, mjcf_name)
    mismatch += _check_symmetry({k: a for k, a in (("policy", policy), ("policy_goal", goal_policy)) if a is not None})
    if mismatch:  # before any work: nothing else could make this export right
        raise UserError("export refused:\n  - " + "\n  - ".join(mismatch))
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        policies = {}
        if policy is not None:
            policies["policy"] = policy
        if goal_policy is not None:
            policies["policy_goal"] = goal_policy
        for name, art in policies.items():
            onnx_export.export_policy(art, tmp / f"{name}.onnx")
        if pose is not None:
            onnx_export.export_pose(pose.model, tmp / "pose.onnx")
        shutil.copyfile(mjcf_path, tmp / mjcf_name)
        has_glb = glb_path is not None and glb_path.is_file()
        if has_glb:
            shutil.copyfile(glb_path, tmp / glb_name)

        report = check_and_measure(tmp, policies=policies, pose=pose, dataset=dataset, seed=seed, episodes=episodes,
                                   seconds=seconds, browser=browser, mjcf_path=tmp / mjcf_name)
        env_config = (next(iter(policies.values())).env_config if policies
                      else sim.default_config("upright", None if names == ENGINE_ASSET else tmp / mjcf_name))
        physics = manifest_lib.physics_from_mjcf(tmp / mjcf_name, env_config.control_dt)
        trained_camera = pose.meta.get("camera") if pose is not None and pose.meta.get("trained") else None
        if obj is not None and camera is None:  # the object's framing; a trained pose model's must be it
            cam = dict(trained_camera or obj.camera)
        else:
            cam = dict(camera or (pose.meta.get("camera") if pose is not None else None) or manifest_lib.DEFAULT_CAMERA)
        report["failures"] += (_check_physics(physics, policies, mjcf_name) + _check_camera(cam, pose)
                               + (_check_object_camera(trained_camera, obj) if obj is not None and camera is None else []))
        report["pass"] = not report["failures"]
        if report["failures"]:
            raise UserError("export refused, previous files in {} kept:\n  - {}".format(out, "\n  - ".join(report["failures"])))

        models = {}
        sources = {"policy": policy_source, "policy_goal": goal_policy_source}
        for name, art in policies.items():
            c = contract_lib.policy_contract_for(art).to_dict()
            models[name] = manifest_lib.model_entry(tmp / f"{name}.onnx", c, art.metrics,
                                                    _policy_config(art, sources[name]), env=art.env_name)
        if pose is not None:
            size = pose.model.config.image_size
            c = contract_lib.pose_contract(size, size).to_dict()
            extra = {"trained": bool(pose.meta.get("trained", False)), "source": pose.meta.get("source", "")}
            if not extra["trained"]:
                extra["warning"] = "UNTRAINED: random initialisation, for development and tests only"
            models["pose"] = manifest_lib.model_entry(tmp / "pose.onnx", c, pose.meta.get("metrics", {}),
                                                      pose.meta.get("config", {}), **extra)
        goal_config = goal_policy.env_config if goal_policy is not None else None
        section = manifest_lib.object_from_mjcf(tmp / mjcf_name, env_config, goal_config)
        manifest = manifest_lib.build_manifest(
            tmp, physics=physics, camera=cam, success=manifest_lib.success_from_env(env_config), models=models,
            parity=parity_summary(report), glb=has_glb, object_section=section,
            symmetry=manifest_lib.symmetry_from_env(env_config),
            extra={"created_by": "orient-jax export (orient_jax.export.gate.export_models)", "seed": seed,
                   **({"source_object": obj.record()} if obj is not None else {})},
            mjcf_name=mjcf_name, glb_name=glb_name)
        manifest_lib.write_json(tmp / "parity.json", report)
        manifest_lib.write_json(tmp / "manifest.json", manifest)
        written = json.loads((tmp / "manifest.json").read_text())  # what a reader sees (lists, not tuples)
        _publish(tmp, out)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _asset_sources(obj, policies: list, mjcf_path: Path | None, glb_path: Path | None):
    """(MJCF to ship, glb to ship or None, (their names in the models folder)); see `export_models`."""
    from orient_jax.assets import mjcf
    from orient_jax.fileio import sha256_file

    if obj is not None:
        mjcf_path, glb_path = Path(mjcf_path or obj.mjcf), Path(glb_path or obj.glb)
    elif mjcf_path is None:
        carried = {sha256_file(Path(a.mjcf_path)): a.mjcf_path for a in policies if a.mjcf_path}
        if len(carried) > 1:
            raise UserError("the policies were trained on different objects (their MJCFs differ): export them apart")
        if carried and len(carried) < len(policies):
            raise UserError("one policy was trained on an imported object, the other on the built-in engine: "
                            "export them apart")
        mjcf_path = Path(next(iter(carried.values()))) if carried else None
    if mjcf_path is None or Path(mjcf_path).resolve() == mjcf.MJCF_PATH.resolve():
        return mjcf.MJCF_PATH, Path(glb_path or mjcf.ASSET_DIR / ENGINE_ASSET[1]), ENGINE_ASSET
    return Path(mjcf_path), Path(glb_path) if glb_path else None, OBJECT_ASSET


def _check_symmetry(policies: dict) -> list[str]:
    """The policies must agree on the object's symmetry: the manifest has one, by which the page
    judges both tasks."""
    cards = {key: manifest_lib.symmetry_from_env(art.env_config) for key, art in policies.items()}
    if len({json.dumps(c, sort_keys=True) for c in cards.values()}) > 1:
        return ["symmetry: the policies were trained with different symmetry groups ("
                + "; ".join(f"{k}: {c or 'none'}" for k, c in cards.items()) + "): export them apart"]
    return []


def _check_trained_on(policies: dict, shipped: Path, name: str) -> list[str]:
    """Every policy must have been trained on the MJCF that ships beside it (the page simulates it)."""
    from orient_jax.assets import mjcf
    from orient_jax.fileio import sha256_file

    want = sha256_file(shipped)
    failures = []
    for key, art in policies.items():
        own = Path(art.mjcf_path) if art.mjcf_path else mjcf.MJCF_PATH
        if sha256_file(own) != want:
            what = f"the object in {art.object_dir or own}" if art.mjcf_path else "the built-in engine"
            failures.append(f"physics: {key} was trained on {what}, not on the {name} this export ships "
                            "(export it with the object it was trained on: --object DIR, or retrain)")
    return failures


def _check_object_camera(trained_camera: dict | None, obj) -> list[str]:
    """A trained pose model must have been trained on renders from the object's camera."""
    if trained_camera is None:
        return []
    want = obj.camera
    far = [k for k in ("position", "look_at", "up") if max(abs(float(a) - float(b)) for a, b in
                                                           zip(trained_camera.get(k, [0, 0, 0]), want[k])) > 1e-4]
    if abs(float(trained_camera.get("fov_y_deg", 0)) - float(want["fov_y_deg"])) > 1e-4:
        far.append("fov_y_deg")
    if far:
        return [f"camera: the pose model was trained from a camera whose {', '.join(far)} differ from object "
                f"{obj.name!r}'s (position {trained_camera.get('position')} vs {want['position']}): train it on "
                "renders of this object"]
    return []


def _check_physics(physics: dict, policies: dict, mjcf_name: str = "engine.xml") -> list[str]:
    """The shipped MJCF and the policies' training settings must agree."""
    from orient_jax.assets.mjcf import PhysicsConfig

    failures = []
    cfg = PhysicsConfig()
    if physics["integrator"] != cfg.integrator or abs(physics["timestep"] - cfg.timestep) > 1e-12:
        failures.append(f"physics: {mjcf_name} has {physics['integrator']} at {physics['timestep']} s, "
                        f"PhysicsConfig says {cfg.integrator} at {cfg.timestep} s (regenerate with `orient-jax asset`)")
    for name, art in policies.items():
        if abs(art.env_config.control_dt - physics["control_dt"]) > 1e-12:
            failures.append(f"physics: {name} was trained at control_dt {art.env_config.control_dt}, "
                            f"the manifest says {physics['control_dt']}")
    return failures


def _check_camera(camera: dict, pose: PoseSource | None) -> list[str]:
    missing = [k for k in manifest_lib.DEFAULT_CAMERA if k not in camera]
    if missing:
        return [f"camera: missing {missing}"]
    size = pose.model.config.image_size if pose is not None else None
    if size is not None and (camera["width"], camera["height"]) != (size, size):
        return [f"camera: {camera['width']}x{camera['height']} px, but pose.onnx takes {size}x{size} images"]
    return []


def _publish(tmp: Path, out: Path) -> None:
    """Move the checked files into place, manifest last; drop files the new bundle lacks."""
    names = [n for n in BUNDLE_FILES if (tmp / n).exists()]
    for name in names:
        if name != "manifest.json":
            os.replace(tmp / name, out / name)
    os.replace(tmp / "manifest.json", out / "manifest.json")
    for name in BUNDLE_FILES:
        if name not in names and (out / name).exists():
            (out / name).unlink()
