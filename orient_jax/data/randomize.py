"""Everything random about a shard, drawn up front in numpy (no bpy), and the 2D finishing of
an image (background, sensor noise).

Shard `i` of a dataset with seed `s` draws each stream from its own generator seeded by
(s, i, stream), so a shard renders the same bytes on any machine, in any order, and switching
one randomization off leaves the labels and the other streams unchanged.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from orient_jax.assets import engine_spec
from orient_jax.data.config import DatasetConfig

# Stream ids of the per-shard generators (never reorder: it would change every dataset).
_LABELS, _LIGHT, _BACKGROUND, _MATERIAL, _CAMERA, _NOISE, _RENDER = range(7)


def uniform_quaternions(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform (Haar) random rotations as [x, y, z, w] with w >= 0, float64 (n, 4).

    A standard normal 4-vector is isotropic, so its direction is uniform on S^3, which
    double-covers SO(3) evenly (as `rotations.sample_uniform`, in numpy).
    """
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, 3:] < 0, -q, q)


def sun_direction(azimuth_deg, elevation_deg) -> np.ndarray:
    """Unit vector(s) pointing from the scene towards the sun (world, Z up)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def tint(t) -> np.ndarray:
    """Colour-temperature-like tint (..., 3): t > 0 warmer (redder), t < 0 cooler (bluer)."""
    t = np.asarray(t, dtype=np.float64)
    return np.stack([1 + t, np.ones_like(t), 1 - t], axis=-1)


def camera_azimuth_deg(config: DatasetConfig) -> float:
    p, c = np.asarray(config.camera.position), np.asarray(config.camera.look_at)
    return math.degrees(math.atan2(p[1] - c[1], p[0] - c[0]))


def nominal_sun_direction(config: DatasetConfig) -> np.ndarray:
    light = config.lighting
    return sun_direction(camera_azimuth_deg(config) + light.sun_azimuth_from_camera_deg, light.sun_elevation_deg)


@dataclasses.dataclass(frozen=True)
class ShardParams:
    """Per-image parameters of one shard (arrays with a leading axis of `count`)."""

    quats: np.ndarray          # (n, 4) float32 labels: body -> world, [x, y, z, w], w >= 0
    sun_direction: np.ndarray  # (n, 3) towards the sun
    sun_strength: np.ndarray   # (n,)
    sun_color: np.ndarray      # (n, 3) linear
    ambient_color: np.ndarray  # (n, 3) linear world colour
    bg_top: np.ndarray         # (n, 3) sRGB [0, 1], colour of the top image row
    bg_bottom: np.ndarray      # (n, 3) sRGB [0, 1], colour of the bottom image row
    material_rgb: np.ndarray   # (n, M, 3) base colour of each material (engine: engine_spec.MATERIALS order)
    material_gain: np.ndarray  # (n, M, 3) its multiplicative jitter: material_rgb = clip(base * gain, 0, 1)
    cam_position: np.ndarray   # (n, 3)
    cam_look_at: np.ndarray    # (n, 3)
    fov_y_deg: np.ndarray      # (n,)
    noise_std: np.ndarray      # (n,) 8-bit units
    render_seed: np.ndarray    # (n,) int: Cycles seed of each image
    noise_seed: np.ndarray     # (n,) int: sensor noise seed of each image

    @property
    def count(self) -> int:
        return len(self.quats)


def _rng(config: DatasetConfig, shard: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, shard, stream])


def sample_shard(config: DatasetConfig, shard: int, num_materials: int | None = None) -> ShardParams:
    """Labels and every randomized quantity of shard `shard`.

    `num_materials`: how many materials the object has (an imported object's, counted in
    Blender); None: the engine's `engine_spec.MATERIALS`. The engine's base colours are known
    here, so `material_rgb` is the jittered colour; an imported object's are not (they may be
    textures), so its `material_rgb` is the jitter applied to white and the renderer multiplies
    each material's own colour or texture by `material_gain`. Only the material stream depends
    on the count: labels, lights, camera and noise are the same for any object.
    """
    if not 0 <= shard < config.num_shards:
        raise ValueError(f"shard {shard} outside 0..{config.num_shards - 1}")
    n, dr, light = config.shard_count(shard), config.dr, config.lighting
    quats = uniform_quaternions(_rng(config, shard, _LABELS), n).astype(np.float32)
    # float32 labels, renormalised in float32 so that the stored quaternion is unit to 1e-7.
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)

    # Lights: sun direction, strength and tint; the world colour is the weak ambient fill.
    r = _rng(config, shard, _LIGHT)
    az = camera_azimuth_deg(config) + np.where(dr.light_direction, r.uniform(-100, 100, n), light.sun_azimuth_from_camera_deg)
    el = np.where(dr.light_direction, r.uniform(15, 75, n), light.sun_elevation_deg)
    sun_gain = np.where(dr.light_intensity, r.uniform(0.6, 1.4, n), 1.0)
    amb_gain = np.where(dr.light_intensity, r.uniform(0.5, 1.6, n), 1.0)
    t_sun = np.where(dr.light_tint, r.uniform(-0.12, 0.12, n), 0.0)
    t_amb = np.where(dr.light_tint, r.uniform(-0.12, 0.12, n), 0.0)

    # Background: a solid colour, or a vertical gradient between two colours.
    r = _rng(config, shard, _BACKGROUND)
    top, bottom = r.uniform(0.05, 0.95, (n, 3)), r.uniform(0.05, 0.95, (n, 3))
    solid = r.uniform(size=n) < 0.5
    bottom = np.where(solid[:, None], top, bottom)
    nominal_bg = np.broadcast_to(np.asarray(light.background, dtype=np.float64), (n, 3))
    top = np.where(dr.background, top, nominal_bg)
    bottom = np.where(dr.background, bottom, nominal_bg)

    # Materials: small multiplicative per-channel jitter of each base colour.
    r = _rng(config, shard, _MATERIAL)
    if num_materials is None:
        base = np.array([m.rgba[:3] for m in engine_spec.MATERIALS.values()])
    elif num_materials >= 0:
        base = np.ones((int(num_materials), 3))
    else:
        raise ValueError(f"num_materials must be >= 0, got {num_materials}")
    material_gain = 1 + dr.material_jitter * r.standard_normal((n, len(base), 3))
    material_rgb = np.clip(base[None] * material_gain, 0.0, 1.0)

    # Camera: a few mm of position and look-at, about a degree of field of view.
    r = _rng(config, shard, _CAMERA)
    cam = config.camera
    cam_position = np.asarray(cam.position) + dr.camera_position_m * r.standard_normal((n, 3))
    cam_look_at = np.asarray(cam.look_at) + dr.camera_look_at_m * r.standard_normal((n, 3))
    fov = cam.fov_y_deg + dr.camera_fov_deg * r.uniform(-1, 1, n)

    r = _rng(config, shard, _NOISE)
    noise_std = dr.sensor_noise * r.uniform(size=n)
    noise_seed = r.integers(0, 2**31 - 1, n)
    render_seed = _rng(config, shard, _RENDER).integers(0, 2**31 - 1, n)

    return ShardParams(
        quats=quats, sun_direction=sun_direction(az, el), sun_strength=light.sun_strength * sun_gain,
        sun_color=tint(t_sun), ambient_color=light.ambient * amb_gain[:, None] * tint(t_amb),
        bg_top=top, bg_bottom=bottom, material_rgb=material_rgb, material_gain=material_gain, cam_position=cam_position,
        cam_look_at=cam_look_at, fov_y_deg=fov, noise_std=noise_std, render_seed=render_seed, noise_seed=noise_seed)


def finish_image(rgba: np.ndarray, params: ShardParams, i: int) -> np.ndarray:
    """Rendered straight-alpha RGBA uint8 (H, W, 4) -> final RGB uint8 (H, W, 3).

    The object is rendered over a transparent film; the background (solid or vertical
    gradient) is composited here, then gaussian sensor noise is added and the result rounded.
    """
    h = rgba.shape[0]
    rows = np.linspace(0.0, 1.0, h)[:, None, None]
    background = 255.0 * ((1 - rows) * params.bg_top[i] + rows * params.bg_bottom[i])  # (H, 1, 3)
    alpha = rgba[..., 3:4].astype(np.float64) / 255.0
    image = rgba[..., :3].astype(np.float64) * alpha + background * (1 - alpha)
    if params.noise_std[i] > 0:
        image += params.noise_std[i] * np.random.default_rng(int(params.noise_seed[i])).standard_normal(image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
