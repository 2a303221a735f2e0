"""Photometric augmentation on device (pure JAX, jitted): small brightness, contrast, colour
gain and sensor-noise jitter, each switchable. No geometric augmentation: the label is the
object's rotation seen through a fixed camera, so flips, crops or rotations of the image would
change the right answer."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from orient_jax import config as config_lib


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    """Master switch (False: `augment` is `to_float`)."""
    brightness: float = 0.06
    """Additive offset U(-x, x) per image, in [0, 1] units (0: off)."""
    contrast: float = 0.12
    """Contrast factor U(1 - x, 1 + x) about each image's mean (0: off)."""
    color_gain: float = 0.05
    """Per-channel gain U(1 - x, 1 + x) per image (0: off)."""
    noise_std: float = 0.012
    """Gaussian pixel noise with std U(0, x) per image, in [0, 1] units (0: off)."""

    def __post_init__(self):
        for name in ("brightness", "contrast", "color_gain", "noise_std"):
            config_lib.check_range(f"augment.{name}", getattr(self, name), 0.0, 0.5)


def to_float(images_uint8: jax.Array) -> jax.Array:
    """uint8 images -> float32 in [0, 1] (what the pose model's ONNX input expects)."""
    return jnp.asarray(images_uint8).astype(jnp.float32) * (1.0 / 255.0)


@functools.partial(jax.jit, static_argnames="config")
def augment(key: jax.Array, images_uint8: jax.Array, config: AugmentConfig = AugmentConfig()) -> jax.Array:
    """uint8 (B, H, W, 3) -> float32 (B, H, W, 3) in [0, 1], randomly jittered per image."""
    x = to_float(images_uint8)
    if not config.enabled:
        return x
    b = x.shape[0]
    k_bright, k_contrast, k_gain, k_std, k_noise = jax.random.split(key, 5)
    per_image = lambda k, lo, hi, shape=(b, 1, 1, 1): jax.random.uniform(k, shape, jnp.float32, lo, hi)
    if config.contrast > 0:
        mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
        x = mean + (x - mean) * per_image(k_contrast, 1 - config.contrast, 1 + config.contrast)
    if config.color_gain > 0:
        x = x * per_image(k_gain, 1 - config.color_gain, 1 + config.color_gain, (b, 1, 1, 3))
    if config.brightness > 0:
        x = x + per_image(k_bright, -config.brightness, config.brightness)
    if config.noise_std > 0:
        x = x + per_image(k_std, 0.0, config.noise_std) * jax.random.normal(k_noise, x.shape, jnp.float32)
    return jnp.clip(x, 0.0, 1.0)
