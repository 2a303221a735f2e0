"""The pose model artifact: `<dir>/pose.json` (architecture, camera, metrics) + `<dir>/params/`.

What evaluation and export need, nothing of the training state (that lives in the run's
orbax `checkpoints/`). Written atomically: a temp folder, then a rename over the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from orient_jax import config as config_lib
from orient_jax import fileio
from orient_jax.errors import UserError
from orient_jax.pose.model import PoseNet, PoseNetConfig

POSE_FORMAT = 1


@dataclasses.dataclass
class PoseArtifact:
    model: PoseNet
    """In eval mode (BatchNorm uses its running statistics)."""
    camera: dict
    """The dataset camera the model was trained for (position, look_at, up, fov_y_deg, width, height)."""
    metrics: dict
    info: dict
    """Training config, dataset, and anything else worth keeping."""


def save_pose(path: Path, model: PoseNet, camera: dict, metrics: dict, info: dict) -> Path:
    path = Path(path).resolve()
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = jax.device_get(nnx.to_pure_dict(nnx.state(model)))
    with fileio.local_checkpointer() as ckptr:
        ckptr.save(tmp / "params", state)
    meta = {"format": POSE_FORMAT, "kind": "orient_jax_pose", "model_config": config_lib.to_dict(model.config),
            "camera": camera, "metrics": metrics, "info": info}
    (tmp / "pose.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=_jsonable))
    return fileio.publish_dir(tmp, path)


def _jsonable(x: Any):
    if isinstance(x, (np.generic, np.ndarray)):
        return x.tolist()
    raise TypeError(type(x))


def pose_fingerprint(path: Path) -> str:
    """sha256 over the artifact's metadata and parameter files (not its eval/ reports)."""
    path = Path(path).resolve()
    files = [path / "pose.json", *sorted(f for f in (path / "params").rglob("*") if f.is_file())]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative_to(path)}\0{fileio.sha256_file(f)}\n".encode())
    return digest.hexdigest()


def load_pose(path: Path) -> PoseArtifact:
    """Load a pose artifact; missing or corrupt files are a UserError naming the file."""
    path = Path(path).resolve()
    meta_path = path / "pose.json"
    if not meta_path.is_file():
        raise UserError(f"no pose model at {path} (missing {meta_path.name})")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "orient_jax_pose" or meta.get("format") != POSE_FORMAT:
            raise UserError(f"{meta_path}: not a format-{POSE_FORMAT} orient-jax pose model")
        config = config_lib.from_dict(PoseNetConfig, meta["model_config"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{meta_path}: corrupt pose model metadata ({exc})") from exc
    model = PoseNet(config, rngs=nnx.Rngs(0))
    try:
        with fileio.local_checkpointer() as ckptr:
            pure = ckptr.restore(path / "params")
        state = nnx.state(model)
        nnx.replace_by_pure_dict(state, jax.tree.map(np.asarray, pure))
        nnx.update(model, state)
    except Exception as exc:  # orbax raises many types for a damaged folder
        raise UserError(f"{path / 'params'}: corrupt or unreadable pose parameters ({type(exc).__name__}: {exc})") from exc
    model.eval()
    return PoseArtifact(model, meta.get("camera", {}), meta.get("metrics", {}), meta.get("info", {}))
