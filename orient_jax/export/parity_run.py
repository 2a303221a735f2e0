"""`parity_of_export`: re-check a published export folder against the checkpoints it names."""

from __future__ import annotations

from pathlib import Path

from orient_jax.errors import UserError
from orient_jax.export import gate
from orient_jax.export import manifest as manifest_lib


def sources_of(manifest: dict, seed: int = 0) -> tuple[dict, gate.PoseSource | None]:
    """Reload the JAX models a manifest was exported from: ({"policy": artifact, ...}, pose)."""
    from orient_jax.rl.checkpoint import load_policy

    policies = {}
    for name in ("policy", "policy_goal"):
        entry = manifest["models"].get(name)
        if entry:
            source = entry.get("config", {}).get("source")
            if not source:
                raise UserError(f"manifest: models.{name} names no source checkpoint")
            policies[name] = load_policy(gate.resolve_source(source))
    pose = None
    entry = manifest["models"].get("pose")
    if entry:
        source = entry.get("source", "")
        if source.startswith("random-init:"):
            from orient_jax import config as config_lib
            from orient_jax.pose.model import PoseNetConfig

            config = config_lib.from_dict(PoseNetConfig, entry["config"]["model"])
            pose = gate.random_pose_source(int(source.split(":", 1)[1]), config)
        else:
            pose = gate.pose_source_from_dir(gate.resolve_source(source))
    return policies, pose


def parity_of_export(folder: Path, *, dataset: Path | None = None, browser: bool = False, seed: int = 0,
                     episodes: int = 8, seconds: float | None = None) -> dict:
    """Contract + parity of the files in `folder` (read-only); also checks their sha256."""
    folder = Path(folder)
    manifest = manifest_lib.read_manifest(folder)
    sha_failures = []
    for entry in manifest["models"].values():
        path = folder / entry["file"]
        if not path.is_file():
            sha_failures.append(f"{entry['file']} is missing")
        elif manifest_lib.sha256(path) != entry["sha256"]:
            sha_failures.append(f"{entry['file']}: sha256 differs from the manifest (changed after export)")
    policies, pose = sources_of(manifest, seed)
    mjcf = folder / manifest.get("asset", {}).get("mjcf", "engine.xml")  # the closed loop runs the shipped MJCF
    if not mjcf.is_file():
        sha_failures.append(f"{mjcf.name} is missing")
        mjcf = None
    report = gate.check_and_measure(folder, policies=policies, pose=pose, dataset=dataset, seed=seed, episodes=episodes,
                                    seconds=seconds, browser=browser, mjcf_path=mjcf)
    report["models_dir"] = str(folder)
    report["failures"] = sha_failures + report["failures"]
    report["pass"] = not report["failures"]
    return report
