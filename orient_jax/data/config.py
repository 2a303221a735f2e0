"""Typed dataset configs (frozen dataclasses, a docstring under each field), recorded in the
manifest: the object, the camera, the nominal lighting the browser reproduces, domain
randomization (each part switchable) and the renderer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from orient_jax import config as config_lib
from orient_jax.errors import UserError

RENDERERS = ("cycles", "workbench")


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """The fixed, object-centred camera (the engine's body origin sits at the world origin)."""

    position: tuple[float, float, float] = (0.45, -0.45, 0.36)
    """Camera position in the world (m, Z up)."""
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Point the camera looks at (m)."""
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    """World direction that appears up in the image."""
    fov_y_deg: float = 40.0
    """Full vertical field of view (deg)."""
    width: int = 128
    """Image width (px)."""
    height: int = 128
    """Image height (px)."""

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def __post_init__(self):
        config_lib.check_range("camera.fov_y_deg", self.fov_y_deg, 1.0, 170.0)
        config_lib.check_range("camera.width", self.width, 8, 4096)
        config_lib.check_range("camera.height", self.height, 8, 4096)


@dataclasses.dataclass(frozen=True)
class LightingConfig:
    """The nominal scene (what an image looks like with domain randomization off)."""

    sun_azimuth_from_camera_deg: float = -35.0
    """Sun azimuth relative to the camera's azimuth about the origin (negative: camera's left)."""
    sun_elevation_deg: float = 55.0
    """Sun elevation above the horizon (deg)."""
    sun_strength: float = 3.0
    """Sun irradiance (Blender W/m^2; three.js: DirectionalLight intensity ~ strength)."""
    ambient: float = 0.35
    """World (ambient fill) colour, grey level, linear."""
    background: tuple[float, float, float] = (0.62, 0.66, 0.70)
    """Background colour, sRGB in [0, 1]."""

    def __post_init__(self):
        config_lib.check_range("lighting.sun_strength", self.sun_strength, 0.0)
        config_lib.check_range("lighting.ambient", self.ambient, 0.0)


LIGHT_FAMILIES = ("studio", "any", "coloured", "sky")
BACKGROUND_FAMILIES = ("plain", "texture", "clutter", "distractors")
TEXTURE_KINDS = ("noise", "stripes", "checks", "patches")
LEGACY_TEXTURE_KINDS = TEXTURE_KINDS[:3]
"""The texture kinds before "patches" existed: what a dataset config without `texture_kinds` drew."""
CLASSIC_DR = ("dr.light_families=('studio',)", "dr.background_families=('plain',)", "dr.exposure_ev=0", "dr.blur_px=0")
"""Overrides that give the randomization before lighting and background families existed, byte
for byte (the gallery's and the shipped models' renders until they are retrained)."""


def _off(value, name: str):
    """A randomization's switched-off value: False, 0, or its first (nominal) family."""
    if isinstance(value, bool):
        return False
    if isinstance(value, tuple):
        return {"light_families": LIGHT_FAMILIES, "background_families": BACKGROUND_FAMILIES}.get(name, TEXTURE_KINDS)[:1]
    return 0.0


@dataclasses.dataclass(frozen=True)
class DomainRandomization:
    """Per-image randomization; every part is switchable (booleans) or scaled (0 disables)."""

    light_direction: bool = True
    """Sun azimuth = camera azimuth + U(-100, 100) deg, elevation U(15, 75) deg."""
    light_intensity: bool = True
    """Sun strength x U(0.6, 1.4), ambient x U(0.5, 1.6)."""
    light_tint: bool = True
    """Colour-temperature-like tint of sun and ambient: red x (1 + t), blue x (1 - t), t ~ U(-0.12, 0.12)."""
    background: bool = True
    """Random background: a solid colour, or (half the images) a vertical gradient of two colours."""
    material_jitter: float = 0.05
    """Std of a multiplicative per-channel jitter of each material's base colour (0: off)."""
    camera_position_m: float = 0.004
    """Std of a gaussian offset of the camera position per axis (m; 0: off)."""
    camera_look_at_m: float = 0.004
    """Std of a gaussian offset of the look-at point per axis (m; 0: off)."""
    camera_fov_deg: float = 1.0
    """Field of view offset, U(-x, x) deg (0: off)."""
    sensor_noise: float = 3.0
    """Gaussian pixel noise: each image draws its std from U(0, x), in 8-bit units (0: off)."""
    light_families: tuple[str, ...] = LIGHT_FAMILIES
    """The kinds of lighting images draw from, one per image, uniformly (`randomize`):
    studio (the sun in front of the camera: azimuth within 100 deg of the camera's, elevation
    15-75 deg, a grey ambient fill), any (the sun from anywhere on the sphere: backlight, grazing,
    from below), coloured (studio's directions, saturated sun and fill colours) and sky
    (image-like world lighting: a sky-to-ground gradient with coloured patches, a weak sun).
    ("studio",) with the other new parts off is the randomization before families existed."""
    background_families: tuple[str, ...] = BACKGROUND_FAMILIES
    """The kinds of background images draw from, one per image, uniformly: plain (a solid colour or
    a vertical gradient), texture (procedural, of `texture_kinds`, in random colours),
    clutter (a plain or textured backdrop with 4-24 random shapes, some soft-edged) and distractors
    (a plain or textured backdrop with 1-3 other renders of the object, from the same shard, shrunk
    and shifted behind it: things like it nearby)."""
    texture_kinds: tuple[str, ...] = TEXTURE_KINDS
    """The procedural textures a texture background (or a clutter backdrop) draws from, uniformly:
    noise (fractal 1/f noise), stripes, checks and patches (fractal noise cut into 2-3 flat
    colours with hard, irregular edges: stains, shadows, camouflage)."""
    exposure_ev: float = 0.5
    """Exposure of the whole image: x 2^U(-x, x) in linear light (0: off)."""
    blur_px: float = 0.8
    """Gaussian blur of the whole image, sigma U(0, x) px (focus, small motion; 0: off)."""

    def __post_init__(self):
        for name in ("material_jitter", "camera_position_m", "camera_look_at_m", "camera_fov_deg", "sensor_noise",
                     "exposure_ev", "blur_px"):
            config_lib.check_range(f"dr.{name}", getattr(self, name), 0.0)
        for name, known in (("light_families", LIGHT_FAMILIES), ("background_families", BACKGROUND_FAMILIES),
                            ("texture_kinds", TEXTURE_KINDS)):
            chosen = getattr(self, name)
            if not chosen or any(f not in known for f in chosen) or len(set(chosen)) != len(chosen):
                raise UserError(f"dr.{name}={chosen!r}: choose one or more of {', '.join(known)}, each once")

    def disabled(self, names: list[str] | None = None) -> "DomainRandomization":
        """A copy with the named parts (all when `names` is empty or None) switched off."""
        fields = [f.name for f in dataclasses.fields(self)]
        names = list(names or fields)
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise UserError(f"unknown domain randomization {', '.join(unknown)}; choose from {', '.join(fields)}")
        return dataclasses.replace(self, **{n: _off(getattr(self, n), n) for n in names})


@dataclasses.dataclass(frozen=True)
class RendererConfig:
    engine: str = "cycles"
    """cycles (path traced on CPU: PBR metal/roughness, shadows, the sun; chosen) or workbench
    (rasterized flat studio lighting: faster but ignores the sun and metallic look)."""
    samples: int = 16
    """Cycles samples per pixel (denoiser off)."""
    max_bounces: int = 3
    """Cycles light bounces."""
    threads: int = 1
    """Render threads per worker process (parallelism comes from worker processes)."""

    def __post_init__(self):
        if self.engine not in RENDERERS:
            raise UserError(f"unknown renderer {self.engine!r}; choose from {', '.join(RENDERERS)}")
        config_lib.check_range("renderer.samples", self.samples, 1, 4096)
        config_lib.check_range("renderer.threads", self.threads, 0, 256)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    num_images: int = 1024
    """Images in the dataset."""
    seed: int = 0
    """Dataset seed: shard i draws everything from (seed, i), so any shard renders the same bytes anywhere."""
    shard_size: int = 256
    """Images per shard file (the last shard may be smaller)."""
    camera: CameraConfig = CameraConfig()
    """Camera (written to the manifest; the browser reproduces it)."""
    lighting: LightingConfig = LightingConfig()
    """Nominal lighting and background."""
    dr: DomainRandomization = DomainRandomization()
    """Domain randomization."""
    renderer: RendererConfig = RendererConfig()
    """Renderer settings."""
    object_dir: str = ""
    """The object rendered: "" for the built-in engine (`engine_spec`), else an object folder from
    `orient-jax object import` (its visual.glb; its pose camera unless `camera` is set)."""
    object_name: str = ""
    """The object folder's name (object.json); filled in by `with_object`, "" for the engine."""
    object_sha256: str = ""
    """sha256 of the object's look when the dataset was started (`object_look_sha256`: its
    visual.glb and pose camera; filled in by `with_object`). An object imported again with another
    look no longer matches it, so resuming a stale dataset is refused; a new torque limit or
    collision (physics only) keeps the renders valid."""

    def __post_init__(self):
        config_lib.check_range("num_images", self.num_images, 1)
        config_lib.check_range("shard_size", self.shard_size, 1, 100_000)
        config_lib.check_range("seed", self.seed, 0)

    @property
    def num_shards(self) -> int:
        return -(-self.num_images // self.shard_size)

    def shard_count(self, index: int) -> int:
        """Images in shard `index`."""
        return min(self.shard_size, self.num_images - index * self.shard_size)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "DatasetConfig":
        """From `to_dict` output. A config written before the lighting and background families
        existed (its "dr" lacks them) means the classic randomization it was rendered with, not
        today's defaults, and one without `texture_kinds` the textures before "patches": a dataset
        resumed after an upgrade stays one randomization."""
        dr = data.get("dr")
        if isinstance(dr, dict) and "texture_kinds" not in dr:
            dr = {**dr, "texture_kinds": list(LEGACY_TEXTURE_KINDS)}
            if "light_families" not in dr:
                classic = config_lib.apply_overrides(DomainRandomization(), [o.removeprefix("dr.") for o in CLASSIC_DR])
                dr = {**config_lib.to_dict(classic), **dr}
            data = {**data, "dr": dr}
        return config_lib.from_dict(cls, data)


def read_dataset_object(object_dir: str | Path) -> tuple[dict, str]:
    """object.json of `object_dir` (checked by `orient_jax.objects.folder.read_object`: one
    UserError when it is not a complete object folder) and `object_look_sha256` of the folder."""
    from orient_jax.objects import folder

    meta = folder.read_object(Path(object_dir))
    return meta, object_look_sha256(Path(object_dir), meta)


def object_look_sha256(object_dir: Path, meta: dict) -> str:
    """sha256 of what a render of the object depends on: visual.glb's bytes and the pose camera
    (object.json "camera"); not its mass, MJCF or torque limit."""
    from orient_jax import fileio
    from orient_jax.objects import folder

    look = {"visual_glb_sha256": fileio.sha256_file(object_dir / folder.VISUAL), "camera": meta.get("camera")}
    return hashlib.sha256(json.dumps(look, sort_keys=True).encode()).hexdigest()


def object_camera(meta: dict, where: str = "object.json") -> CameraConfig:
    """The pose camera an object folder records (object.json "camera") as a CameraConfig."""
    try:
        return config_lib.from_dict(CameraConfig, dict(meta["camera"]))
    except (KeyError, TypeError, ValueError, UserError) as exc:
        raise UserError(f"{where}: no usable \"camera\" ({exc}); import the mesh again") from exc


def with_object(config: DatasetConfig) -> DatasetConfig:
    """The config with its object resolved: the engine's ("" object_dir) is returned unchanged;
    for an object folder, the folder is checked, its name and look's sha256 are recorded,
    and its pose camera replaces the camera when that is still the default. A config that already
    records a sha256 (a dataset being resumed, a worker) must match the folder: a UserError says
    the object changed since (stale). Idempotent."""
    if not config.object_dir:
        if config.object_name or config.object_sha256:
            raise UserError("object_name/object_sha256 are recorded from object_dir: set object_dir instead")
        return config
    meta, digest = read_dataset_object(config.object_dir)
    if config.object_sha256 and config.object_sha256 != digest:
        raise UserError(f"the look of {config.object_dir} (visual.glb, camera) changed since this dataset was started "
                        f"(sha256 {digest[:12]}, recorded {config.object_sha256[:12]}): the object was imported "
                        "again; render a new dataset (another --out)")
    camera = object_camera(meta, str(Path(config.object_dir) / "object.json")) if config.camera == CameraConfig() \
        else config.camera
    return dataclasses.replace(config, camera=camera, object_name=str(meta.get("name", "")), object_sha256=digest)


def object_record(config: DatasetConfig) -> dict:
    """What the manifest records about the object (so a dataset of a stale object is detectable:
    compare `look_sha256` with `object_look_sha256` of the folder)."""
    if not config.object_dir:
        return {"name": "engine", "dir": None, "look_sha256": None}
    return {"name": config.object_name, "dir": config.object_dir, "look_sha256": config.object_sha256}
