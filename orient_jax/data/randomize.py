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
from orient_jax.data.config import BACKGROUND_FAMILIES, LEGACY_TEXTURE_KINDS, LIGHT_FAMILIES, DatasetConfig

# Stream ids of the per-shard generators (never reorder: it would change every dataset). The
# families, exposure and blur draw from streams of their own, so the classic randomization
# (`config.CLASSIC_DR`) renders the same bytes as before they existed.
_LABELS, _LIGHT, _BACKGROUND, _MATERIAL, _CAMERA, _NOISE, _RENDER, _LIGHT_FAMILY, _BACKGROUND_FAMILY, _PHOTO = range(10)


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
    light_family: np.ndarray   # (n,) int: index into config.LIGHT_FAMILIES
    sky_top: np.ndarray        # (n, 3) linear world colour straight up ("sky"; = ambient otherwise)
    sky_bottom: np.ndarray     # (n, 3) linear world colour straight down
    sky_patch: np.ndarray      # (n, 3) linear colour of the world's noise patches
    sky_patchiness: np.ndarray  # (n,) share of the patches in the world colour (0: a plain gradient)
    sky_scale: np.ndarray      # (n,) noise texture scale of the patches
    background_family: np.ndarray  # (n,) int: index into config.BACKGROUND_FAMILIES
    background_seed: np.ndarray  # (n,) int: seed of a procedural background's pattern
    exposure: np.ndarray       # (n,) linear gain of the whole image
    blur_sigma: np.ndarray     # (n,) gaussian blur sigma (px)
    texture_kinds: tuple[str, ...] = LEGACY_TEXTURE_KINDS  # the procedural textures drawn from (config.TEXTURE_KINDS)

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

    sun = sun_direction(az, el)
    sun_strength = light.sun_strength * sun_gain
    sun_color, ambient_color = tint(t_sun), light.ambient * amb_gain[:, None] * tint(t_amb)
    lights = _light_families(config, shard, n, sun, sun_strength, sun_color, ambient_color)

    r = _rng(config, shard, _BACKGROUND_FAMILY)
    family = np.asarray([BACKGROUND_FAMILIES.index(f) for f in dr.background_families])[r.integers(0, len(dr.background_families), n)]
    background_family = np.where(dr.background, family, 0)
    background_seed = r.integers(0, 2**31 - 1, n)

    r = _rng(config, shard, _PHOTO)
    exposure = 2.0 ** r.uniform(-dr.exposure_ev, dr.exposure_ev, n)
    blur_sigma = r.uniform(0.0, dr.blur_px, n)

    return ShardParams(
        quats=quats, bg_top=top, bg_bottom=bottom, material_rgb=material_rgb, material_gain=material_gain,
        cam_position=cam_position, cam_look_at=cam_look_at, fov_y_deg=fov, noise_std=noise_std, render_seed=render_seed,
        noise_seed=noise_seed, background_family=background_family, background_seed=background_seed, exposure=exposure,
        blur_sigma=blur_sigma, texture_kinds=dr.texture_kinds, **lights)


def _light_families(config: DatasetConfig, shard: int, n: int, sun, sun_strength, sun_color, ambient_color) -> dict:
    """The lighting of each image by its family (`DomainRandomization.light_families`): studio
    keeps the classic draws; any moves the sun anywhere on the sphere; coloured gives the sun and
    the fill saturated colours; sky lights the object with a gradient world with coloured patches
    (as an environment image would) and a weak sun. Switched-off parts stay nominal."""
    dr = config.dr
    r = _rng(config, shard, _LIGHT_FAMILY)
    family = np.asarray([LIGHT_FAMILIES.index(f) for f in dr.light_families])[r.integers(0, len(dr.light_families), n)]
    anywhere = r.standard_normal((n, 3))
    anywhere /= np.linalg.norm(anywhere, axis=1, keepdims=True)
    hue_sun, hue_fill = _hue(r.uniform(0, 1, n), r.uniform(0.25, 0.7, n)), _hue(r.uniform(0, 1, n), r.uniform(0.25, 0.7, n))
    sky = _hue(r.uniform(0, 1, n), r.uniform(0.0, 0.6, n)) * r.uniform(0.4, 1.6, (n, 1))
    ground = _hue(r.uniform(0, 1, n), r.uniform(0.0, 0.6, n)) * r.uniform(0.1, 0.8, (n, 1))
    patch = _hue(r.uniform(0, 1, n), r.uniform(0.2, 0.9, n)) * r.uniform(0.3, 2.0, (n, 1))
    patchiness, scale = r.uniform(0.2, 0.8, n), r.uniform(1.5, 6.0, n)
    weak_sun = r.uniform(0.0, 0.5, n)

    is_any, is_coloured, is_sky = (family == LIGHT_FAMILIES.index(f) for f in ("any", "coloured", "sky"))
    sun = np.where((is_any & dr.light_direction)[:, None], anywhere, sun)
    sun_color = np.where((is_coloured & dr.light_tint)[:, None], hue_sun, sun_color)
    ambient_color = np.where((is_coloured & dr.light_tint)[:, None], np.mean(ambient_color, axis=1, keepdims=True) * hue_fill * 1.5,
                             ambient_color)
    level = np.mean(ambient_color, axis=1, keepdims=True) / max(config.lighting.ambient, 1e-6)  # the intensity draw, about 1
    sky_top = np.where(is_sky[:, None], level * sky, ambient_color)
    sky_bottom = np.where(is_sky[:, None], level * ground, ambient_color)
    sky_patch = np.where(is_sky[:, None], level * patch, ambient_color)
    return {"light_family": family, "sun_direction": sun, "sun_strength": np.where(is_sky, sun_strength * weak_sun, sun_strength),
            "sun_color": sun_color, "ambient_color": ambient_color, "sky_top": sky_top, "sky_bottom": sky_bottom,
            "sky_patch": sky_patch, "sky_patchiness": np.where(is_sky, patchiness, 0.0), "sky_scale": scale}


def _hue(hue, saturation) -> np.ndarray:
    """Linear RGB (n, 3) of unit brightness (max channel 1) with the given hue and saturation in [0, 1]."""
    k = (np.asarray(hue)[:, None] * 6.0 + np.array([5.0, 3.0, 1.0])) % 6.0
    pure = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)  # HSV with value 1
    return 1.0 - np.asarray(saturation)[:, None] * (1.0 - pure)


def finish_image(rgba: np.ndarray, params: ShardParams, i: int, shard_rgba: np.ndarray | None = None) -> np.ndarray:
    """Rendered straight-alpha RGBA uint8 (H, W, 4) -> final RGB uint8 (H, W, 3).

    The object is rendered over a transparent film; the background (its family's: plain, a
    procedural texture, clutter, or distractors drawn from `shard_rgba`, the shard's renders
    (N, H, W, 4); without it, image i's own) is composited here, then the whole frame's exposure
    and blur are applied, gaussian sensor noise is added and the result rounded. Exposure and blur
    are skipped when they are the identity, so the classic randomization keeps its bytes.
    """
    h, w = rgba.shape[:2]
    background = 255.0 * background_image(params, i, h, w, rgba[None] if shard_rgba is None else shard_rgba)
    alpha = rgba[..., 3:4].astype(np.float64) / 255.0
    image = rgba[..., :3].astype(np.float64) * alpha + background * (1 - alpha)
    if params.exposure[i] != 1.0:  # in linear light (sRGB ~ gamma 2.2), as a camera's exposure acts
        image = 255.0 * np.clip((image / 255.0) ** 2.2 * params.exposure[i], 0.0, 1.0) ** (1 / 2.2)
    if params.blur_sigma[i] > 0.05:
        from scipy.ndimage import gaussian_filter

        image = gaussian_filter(image, sigma=(params.blur_sigma[i], params.blur_sigma[i], 0.0), mode="nearest")
    if params.noise_std[i] > 0:
        image += params.noise_std[i] * np.random.default_rng(int(params.noise_seed[i])).standard_normal(image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def background_image(params: ShardParams, i: int, h: int, w: int, shard_rgba: np.ndarray | None = None) -> np.ndarray:
    """Image i's background, sRGB in [0, 1], (H, W, 3) (or (H, 1, 3) for a plain one).
    `shard_rgba` (N, H, W, 4) uint8: the renders a distractors background draws from."""
    rows = np.linspace(0.0, 1.0, h)[:, None, None]
    plain = (1 - rows) * params.bg_top[i] + rows * params.bg_bottom[i]  # (H, 1, 3)
    family = BACKGROUND_FAMILIES[int(params.background_family[i])]
    if family == "plain":
        return plain
    r = np.random.default_rng(int(params.background_seed[i]))
    texture = _texture(r, h, w, params.texture_kinds)
    if family == "texture":
        return texture
    backdrop = texture if r.uniform() < 0.5 else np.broadcast_to(plain, (h, w, 3))
    if family == "distractors":
        if shard_rgba is None:
            raise ValueError("a distractors background needs the shard's renders (shard_rgba)")
        return _distractors(r, backdrop, shard_rgba)
    return _clutter(r, backdrop, h, w)


def _texture(r: np.random.Generator, h: int, w: int, kinds: tuple[str, ...]) -> np.ndarray:
    """A procedural texture (H, W, 3) in [0, 1] of one of `kinds` (config.TEXTURE_KINDS): fractal
    (1/f) noise, stripes, checks or patches, mapped through two or three random colours. The kind
    is the first draw of `r`, then the kind's own draws, so a dataset on the three kinds before
    "patches" keeps its bytes."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    kind = kinds[r.integers(0, len(kinds))]
    if kind in ("noise", "patches"):  # fractal noise: the spectrum of a photo's clutter
        spectrum = np.fft.fft2(r.standard_normal((h, w)))
        fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
        field = np.real(np.fft.ifft2(spectrum / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** r.uniform(1.0, 2.0)))
        if kind == "patches":  # cut at 1-2 levels into flat regions with hard, irregular edges
            cuts = np.sort(np.quantile(field, r.uniform(0.2, 0.8, int(r.integers(1, 3)))))
            field = np.digitize(field, cuts).astype(np.float64)
    elif kind == "stripes":  # at a random angle and frequency, softened
        angle, freq = r.uniform(0, np.pi), r.uniform(2, 16)
        field = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + r.uniform(0, 2 * np.pi))
        field = np.tanh(r.uniform(1, 6) * field)
    else:  # checks, turned
        angle, cells = r.uniform(0, np.pi), r.uniform(3, 12)
        u, v = x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle)
        field = ((np.floor(u * cells) + np.floor(v * cells)) % 2) * 2.0 - 1.0
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-9)
    colors = r.uniform(0.03, 0.97, (int(r.integers(2, 4)), 3))
    stops = np.linspace(0.0, 1.0, len(colors))
    return np.stack([np.interp(field, stops, colors[:, c]) for c in range(3)], axis=-1)


def _clutter(r: np.random.Generator, backdrop: np.ndarray, h: int, w: int) -> np.ndarray:
    """`backdrop` (H, W, 3) with 4-24 random filled shapes (discs and ellipses, boxes, triangles)
    of random colours and sizes, some with soft edges: things behind the object."""
    out = np.array(backdrop, dtype=np.float64)
    y, x = np.mgrid[0:h, 0:w] + 0.5
    for _ in range(int(r.integers(4, 25))):
        cy, cx = r.uniform(-0.1, 1.1) * h, r.uniform(-0.1, 1.1) * w
        size = r.uniform(0.05, 0.45) * max(h, w)
        angle = r.uniform(0, np.pi)
        u = ((x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)) / size
        v = (-(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)) / (size * r.uniform(0.2, 1.0))
        kind = r.integers(0, 3)
        if kind == 0:
            inside = 1.0 - np.hypot(u, v)
        elif kind == 1:
            inside = 1.0 - np.maximum(np.abs(u), np.abs(v))
        else:
            inside = np.minimum(np.minimum(v + 0.5, 0.5 - v - u), 0.5 - v + u)  # a triangle
        softness = r.choice([0.02, 0.02, 0.3])
        mask = np.clip(inside / softness, 0.0, 1.0)[..., None]
        out = out * (1 - mask) + r.uniform(0.02, 0.98, 3) * mask
    return out


def _distractors(r: np.random.Generator, backdrop: np.ndarray, shard_rgba: np.ndarray) -> np.ndarray:
    """`backdrop` (H, W, 3) with 1-3 renders drawn from `shard_rgba` (N, H, W, 4) uint8 (the
    object in other poses and lights), each shrunk to 45-95 % and shifted so it peeks out from
    behind the object or sits beside it: the same object's outlines, shading and edges, not the
    one whose pose is asked."""
    out = np.array(backdrop, dtype=np.float64)
    h, w = out.shape[:2]
    for _ in range(int(r.integers(1, 4))):
        source = shard_rgba[int(r.integers(0, len(shard_rgba)))].astype(np.float64) / 255.0
        scale = r.uniform(0.45, 0.95)
        dy, dx = r.uniform(-0.55, 0.55, 2) * (h, w)
        # output pixel (y, x) samples the source at the inverse of "shrink about the centre, then shift"
        ys = np.clip(np.rint((np.arange(h) - h / 2 - dy) / scale + h / 2).astype(int), -1, h)
        xs = np.clip(np.rint((np.arange(w) - w / 2 - dx) / scale + w / 2).astype(int), -1, w)
        inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
        patch = source[np.clip(ys, 0, h - 1)][:, np.clip(xs, 0, w - 1)]
        alpha = patch[..., 3:4] * inside[..., None]
        out = out * (1 - alpha) + patch[..., :3] * alpha
    return out
