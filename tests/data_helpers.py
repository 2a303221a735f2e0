"""A dataset folder without Blender: shards of random pixels with real labels and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from orient_jax.data import randomize, shards
from orient_jax.data.config import CameraConfig, DatasetConfig


def write_fake_dataset(root: Path, num_images: int = 10, shard_size: int = 4, seed: int = 0, size: int = 16) -> DatasetConfig:
    """Shards as `blender/render_shard.py` writes them (random pixels), then the manifest."""
    config = DatasetConfig(num_images=num_images, seed=seed, shard_size=shard_size, camera=CameraConfig(width=size, height=size))
    shards.write_config(root, config)
    for i in range(config.num_shards):
        p = randomize.sample_shard(config, i)
        images = np.random.default_rng([seed, i]).integers(0, 256, (p.count, size, size, 3), dtype=np.uint8)
        names = {"images": shards.images_name(i), "labels": shards.labels_name(i)}
        np.save(root / names["images"], images)
        np.save(root / names["labels"], p.quats)
        record = {"index": i, "count": p.count, "files": names,
                  "sha256": {k: shards.sha256_file(root / n) for k, n in names.items()}}
        (root / shards.record_name(i)).write_text(json.dumps(record))
    shards.assemble_manifest(root)
    return config
