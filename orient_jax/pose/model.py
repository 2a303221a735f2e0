"""The pose CNN: one RGB frame in, the object's orientation out.

Contract (`pose.onnx`, docs/design.md): `image` float32 (N, H, W, 3), RGB in [0, 1] ->
`quat` float32 (N, 4), [x, y, z, w], unit, w >= 0. `PoseNet.__call__` is exactly that function;
export traces it, so nothing is rebuilt outside JAX.

Sized for the browser: five stride-2 stages (128 px -> 4 px), BatchNorm + ReLU, a small dense
head. At 128 px it costs ~50 M multiply-adds (see `flops`), 1/36 of ResNet18 at 224 px.

Heads:
- "6d": two 3-vectors -> Gram-Schmidt -> rotation matrix -> quaternion (continuous, Zhou et
  al. 2019); trained with the geodesic loss on matrices.
- "quat": a normalized 4-vector (the seed's plain quaternion regression); discontinuous on
  SO(3) because q and -q are the same rotation. Kept for the ablation in experiments/.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from orient_jax import rotations

HEADS = ("6d", "quat")


@dataclasses.dataclass(frozen=True)
class PoseNetConfig:
    """Architecture. `widths`: channels of the five stride-2 stages; `extra_convs`: stages
    (0-based) that get a second 3x3 conv at their resolution; `hidden`: dense head width."""

    image_size: int = 128
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    extra_convs: tuple[int, ...] = (1, 2, 3)
    hidden: int = 256
    head: str = "6d"

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.image_size % (2 ** len(self.widths)):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.widths)}")


class ConvBlock(nnx.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out, (3, 3), strides=(stride, stride), padding="SAME", use_bias=False, rngs=rngs)
        self.norm = nnx.BatchNorm(c_out, momentum=0.9, rngs=rngs)

    def __call__(self, x):
        return nnx.relu(self.norm(self.conv(x)))


class PoseNet(nnx.Module):
    """image (N, H, W, 3) in [0, 1] -> quat (N, 4) [x, y, z, w], unit, w >= 0."""

    def __init__(self, config: PoseNetConfig = PoseNetConfig(), *, rngs: nnx.Rngs):
        self.config = config
        blocks, c_in = [], 3
        for stage, width in enumerate(config.widths):
            blocks.append(ConvBlock(c_in, width, 2, rngs=rngs))
            if stage in config.extra_convs:
                blocks.append(ConvBlock(width, width, 1, rngs=rngs))
            c_in = width
        self.blocks = nnx.List(blocks)
        side = config.image_size // 2 ** len(config.widths)
        self.hidden = nnx.Linear(side * side * c_in, config.hidden, rngs=rngs)
        self.out = nnx.Linear(config.hidden, 6 if config.head == "6d" else 4, rngs=rngs)

    def raw(self, image: jax.Array) -> jax.Array:
        """The head's unconstrained output: (N, 6) or (N, 4)."""
        x = image * 2.0 - 1.0  # centre the [0, 1] input; the contract stays [0, 1]
        for block in self.blocks:
            x = block(x)
        x = x.reshape(x.shape[0], -1)
        return self.out(nnx.relu(self.hidden(x)))

    def __call__(self, image: jax.Array) -> jax.Array:
        return quat_from_raw(self.raw(image), self.config.head)


def quat_from_raw(raw: jax.Array, head: str) -> jax.Array:
    """Head output (N, 6 | 4) -> canonical unit quaternion (N, 4)."""
    if head == "6d":
        return rotations.from_matrix(rotations.matrix_from_6d(raw))
    return rotations.canonicalize(rotations.normalize(raw))


def matrix_from_raw(raw: jax.Array, head: str) -> jax.Array:
    """Head output -> rotation matrix (N, 3, 3), differentiable (for the loss)."""
    if head == "6d":
        return rotations.matrix_from_6d(raw)
    return rotations.to_matrix(rotations.normalize(raw))


def flops(config: PoseNetConfig) -> int:
    """Multiply-adds of one image (Conv and Gemm only, docs/design.md's convention)."""
    total, c_in, side = 0, 3, config.image_size
    for stage, width in enumerate(config.widths):
        side //= 2
        total += side * side * 9 * c_in * width
        if stage in config.extra_convs:
            total += side * side * 9 * width * width
        c_in = width
    total += side * side * c_in * config.hidden + config.hidden * (6 if config.head == "6d" else 4)
    return total
