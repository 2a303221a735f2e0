"""Blender end to end (bpy, subprocesses): the asset agrees across .glb, MJCF and Blender; the
renderer's images match the camera maths; shards are deterministic, atomic and resumable."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orient_jax import cli
from orient_jax.assets import engine_spec, mjcf
from orient_jax.data import camera as cam
from orient_jax.data import gltf, mesh, randomize, shards
from orient_jax.data.config import DatasetConfig, DomainRandomization, LightingConfig, RendererConfig
from orient_jax.data.loader import open_dataset
from orient_jax.data.render import REPO, render_dataset

pytestmark = pytest.mark.blender
if importlib.util.find_spec("bpy") is None:  # checked without importing Blender into this process
    pytest.skip("needs bpy (Blender as a Python module)", allow_module_level=True)

GLB = Path(engine_spec.__file__).with_name("engine.glb")
TINY = DatasetConfig(num_images=6, seed=11, shard_size=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    manifest = render_dataset(out, TINY, workers=2, show_progress=False)
    assert manifest is not None
    return out


def test_rendered_dataset_has_right_images_and_labels(dataset):
    ds = open_dataset(dataset)
    assert len(ds) == 6 and ds.image_shape == (128, 128, 3)
    assert ds.manifest["renderer"]["engine"] == "cycles" and ds.manifest["renderer"]["samples"] == 16
    assert ds.manifest["camera"] == TINY.camera.as_dict()
    expected = np.concatenate([randomize.sample_shard(TINY, i).quats for i in range(2)])
    np.testing.assert_array_equal(ds.labels, expected)
    images, _ = ds.get(np.arange(6))
    assert images.dtype == np.uint8 and images.std() > 20  # not blank
    # The object is in the middle: the centre differs from the corner (background) colour.
    assert all(np.abs(im[64, 64].astype(int) - im[2, 2]).max() > 10 or np.abs(im[60:68, 60:68].astype(int) - im[2, 2]).max() > 10
               for im in images)
    assert len({im.tobytes() for im in images}) == 6


def test_sky_lighting_renders_and_relights_the_object(tmp_path):
    """The "sky" family builds the world's gradient-and-patches environment in Blender: the same
    labels, a differently lit object (the studio sun is weak there), backgrounds alike."""
    from orient_jax import config as config_lib
    from orient_jax.data.config import CLASSIC_DR

    base = DatasetConfig(num_images=3, seed=4, shard_size=3, renderer=RendererConfig(samples=4))
    classic = config_lib.apply_overrides(base, list(CLASSIC_DR))
    sky = config_lib.apply_overrides(classic, ["dr.light_families=sky"])
    render_dataset(tmp_path / "classic", classic, workers=1, show_progress=False)
    render_dataset(tmp_path / "sky", sky, workers=1, show_progress=False)
    a, b = open_dataset(tmp_path / "classic"), open_dataset(tmp_path / "sky")
    np.testing.assert_array_equal(a.labels, b.labels)
    (ia, _), (ib, _) = a.get(np.arange(3)), b.get(np.arange(3))
    np.testing.assert_array_equal(ia[:, :3, :3], ib[:, :3, :3])  # the same plain background
    centre = (slice(None), slice(48, 80), slice(48, 80))
    assert np.abs(ia[centre].astype(float) - ib[centre]).mean() > 8  # the object is lit otherwise


def test_distractors_background_renders_in_blender(tmp_path):
    """The worker keeps the shard's renders and composites a distractors background from them:
    the same object in front, another background behind it."""
    from orient_jax import config as config_lib

    base = DatasetConfig(num_images=3, seed=4, shard_size=3, renderer=RendererConfig(samples=4))
    plain = config_lib.apply_overrides(base, ["dr.background_families=plain", "dr.sensor_noise=0", "dr.blur_px=0"])
    busy = config_lib.apply_overrides(plain, ["dr.background_families=distractors"])
    render_dataset(tmp_path / "plain", plain, workers=1, show_progress=False)
    render_dataset(tmp_path / "busy", busy, workers=1, show_progress=False)
    (ia, la), (ib, lb) = open_dataset(tmp_path / "plain").get(np.arange(3)), open_dataset(tmp_path / "busy").get(np.arange(3))
    np.testing.assert_array_equal(la, lb)
    same = np.all(ia == ib, axis=-1).mean(axis=(1, 2))  # the object's pixels (its render is the same)
    assert np.all(same > 0.05) and np.all(same < 0.9), same  # ... in front of a background of its own


def test_same_seed_renders_the_same_bytes_and_split_jobs_merge(dataset, tmp_path):
    # Task 0 of 2 renders shard 0 only: no manifest yet, finalize refuses.
    assert render_dataset(tmp_path, TINY, shard=0, num_shards=2, show_progress=False) is None
    assert not (tmp_path / "manifest.json").exists() and shards.read_record(tmp_path, 1) is None
    record = shards.read_record(tmp_path, 0)
    assert record["sha256"] == shards.read_record(dataset, 0)["sha256"]  # same bytes as the first render
    assert (tmp_path / shards.images_name(0)).read_bytes() == (dataset / shards.images_name(0)).read_bytes()
    with pytest.raises(Exception, match="shard-00001.json"):
        shards.assemble_manifest(tmp_path)
    # Task 1's shard (copied here instead of rendered, for time) completes it: finalize merges.
    for name in (shards.images_name(1), shards.labels_name(1), shards.record_name(1)):
        (tmp_path / name).write_bytes((dataset / name).read_bytes())
    assert cli.main(["data", "finalize", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "manifest.json").read_text())["shards"] == json.loads((dataset / "manifest.json").read_text())["shards"]


def test_killed_render_resumes_to_a_complete_valid_dataset(tmp_path):
    config = DatasetConfig(num_images=8, seed=2, shard_size=8)
    cmd = [sys.executable, "-m", "orient_jax.cli", "data", "render", "--out", str(tmp_path), "--num-images", "8",
           "--seed", "2", "--shard-size", "8", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and not list(tmp_path.glob(".tmp-shard-00000-*/frame.png")):
        time.sleep(0.1)
    assert list(tmp_path.glob(".tmp-shard-00000-*")), "the worker never started a frame"
    os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator and its Blender worker, mid-shard
    proc.wait()
    assert shards.read_record(tmp_path, 0) is None and not (tmp_path / "manifest.json").exists()
    with pytest.raises(Exception, match="manifest.json"):
        open_dataset(tmp_path)
    # A half-written shard file (as if killed between renames) is redone too.
    (tmp_path / shards.images_name(0)).write_bytes(b"partial")
    manifest = render_dataset(tmp_path, config, show_progress=False)
    assert manifest is not None and not list(tmp_path.glob(".tmp-shard-*"))
    ds = open_dataset(tmp_path)
    assert len(ds) == 8
    np.testing.assert_array_equal(ds.labels, randomize.sample_shard(config, 0).quats)
    # A rerun of a complete dataset renders nothing and keeps the bytes.
    before = shards.sha256_file(tmp_path / shards.images_name(0))
    t = time.perf_counter()
    render_dataset(tmp_path, config, show_progress=False)
    assert time.perf_counter() - t < 5 and shards.sha256_file(tmp_path / shards.images_name(0)) == before


def test_blender_camera_matches_the_camera_maths(tmp_path):
    """With randomization off over a pure-green background, the object's silhouette in the
    Blender render has the bounding box that `camera.project` predicts for its vertices."""
    config = DatasetConfig(num_images=2, seed=4, shard_size=2, dr=DomainRandomization().disabled(),
                           lighting=LightingConfig(background=(0.0, 1.0, 0.0)))
    assert render_dataset(tmp_path, config, show_progress=False) is not None
    ds = open_dataset(tmp_path)
    images, quats = ds.get(np.arange(2))
    for image, q in zip(images, quats):
        verts = np.concatenate([mesh.part_mesh(p)[0] for p in engine_spec.PARTS])
        uv = cam.project(ds.camera, verts @ cam.quat_to_matrix(q).T)
        mask = np.abs(image.astype(int) - [0, 255, 0]).max(-1) > 60
        rows, cols = np.nonzero(mask)
        predicted = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
        found = [cols.min(), rows.min(), cols.max(), rows.max()]
        np.testing.assert_allclose(found, predicted, atol=1.0)  # measured: within 0.75 px


def test_glb_mjcf_and_blender_scene_agree(tmp_path):
    out, report = tmp_path / "engine.glb", tmp_path / "report.json"
    subprocess.run([sys.executable, str(REPO / "blender" / "build_asset.py"), "--out", str(out), "--report", str(report)],
                   check=True, capture_output=True)
    assert out.read_bytes() == GLB.read_bytes(), "engine.glb is stale: rerun blender/build_asset.py"
    blender_bounds = json.loads(report.read_text())["bounds"]
    glb = gltf.mesh_nodes(GLB)
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(mjcf.MJCF_PATH))
    for part in engine_spec.PARTS:
        lo, hi = mesh.engine_bounds()[part.name]
        v = glb[part.name]["vertices"]
        glb_bounds = np.array([v.min(0), v.max(0)])
        np.testing.assert_allclose(glb_bounds, [lo, hi], atol=1e-3)
        np.testing.assert_allclose(glb_bounds, blender_bounds[part.name], atol=1e-3)
        np.testing.assert_allclose(v.mean(0) if part.kind == "box" else glb_bounds.mean(0), part.pos, atol=1e-3)
        # MuJoCo: the geom's centre and its axis-aligned extent in the body frame.
        g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, part.name)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, model.geom_quat[g])
        size = model.geom_size[g]
        local = size if part.kind == "box" else np.array([size[0], size[0], size[1]])
        half = np.abs(rot.reshape(3, 3)) @ local
        np.testing.assert_allclose(model.geom_pos[g], glb_bounds.mean(0), atol=1e-3)
        np.testing.assert_allclose(half, (glb_bounds[1] - glb_bounds[0]) / 2, atol=1e-3)
        mat = model.mat_rgba[model.geom_matid[g]]
        np.testing.assert_allclose(mat, glb[part.name]["material"]["base_color"], atol=1e-6)


def test_preview_writes_png_and_gif(dataset, tmp_path):
    assert cli.main(["data", "preview", str(dataset), "--out", str(tmp_path / "prev"), "--count", "6"]) == 0
    with Image.open(tmp_path / "prev.png") as png:
        assert png.size == (4 * 256, 2 * 256)
        sheet = np.asarray(png.convert("RGB"))
    with Image.open(tmp_path / "prev.gif") as gif:
        assert gif.n_frames == 6
    # The axes are drawn: pure-ish red, green and blue strokes appear on the sheet.
    for colour in [(230, 30, 30), (20, 200, 40), (40, 80, 255)]:
        assert (np.abs(sheet.astype(int) - colour).max(-1) < 8).sum() > 50
