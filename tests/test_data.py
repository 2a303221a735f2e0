"""Synthetic data without Blender: camera maths, sampling, the shard format, the loader's
validation, batching and augmentation, and the shipped engine.glb against the spec."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.transform import Rotation

from orient_jax import cli
from orient_jax.assets import engine_spec
from orient_jax.data import augment as aug
from orient_jax.data import camera as cam
from orient_jax.data import gltf, mesh, randomize, shards
from orient_jax import config as config_lib
from orient_jax.data.config import (BACKGROUND_FAMILIES, CLASSIC_DR, LEGACY_TEXTURE_KINDS, LIGHT_FAMILIES, DatasetConfig,
                                    DomainRandomization)
from orient_jax.data.loader import open_dataset
from orient_jax.errors import UserError

from data_helpers import write_fake_dataset

GLB = Path(engine_spec.__file__).with_name("engine.glb")


# --- camera -------------------------------------------------------------------------------

def test_look_at_rotation_is_a_blender_style_camera_frame():
    c = cam.DEFAULT_CAMERA
    r = cam.look_at_rotation(c["position"], c["look_at"], c["up"])
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    view = np.subtract(c["look_at"], c["position"])
    np.testing.assert_allclose(-r[:, 2], view / np.linalg.norm(view), atol=1e-12)  # looks down local -Z
    assert r[2, 1] > 0 and abs(r[2, 0]) < 1e-12  # local +Y has world-up component, +X is horizontal
    # Looking along +Y from -Y with Z up: image right is world +X, image up is world +Z.
    np.testing.assert_allclose(cam.look_at_rotation([0, -1, 0], [0, 0, 0]), [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)  # columns x, y, z
    with pytest.raises(ValueError):
        cam.look_at_rotation([0, 0, 1], [0, 0, 0], [0, 0, 1])


def test_projection_centre_edges_and_orientation():
    c = dict(cam.DEFAULT_CAMERA)
    np.testing.assert_allclose(cam.project(c, c["look_at"]), [63.5, 63.5], atol=1e-9)
    # A point on the top edge of the field of view lands on v = -0.5 (the top pixel's upper edge).
    r = cam.look_at_rotation(c["position"], c["look_at"], c["up"])
    half = math.radians(c["fov_y_deg"]) / 2
    direction = r @ np.array([0.0, math.sin(half), -math.cos(half)])
    np.testing.assert_allclose(cam.project(c, np.add(c["position"], direction)), [63.5, -0.5], atol=1e-9)
    # World up appears up in the image; the camera's right (+X+Y for this camera) appears right.
    up, right = cam.project(c, [0, 0, 0.1]), cam.project(c, [0.07, 0.07, 0])
    assert up[1] < 63.5 and abs(up[0] - 63.5) < 1e-9 and right[0] > 63.5
    # The whole engine (bounding radius) fits in the frame.
    pts = np.concatenate([engine_spec.part_vertices(p) for p in engine_spec.PARTS])
    for q in Rotation.random(20, random_state=0).as_quat():
        uv = cam.project(c, pts @ cam.quat_to_matrix(q).T)
        assert uv.min() > 0 and uv.max() < 127


def test_quaternion_matrix_round_trip_matches_scipy():
    qs = Rotation.random(50, random_state=1).as_quat()
    for q in qs:
        m = cam.quat_to_matrix(q)
        np.testing.assert_allclose(m, Rotation.from_quat(q).as_matrix(), atol=1e-12)
        back = cam.matrix_to_quat_xyzw(m)
        assert back[3] >= 0 and abs(abs(back @ q) - 1) < 1e-12


def test_project_axes_draws_body_axes_rotated_by_the_label():
    c = cam.DEFAULT_CAMERA
    origin, tips = cam.project_axes(c, [0, 0, 0, 1], length=0.1)
    np.testing.assert_allclose(tips, cam.project(c, 0.1 * np.eye(3)))
    q = Rotation.from_euler("z", 90, degrees=True).as_quat()  # body X -> world Y
    _, tips_q = cam.project_axes(c, q, length=0.1)
    np.testing.assert_allclose(tips_q[0], tips[1], atol=1e-9)


# --- sampling -----------------------------------------------------------------------------

def _angle_cdf(theta):
    """CDF of the rotation angle of a Haar-random rotation: (theta - sin theta) / pi."""
    return (theta - np.sin(theta)) / np.pi


def test_uniform_quaternions_have_the_haar_angle_distribution():
    q = randomize.uniform_quaternions(np.random.default_rng(0), 20000)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    assert np.all(q[:, 3] >= 0)
    angle = 2 * np.arccos(np.clip(q[:, 3], -1, 1))
    assert stats.kstest(angle, _angle_cdf).pvalue > 1e-3
    # The axis is isotropic too: each component of the rotated body Z is uniform on [-1, 1].
    z = cam.quat_to_matrix(q)[:, :, 2]
    for k in range(3):
        assert stats.kstest(z[:, k], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # The test has power: uniform Euler angles (a classic mistake) are rejected.
    bad = Rotation.from_euler("xyz", np.random.default_rng(1).uniform(-np.pi, np.pi, (20000, 3))).as_quat()
    bad_angle = 2 * np.arccos(np.abs(bad[:, 3]))
    assert stats.kstest(bad_angle, _angle_cdf).pvalue < 1e-6


def test_shard_sampling_is_deterministic_and_streams_are_independent():
    config = DatasetConfig(num_images=600, seed=5, shard_size=256)
    a, b = randomize.sample_shard(config, 1), randomize.sample_shard(config, 1)
    for f in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))
    assert a.count == 256 and randomize.sample_shard(config, 2).count == 600 - 512
    assert not np.allclose(a.quats[:10], randomize.sample_shard(config, 0).quats[:10])
    assert not np.allclose(a.quats, randomize.sample_shard(dataclasses.replace(config, seed=6), 1).quats)
    assert a.quats.dtype == np.float32 and np.abs(np.linalg.norm(a.quats, axis=1) - 1).max() < 1e-6
    # Switching randomization off changes only what it controls.
    off = randomize.sample_shard(dataclasses.replace(config, dr=DomainRandomization().disabled(["background"])), 1)
    np.testing.assert_array_equal(off.quats, a.quats)
    np.testing.assert_array_equal(off.sun_direction, a.sun_direction)
    np.testing.assert_allclose(off.bg_top, np.broadcast_to(config.lighting.background, (256, 3)))
    with pytest.raises(ValueError):
        randomize.sample_shard(config, 3)


def test_no_dr_gives_the_nominal_scene_and_dr_varies_it():
    config = DatasetConfig(num_images=64, dr=DomainRandomization().disabled())
    p = randomize.sample_shard(config, 0)
    np.testing.assert_allclose(p.cam_position, np.broadcast_to(config.camera.position, (64, 3)))
    np.testing.assert_allclose(p.fov_y_deg, 40.0)
    assert np.all(p.noise_std == 0) and np.ptp(p.sun_direction, axis=0).max() == 0
    np.testing.assert_allclose(p.sun_direction[0], randomize.nominal_sun_direction(config))
    base = np.array([m.rgba[:3] for m in engine_spec.MATERIALS.values()])
    np.testing.assert_allclose(p.material_rgb, np.broadcast_to(base, p.material_rgb.shape))
    d = randomize.sample_shard(DatasetConfig(num_images=64), 0)
    assert np.ptp(d.sun_direction, axis=0).min() > 0.3 and d.noise_std.max() > 1
    assert 0.001 < np.abs(d.cam_position - config.camera.position).max() < 0.02  # a few mm
    assert np.abs(d.fov_y_deg - 40).max() <= 1.0
    studio = d.light_family == LIGHT_FAMILIES.index("studio")
    assert studio.any() and np.all(d.sun_direction[studio, 2] > np.sin(np.radians(14)))  # studio: the sun above the horizon
    assert np.any(d.sun_direction[~studio, 2] < 0)  # "any": from below too
    with pytest.raises(UserError, match="unknown domain randomization"):
        DomainRandomization().disabled(["fog"])


def test_finish_image_composites_background_gradient_and_noise():
    config = config_lib.apply_overrides(DatasetConfig(num_images=2, dr=DomainRandomization(sensor_noise=0.0)), list(CLASSIC_DR))
    p = dataclasses.replace(randomize.sample_shard(config, 0), bg_top=np.array([[1.0, 0, 0]] * 2),
                            bg_bottom=np.array([[0, 0, 1.0]] * 2))
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[6:10, 6:10] = [10, 20, 30, 255]
    out = randomize.finish_image(rgba, p, 0)
    assert out.dtype == np.uint8 and out.shape == (16, 16, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[-1, 0], [0, 0, 255])
    np.testing.assert_array_equal(out[7, 7], [10, 20, 30])
    noisy = dataclasses.replace(p, noise_std=np.array([3.0, 3.0]))
    a, b = randomize.finish_image(rgba, noisy, 0), randomize.finish_image(rgba, noisy, 0)
    np.testing.assert_array_equal(a, b)
    assert 1.5 < np.std(a[6:10, 6:10].astype(float) - [10, 20, 30]) < 4.5


def test_lighting_and_background_families_leave_the_classic_draws_unchanged():
    """The families, exposure and blur draw from streams of their own: an image whose families
    are studio and plain gets exactly the classic randomization's lights and background (so the
    classic config renders the bytes it always did, checked against Blender in test_blender)."""
    wide = randomize.sample_shard(DatasetConfig(num_images=256), 0)
    classic = randomize.sample_shard(config_lib.apply_overrides(DatasetConfig(num_images=256), list(CLASSIC_DR)), 0)
    assert set(np.unique(wide.light_family)) == set(range(len(LIGHT_FAMILIES)))
    assert set(np.unique(wide.background_family)) == set(range(len(BACKGROUND_FAMILIES)))
    studio, plain = wide.light_family == 0, wide.background_family == 0
    for name in ("sun_direction", "sun_strength", "sun_color", "ambient_color"):
        np.testing.assert_array_equal(getattr(wide, name)[studio], getattr(classic, name)[studio])
    np.testing.assert_array_equal(wide.bg_top[plain], classic.bg_top[plain])
    for name in ("quats", "material_gain", "cam_position", "noise_std", "render_seed"):
        np.testing.assert_array_equal(getattr(wide, name), getattr(classic, name))
    assert np.all(classic.light_family == 0) and np.all(classic.background_family == 0)
    assert np.all(classic.exposure == 1.0) and np.all(classic.blur_sigma == 0.0) and np.all(classic.sky_patchiness == 0)
    # what the new families do
    coloured, sky = wide.light_family == LIGHT_FAMILIES.index("coloured"), wide.light_family == LIGHT_FAMILIES.index("sky")
    saturation = lambda rgb: 1 - rgb.min(axis=1) / rgb.max(axis=1)  # noqa: E731
    assert saturation(wide.sun_color[coloured]).mean() > 3 * saturation(wide.sun_color[studio]).mean()
    assert np.all(wide.sky_patchiness[sky] > 0) and np.any(wide.sky_top[sky] != wide.sky_bottom[sky])
    assert np.all(wide.sun_strength[sky] <= 0.5 * 1.4 * DatasetConfig().lighting.sun_strength + 1e-9)  # a weak sun
    assert 0.7 < wide.exposure.min() and wide.exposure.max() < 1.42 and wide.exposure.std() > 0.1
    assert 0.0 <= wide.blur_sigma.min() and wide.blur_sigma.max() <= DatasetConfig().dr.blur_px


def test_procedural_backgrounds_exposure_and_blur():
    config = DatasetConfig(num_images=64, dr=DomainRandomization(sensor_noise=0.0, exposure_ev=0.0, blur_px=0.0))
    p = randomize.sample_shard(config, 0)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[24:40, 24:40] = [200, 100, 50, 255]
    for family in ("texture", "clutter"):
        i = int(np.flatnonzero(p.background_family == BACKGROUND_FAMILIES.index(family))[0])
        out = randomize.finish_image(rgba, p, i)
        np.testing.assert_array_equal(out[30, 30], [200, 100, 50])  # the object is untouched
        background = np.concatenate([out[:20].reshape(-1, 3), out[44:].reshape(-1, 3)]).astype(float)
        assert background.std(axis=0).max() > 10, family  # not flat
        same = randomize.finish_image(rgba, p, i)
        np.testing.assert_array_equal(out, same)  # seeded per image
    i = int(np.flatnonzero(p.background_family == 0)[0])
    flat = randomize.finish_image(rgba, p, i).astype(float)
    brighter = randomize.finish_image(rgba, dataclasses.replace(p, exposure=np.full(64, 2.0)), i).astype(float)
    assert np.all(brighter[30, 30] >= flat[30, 30]) and brighter[30, 30, 0] > 240  # one stop up in linear light
    blurred = randomize.finish_image(rgba, dataclasses.replace(p, blur_sigma=np.full(64, 1.0)), i).astype(float)
    edge = lambda im: np.abs(np.diff(im[30, :, 0])).max()  # noqa: E731
    assert edge(blurred) < 0.6 * edge(flat)


def test_distractors_are_the_shards_other_renders_behind_the_object():
    config = DatasetConfig(num_images=64, dr=DomainRandomization(background_families=("distractors",), sensor_noise=0.0,
                                                                   exposure_ev=0.0, blur_px=0.0))
    p = randomize.sample_shard(config, 0)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[24:40, 24:40] = [200, 100, 50, 255]
    others = np.zeros((3, 64, 64, 4), np.uint8)
    others[:, 16:48, 16:48] = [7, 250, 9, 255]  # a bigger, green "object" in every other render
    seen = 0
    for i in range(p.count):
        out = randomize.finish_image(rgba, p, i, others)
        np.testing.assert_array_equal(out[30, 30], [200, 100, 50])  # the object stays in front
        np.testing.assert_array_equal(out, randomize.finish_image(rgba, p, i, others))  # seeded per image
        green = np.all(np.abs(out.astype(int) - [7, 250, 9]) <= 1, axis=-1)
        assert not green[24:40, 24:40].any()
        seen += green.sum() > 0
    assert seen > 0.8 * p.count  # a shrunk, shifted copy shows around the object in nearly every image
    with pytest.raises(ValueError, match="shard_rgba"):
        randomize.background_image(p, 0, 64, 64)


def test_family_config_is_checked_and_old_configs_mean_the_classic_randomization():
    with pytest.raises(UserError, match="light_families"):
        DomainRandomization(light_families=("disco",))
    with pytest.raises(UserError, match="background_families"):
        DomainRandomization(background_families=())
    assert config_lib.apply_overrides(DatasetConfig(), ["dr.light_families=studio,sky"]).dr.light_families == ("studio", "sky")
    with pytest.raises(UserError, match="texture_kinds"):
        DomainRandomization(texture_kinds=("plaid",))
    old = DatasetConfig().to_dict()
    for key in ("light_families", "background_families", "exposure_ev", "blur_px", "texture_kinds"):
        del old["dr"][key]
    restored = DatasetConfig.from_dict(old)
    classic = config_lib.apply_overrides(DatasetConfig(), list(CLASSIC_DR))
    assert restored == dataclasses.replace(classic, dr=dataclasses.replace(classic.dr, texture_kinds=LEGACY_TEXTURE_KINDS))
    # a config written after the families but before "patches" keeps its three textures
    before_patches = DatasetConfig().to_dict()
    del before_patches["dr"]["texture_kinds"]
    assert DatasetConfig.from_dict(before_patches).dr == dataclasses.replace(DomainRandomization(),
                                                                             texture_kinds=LEGACY_TEXTURE_KINDS)
    assert DatasetConfig.from_dict(DatasetConfig().to_dict()) == DatasetConfig()


def test_patches_are_flat_regions_and_texture_kinds_change_no_other_draw():
    def textures(kinds):
        config = DatasetConfig(num_images=48, dr=DomainRandomization(background_families=("texture",), texture_kinds=kinds))
        p = randomize.sample_shard(config, 0)
        return [randomize.background_image(p, i, 64, 64) for i in range(p.count)]

    for image in textures(("patches",)):
        colours = np.unique(image.reshape(-1, 3), axis=0)
        assert 2 <= len(colours) <= 3  # flat regions of 2-3 colours, no ramps between them
        steps = np.abs(np.diff(image, axis=1)).max(axis=-1)
        assert 0.01 < np.mean(steps > 1e-9) < 0.5  # hard edges, but regions, not salt and pepper
    # the kinds change only the textures: labels, lights, families and seeds are the same draws
    config = DatasetConfig(num_images=48)
    legacy = randomize.sample_shard(dataclasses.replace(config, dr=dataclasses.replace(config.dr, texture_kinds=LEGACY_TEXTURE_KINDS)), 0)
    wide = randomize.sample_shard(config, 0)
    for field in dataclasses.fields(randomize.ShardParams):
        if field.name != "texture_kinds":
            np.testing.assert_array_equal(getattr(legacy, field.name), getattr(wide, field.name), err_msg=field.name)


# --- the shipped asset --------------------------------------------------------------------

def test_part_meshes_are_closed_outward_and_match_the_spec_bounds():
    bounds = mesh.engine_bounds()
    for part in engine_spec.PARTS:
        verts, faces = mesh.part_mesh(part)
        np.testing.assert_allclose(verts.min(0), bounds[part.name][0], atol=1e-12)
        np.testing.assert_allclose(verts.max(0), bounds[part.name][1], atol=1e-12)
        edges = {}
        for f in faces:
            for a, b in zip(f, f[1:] + f[:1]):
                edges[(a, b)] = edges.get((a, b), 0) + 1
        assert all(edges.get((b, a)) == 1 for (a, b) in edges)  # closed, consistently wound
        volume = sum(np.dot(verts[f[0]], np.cross(verts[f[i]], verts[f[i + 1]])) for f in faces
                     for i in range(1, len(f) - 1)) / 6
        assert volume > 0 and abs(volume - part.volume) / part.volume < 0.01  # outward; 32-gon ~ circle


def test_shipped_glb_is_built_from_the_current_spec():
    doc, _ = gltf.read_glb(GLB)
    assert doc["scenes"][0]["extras"]["spec_sha256"] == mesh.spec_fingerprint(), \
        "engine.glb is stale: run .venv/bin/python blender/build_asset.py --out orient_jax/assets/engine.glb"
    nodes = gltf.mesh_nodes(GLB)
    assert set(nodes) == {p.name for p in engine_spec.PARTS}
    for part in engine_spec.PARTS:
        lo, hi = mesh.engine_bounds()[part.name]
        v = nodes[part.name]["vertices"]
        np.testing.assert_allclose(v.min(0), lo, atol=1e-6)
        np.testing.assert_allclose(v.max(0), hi, atol=1e-6)
        m, spec = nodes[part.name]["material"], engine_spec.MATERIALS[part.material]
        assert m["name"] == spec.name
        np.testing.assert_allclose(m["base_color"], spec.rgba, atol=1e-6)
        np.testing.assert_allclose([m["metallic"], m["roughness"]], [spec.metallic, spec.roughness], atol=1e-6)


def test_gltf_y_up_conversion_inverts_the_exporter():
    p = np.array([[1.0, 2.0, 3.0]])
    exported = np.stack([p[:, 0], p[:, 2], -p[:, 1]], axis=-1)  # Blender (x, y, z) -> glTF (x, z, -y)
    np.testing.assert_allclose(gltf.to_z_up(exported), p)


# --- the dataset format and loader --------------------------------------------------------

def test_loader_reads_what_was_written(tmp_path):
    config = write_fake_dataset(tmp_path)
    ds = open_dataset(tmp_path)
    assert len(ds) == 10 and ds.image_shape == (16, 16, 3) and ds.labels.shape == (10, 4) and ds.labels.dtype == np.float32
    assert ds.camera["position"] == [0.45, -0.45, 0.36] and ds.camera["fov_y_deg"] == 40.0
    assert ds.manifest["domain_randomization"]["sensor_noise"] == config.dr.sensor_noise
    idx = np.array([9, 0, 5, 4])
    images, quats = ds.get(idx)
    expect = np.concatenate([np.load(tmp_path / shards.images_name(i)) for i in range(3)])
    np.testing.assert_array_equal(images, expect[idx])
    np.testing.assert_array_equal(quats, ds.labels[idx])
    np.testing.assert_array_equal(quats[1], randomize.sample_shard(config, 0).quats[0])
    assert isinstance(ds._shard_images[0], np.memmap)
    fp = ds.fingerprint
    write_fake_dataset(tmp_path / "other", seed=1)
    assert open_dataset(tmp_path / "other").fingerprint != fp


def _rewrite_record_hash(root: Path, index: int, key: str) -> None:
    """Make the manifest agree with a tampered file, so only the content check can catch it."""
    manifest = json.loads((root / "manifest.json").read_text())
    name = manifest["shards"][index][key]
    manifest["shards"][index]["sha256"][key] = shards.sha256_file(root / name)
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("problem", ["missing", "corrupt", "hash", "norm", "shape", "dtype", "sign"])
def test_loader_names_the_bad_file(tmp_path, problem):
    write_fake_dataset(tmp_path)
    images, labels = tmp_path / shards.images_name(1), tmp_path / shards.labels_name(1)
    bad = labels
    if problem == "missing":
        images.unlink()
        bad = images
    elif problem == "corrupt":
        images.write_bytes(images.read_bytes()[:100])
        _rewrite_record_hash(tmp_path, 1, "images")
        bad = images
    elif problem == "hash":
        arr = np.load(images)
        arr[0, 0, 0, 0] ^= 1
        np.save(images, arr)
        bad = images
    elif problem == "norm":
        arr = np.load(labels)
        arr[2] *= 1.01
        np.save(labels, arr)
        _rewrite_record_hash(tmp_path, 1, "labels")
    elif problem == "shape":
        np.save(labels, np.load(labels)[:, :3].copy())
        _rewrite_record_hash(tmp_path, 1, "labels")
    elif problem == "dtype":
        np.save(labels, np.load(labels).astype(np.float64))
        _rewrite_record_hash(tmp_path, 1, "labels")
    elif problem == "sign":
        arr = np.load(labels)
        arr[0] = [0, 0, 0, -1]
        np.save(labels, arr)
        _rewrite_record_hash(tmp_path, 1, "labels")
    with pytest.raises(UserError) as exc:
        open_dataset(tmp_path)
    assert str(bad) in str(exc.value)
    if problem == "hash":  # skipping hashes is allowed to miss a flipped bit, and only that
        assert len(open_dataset(tmp_path, verify_hashes=False)) == 10


def test_loader_rejects_bad_manifests(tmp_path):
    with pytest.raises(UserError, match="no such dataset"):
        open_dataset(tmp_path / "nope")
    write_fake_dataset(tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(UserError, match="version 99"):
        open_dataset(tmp_path)
    manifest_path.write_text(json.dumps({**manifest, "image_shape": [16, 16, 4]}))
    with pytest.raises(UserError, match="image shape"):
        open_dataset(tmp_path)
    manifest_path.write_text("{not json")
    with pytest.raises(UserError, match="manifest.json: corrupt JSON"):
        open_dataset(tmp_path)
    manifest_path.unlink()
    with pytest.raises(UserError, match="finalize"):
        open_dataset(tmp_path)


def test_manifest_needs_every_shard_and_config_must_match(tmp_path):
    write_fake_dataset(tmp_path)
    (tmp_path / shards.record_name(2)).unlink()
    with pytest.raises(UserError, match="shard-00002.json"):
        shards.assemble_manifest(tmp_path)
    with pytest.raises(UserError, match="another config"):
        shards.write_config(tmp_path, DatasetConfig(num_images=11, shard_size=4))
    assert not shards.shard_complete(tmp_path, 2, 2)
    assert shards.shard_complete(tmp_path, 1, 4)


def test_batches_are_deterministic_shuffled_and_cover_an_epoch(tmp_path):
    write_fake_dataset(tmp_path, num_images=10, shard_size=3)
    ds = open_dataset(tmp_path)
    row = lambda q: {tuple(np.round(x, 6)) for x in q}
    a = [q for _, q in ds.batches(4, seed=1, epoch=0)]
    b = [q for _, q in ds.batches(4, seed=1, epoch=0)]
    c = [q for _, q in ds.batches(4, seed=1, epoch=1)]
    assert len(a) == 2 and all(x.shape == (4, 4) for x in a)  # drop_remainder: 10 // 4
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    full = list(ds.batches(4, seed=1, drop_remainder=False))
    assert [len(q) for _, q in full] == [4, 4, 2]
    assert set().union(*(row(q) for _, q in full)) == row(ds.labels)
    images, quats = next(ds.batches(10, shuffle=False))
    np.testing.assert_array_equal(quats, ds.labels)
    assert images.dtype == np.uint8 and images.shape == (10, 16, 16, 3)


# --- augmentation -------------------------------------------------------------------------

def test_augment_range_shape_and_switches():
    images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
    x = aug.augment(jax.random.PRNGKey(0), images)
    assert x.shape == (8, 32, 32, 3) and x.dtype == jnp.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    base = aug.to_float(images)
    diff = float(jnp.abs(x - base).mean())
    assert 0.002 < diff < 0.1  # changed, but only slightly
    assert not np.allclose(x, aug.augment(jax.random.PRNGKey(1), images))
    np.testing.assert_array_equal(x, aug.augment(jax.random.PRNGKey(0), images))
    np.testing.assert_array_equal(aug.augment(jax.random.PRNGKey(0), images, aug.AugmentConfig(enabled=False)), base)
    zero = aug.AugmentConfig(brightness=0, contrast=0, color_gain=0, noise_std=0)
    np.testing.assert_allclose(aug.augment(jax.random.PRNGKey(0), images, zero), base, atol=1e-7)
    only_noise = aug.AugmentConfig(brightness=0, contrast=0, color_gain=0, noise_std=0.05)
    gray = jnp.full((4, 32, 32, 3), 128, jnp.uint8)
    out = aug.augment(jax.random.PRNGKey(2), gray, only_noise)
    assert 0 < float(jnp.std(out - aug.to_float(gray))) < 0.05
    with pytest.raises(UserError):
        aug.AugmentConfig(noise_std=-1)


# --- CLI ----------------------------------------------------------------------------------

def test_cli_verify_and_user_errors(tmp_path, capsys):
    write_fake_dataset(tmp_path / "ds")
    assert cli.main(["data", "verify", str(tmp_path / "ds")]) == 0
    assert "ok: 10 images" in capsys.readouterr().out
    (tmp_path / "ds" / shards.labels_name(0)).write_bytes(b"junk")
    assert cli.main(["data", "verify", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and shards.labels_name(0) in err and len(err.strip().splitlines()) == 1
    assert cli.main(["data", "render", "--out", str(tmp_path / "x"), "--num-images", "0"]) == 2
    assert "num_images" in capsys.readouterr().err
    assert cli.main(["data", "render", "--out", str(tmp_path / "x"), "--num-images", "4", "--shard", "3", "--num-shards", "2"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert cli.main(["data", "render", "--out", str(tmp_path / "x"), "--num-images", "4", "--no-dr", "fog"]) == 2
    assert "fog" in capsys.readouterr().err
    assert cli.main(["data", "finalize", str(tmp_path / "nothing")]) == 2
    assert "config.json" in capsys.readouterr().err
