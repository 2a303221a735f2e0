"""The on-disk dataset format: file names, hashes, per-shard records and the manifest.

    DATA_DIR/
      config.json                  the DatasetConfig (written first; every worker reads it)
      shard-00000.images.npy       uint8 (N, H, W, 3), RGB, row 0 at the top
      shard-00000.labels.npy       float32 (N, 4), [x, y, z, w], w >= 0, body -> world
      shard-00000.json             {index, count, files, sha256, ...}: written last = complete
      ...
      manifest.json                assembled from the shard records once every shard exists

A shard is complete when its record exists and the files' sha256 match it; a worker writes
into a temp folder and renames the files into place, record last, so a killed worker leaves
at most an orphan temp folder and files without a record, both redone on the next run.
"""

from __future__ import annotations

import json
from pathlib import Path

from orient_jax import fileio
from orient_jax.data.config import DatasetConfig
from orient_jax.fileio import sha256_file  # noqa: F401 (shard hashes; re-exported)
from orient_jax.errors import UserError

FORMAT = "orient_jax_dataset"
VERSION = 1
MANIFEST = "manifest.json"
CONFIG = "config.json"
TMP_PREFIX = ".tmp-shard-"


def images_name(index: int) -> str:
    return f"shard-{index:05d}.images.npy"


def labels_name(index: int) -> str:
    return f"shard-{index:05d}.labels.npy"


def record_name(index: int) -> str:
    return f"shard-{index:05d}.json"


def write_json_atomic(path: Path, data) -> None:
    fileio.write_json_atomic(path, data, indent=1)


def write_config(data_dir: Path, config: DatasetConfig) -> None:
    """Write DATA_DIR/config.json, or check that the one there is the same config."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONFIG
    if path.exists():
        existing = read_config(data_dir)
        if existing != config:
            raise UserError(f"{data_dir} holds a dataset with another config ({path}); use another --out "
                            "or the same settings to resume")
        return
    write_json_atomic(path, config.to_dict())


def read_config(data_dir: Path) -> DatasetConfig:
    path = Path(data_dir) / CONFIG
    try:
        return DatasetConfig.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: missing (not a dataset folder from `orient-jax data render`)") from exc
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(f"{path}: corrupt dataset config ({exc})") from exc


def read_record(data_dir: Path, index: int) -> dict | None:
    try:
        return json.loads((data_dir / record_name(index)).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def shard_complete(data_dir: Path, index: int, count: int, verify: bool = True) -> bool:
    """The shard's record exists, says `count` images, and (verify) its files' hashes match."""
    record = read_record(data_dir, index)
    if not record or record.get("count") != count:
        return False
    for key, name in (("images", images_name(index)), ("labels", labels_name(index))):
        path = data_dir / name
        if not path.exists() or (verify and sha256_file(path) != record["sha256"].get(key)):
            return False
    return True


def camera_record(config: DatasetConfig) -> dict:
    return config.camera.as_dict()


def renderer_record(config: DatasetConfig, blender_version: str | None = None) -> dict:
    r = config.renderer
    out = {"engine": r.engine, "view_transform": "Standard", "film": "transparent, background composited in numpy",
           "blender": blender_version}
    if r.engine == "cycles":
        out.update(device="CPU", samples=r.samples, denoiser=None, max_bounces=r.max_bounces)
    else:
        out.update(lighting="STUDIO", color_type="MATERIAL", antialiasing=8)
    return out


def assemble_manifest(data_dir: Path, verify: bool = True) -> dict:
    """Build DATA_DIR/manifest.json from config.json and every shard record (all must be complete)."""
    from orient_jax.data.config import object_record
    from orient_jax.data.randomize import nominal_sun_direction

    data_dir = Path(data_dir)
    config = read_config(data_dir)
    missing = [i for i in range(config.num_shards) if not shard_complete(data_dir, i, config.shard_count(i), verify)]
    if missing:
        head = ", ".join(record_name(i) for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UserError(f"{data_dir}: {len(missing)} of {config.num_shards} shards missing or incomplete ({head}); "
                        "render them (`orient-jax data render` with the same settings) first")
    records = [read_record(data_dir, i) for i in range(config.num_shards)]
    blender = sorted({r.get("blender") for r in records if r.get("blender")})
    light = config.lighting
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "num_images": config.num_images,
        "image_shape": [config.camera.height, config.camera.width, 3],
        "labels": "quaternion [x, y, z, w], unit, w >= 0: the object's rotation, body -> world (Z up)",
        "images": "uint8 RGB (sRGB, 'Standard' view transform), row 0 at the top",
        "object": object_record(config),
        "camera": camera_record(config),
        "lighting": {"sun_direction": nominal_sun_direction(config).round(6).tolist(), "sun_strength": light.sun_strength,
                     "sun_color": [1.0, 1.0, 1.0], "ambient_color": [light.ambient] * 3,
                     "background_srgb": list(light.background)},
        "domain_randomization": config.to_dict()["dr"],
        "renderer": renderer_record(config, ", ".join(blender) or None),
        "config": config.to_dict(),
        "shards": [{"index": r["index"], "count": r["count"], "images": r["files"]["images"],
                    "labels": r["files"]["labels"], "sha256": r["sha256"]} for r in records],
    }
    write_json_atomic(data_dir / MANIFEST, manifest)
    return manifest
