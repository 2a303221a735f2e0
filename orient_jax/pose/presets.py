"""Pose training presets: the same code at several scales, chosen by config only.

- `tiny`: a few steps of a narrow net (tests, smoke runs).
- `quick`: the CPU preset (with `data render --num-images 10000`, render + train ~35 min here).
- `full`: the CPU run behind the shipped pose model (more steps on a larger dataset).
- `gpu`: one accelerator or several (the batch splits over all local devices).
"""

from __future__ import annotations

import dataclasses

from orient_jax.errors import UserError
from orient_jax.pose.model import PoseNetConfig
from orient_jax.pose.train import PoseTrainConfig

PRESETS: dict[str, PoseTrainConfig] = {
    "tiny": PoseTrainConfig(model=PoseNetConfig(widths=(8, 8, 16, 16, 32), extra_convs=(), hidden=32),
                            batch_size=8, steps=6, warmup_steps=2, checkpoint_every=3, eval_every=3, eval_images=16),
    "quick": PoseTrainConfig(batch_size=64, steps=3600, learning_rate=2e-3),
    "full": PoseTrainConfig(batch_size=64, steps=15000, learning_rate=2e-3, eval_every=1000, checkpoint_every=1000),
    "gpu": PoseTrainConfig(batch_size=256, steps=40000, learning_rate=3e-3, eval_every=2000, checkpoint_every=2000),
}

# Images to render for each preset's training set (and its held-out set, with another seed).
DATASET_SIZES: dict[str, tuple[int, int]] = {"tiny": (64, 32), "quick": (10000, 1000), "full": (40000, 2000),
                                            "gpu": (400000, 5000)}


def preset(name: str, **changes) -> PoseTrainConfig:
    if name not in PRESETS:
        raise UserError(f"unknown pose preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **changes)
