"""Blender renders an imported object (`orient-jax object import`, then `orient-jax data render
--object DIR`): its silhouette lands where the camera maths says, its image texture comes
through, renders are deterministic, the dataset records the object (a stale one is refused),
and the import's preview.png shows six views (a Blender failure writes nothing).

The object is a textured corner of three boxes of different lengths and thicknesses along +x,
+y and +z (chiral: any wrong axis or sign shows), with a texture that is red at the corner and
blue at the end of the long arm, written here as OBJ + MTL + PNG. Tiny renders (128 px, Cycles
8 samples, a handful of images): about 25 s on 2 quiet cores.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orient_jax import cli
from orient_jax.assets import engine_spec
from orient_jax.data import camera as cam
from orient_jax.data import randomize, shards
from orient_jax.data.gltf import read_glb
from orient_jax.data.config import (CameraConfig, DatasetConfig, DomainRandomization, LightingConfig, RendererConfig,
                                    object_camera, object_look_sha256, with_object)
from orient_jax.data.loader import open_dataset
from orient_jax.data.render import render_dataset
from orient_jax.errors import UserError
from orient_jax.objects import folder, preview
from orient_jax.objects.importer import ImportOptions, import_object

needs_bpy = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs bpy (Blender as a Python module)")

RED, BLUE = (220, 30, 30), (30, 60, 230)
# (extent, centre) of each box: arms of 0.20 (x), 0.12 (y) and 0.08 (z), each thinner than the last
# (no coplanar faces where they overlap).
BOXES = [((0.20, 0.05, 0.05), (0.10, 0.0, 0.0)), ((0.044, 0.12, 0.044), (0.0, 0.06, 0.0)),
         ((0.038, 0.038, 0.08), (0.0, 0.0, 0.04))]


def write_corner(folder_: Path) -> tuple[Path, np.ndarray]:
    """corner.obj (+ .mtl + skin.png) and its vertices. u runs along x: the texture's left half is
    red (the corner), its right half blue (the far end of the x arm)."""
    import trimesh

    folder_.mkdir(parents=True, exist_ok=True)
    tex = np.zeros((16, 16, 3), np.uint8)
    tex[:, :8], tex[:, 8:] = RED, BLUE
    Image.fromarray(tex).save(folder_ / "skin.png")
    (folder_ / "corner.mtl").write_text("newmtl skin\nKd 1 1 1\nmap_Kd skin.png\n")
    lines, verts, k = ["mtllib corner.mtl", "o corner", "usemtl skin"], [], 1
    for extent, centre in BOXES:
        box = trimesh.creation.box(extent)
        box.apply_translation(centre)
        u = 0.1 + 0.8 * (box.vertices[:, 0] + 0.025) / 0.25  # away from the edges: the texture repeats
        lines += [f"v {x:g} {y:g} {z:g}" for x, y, z in box.vertices]
        lines += [f"vt {x:g} 0.5" for x in u]
        lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in box.faces + k]
        k += len(box.vertices)
        verts.append(box.vertices)
    path = folder_ / "corner.obj"
    path.write_text("\n".join(lines) + "\n")
    return path, np.concatenate(verts)


@pytest.fixture(scope="module")
def corner(tmp_path_factory):
    """The imported corner (with its preview): (folder, object.json, body-frame vertices)."""
    tmp = tmp_path_factory.mktemp("corner")
    source, verts = write_corner(tmp / "src")
    out = tmp / "objects" / "corner"
    meta = import_object(source, out, ImportOptions(size=0.2, drops=16))
    m = np.array(meta["transform"]["body_from_source"])
    return out, meta, verts @ m[:3, :3].T + m[:3, 3]


@pytest.fixture(scope="module")
def clean(corner, tmp_path_factory) -> Path:
    """Two images with randomization off over a pure-green background, through the object's
    camera at 256 px (at 128 px the tips of its thin arms cover a fraction of a pixel: 1.07 px
    off at worst, against 0.85 px at 512 px; a frame error would grow with the resolution)."""
    out = tmp_path_factory.mktemp("clean")
    camera = dataclasses.replace(object_camera(corner[1]), width=256, height=256)
    config = DatasetConfig(num_images=2, seed=4, shard_size=2, object_dir=str(corner[0]), camera=camera,
                           dr=DomainRandomization().disabled(), lighting=LightingConfig(background=(0.0, 1.0, 0.0)),
                           renderer=RendererConfig(samples=8))
    assert render_dataset(out, config, show_progress=False) is not None
    return out


def _object_mask(image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - [0, 255, 0]).max(-1) > 60


def test_material_draws_work_for_any_count_and_keep_the_engines():
    config = DatasetConfig(num_images=40, seed=3, shard_size=16)
    engine = randomize.sample_shard(config, 1)
    # The engine's colours are drawn exactly as before objects existed.
    rng = np.random.default_rng([3, 1, 3])  # (seed, shard, the material stream)
    base = np.array([m.rgba[:3] for m in engine_spec.MATERIALS.values()])
    expected = np.clip(base[None] * (1 + 0.05 * rng.standard_normal((16, len(base), 3))), 0.0, 1.0)
    np.testing.assert_array_equal(engine.material_rgb, expected)
    for count in (0, 1, 7):
        p = randomize.sample_shard(config, 1, num_materials=count)
        assert p.material_gain.shape == (16, count, 3) and p.material_rgb.shape == (16, count, 3)
        for f in dataclasses.fields(p):  # only the material stream depends on the count
            if not f.name.startswith("material"):
                np.testing.assert_array_equal(getattr(p, f.name), getattr(engine, f.name))
    gains = randomize.sample_shard(config, 1, num_materials=50).material_gain
    assert 0.03 < gains.std() < 0.07 and abs(gains.mean() - 1) < 0.01
    off = dataclasses.replace(config, dr=DomainRandomization().disabled(["material_jitter"]))
    assert np.all(randomize.sample_shard(off, 1, num_materials=3).material_gain == 1.0)


@pytest.mark.blender
@needs_bpy
def test_import_writes_a_preview_of_six_views(corner):
    out, meta, _ = corner
    assert meta["preview"] == "preview.png" and folder.read_object(out)["preview"] == "preview.png"
    with Image.open(out / "preview.png") as img:
        sheet = np.asarray(img.convert("RGB")).astype(int)
    boxes = preview.tile_boxes()
    assert len(boxes) == 6 and sheet.shape == (boxes[-1][3], boxes[-1][2], 3)
    background = np.asarray(preview.BACKGROUND) * 255
    tiles = [sheet[t + 20:b, l:r] for l, t, r, b in boxes]  # below each view's label
    for tile in tiles:  # the object is in every view, with both of its texture's colours
        obj = np.abs(tile - background).max(-1) > 40
        assert 500 < obj.sum() < 0.6 * obj.size
        red = (tile[..., 0] > 1.8 * tile[..., 2]) & obj
        blue = (tile[..., 2] > 1.8 * tile[..., 0]) & obj
        assert red.sum() > 30 and blue.sum() > 30, (red.sum(), blue.sum())
    assert len({tile.tobytes() for tile in tiles}) == 6  # six different orientations
    # The caption strip holds text (the name, size and mass).
    assert (sheet[:preview.CAPTION_H] < 100).all(-1).sum() > 50


@pytest.mark.blender
@needs_bpy
def test_silhouette_matches_the_camera_maths(corner, clean):
    """The object's silhouette in Blender has the bounding box `camera.project` predicts for its
    body-frame vertices (the source mesh through object.json's transform, independent of the
    glb): Blender's glTF import puts the body frame back where the physics has it."""
    out, meta, verts = corner
    ds = open_dataset(clean)
    assert ds.camera == {**meta["camera"], "width": 256, "height": 256}  # the object's own pose camera
    images, quats = ds.get(np.arange(2))
    for image, q in zip(images, quats):
        uv = cam.project(ds.camera, verts @ cam.quat_to_matrix(q).T)
        rows, cols = np.nonzero(_object_mask(image))
        predicted = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
        np.testing.assert_allclose([cols.min(), rows.min(), cols.max(), rows.max()], predicted, atol=1.0)


@pytest.mark.blender
@needs_bpy
def test_texture_comes_through(corner, clean):
    """The object's pixels show the texture's red and blue (untextured it would be white-grey),
    and the blue ones lie where the blue half of the x arm (x > 0.1 in the source) projects."""
    out, meta, _ = corner
    doc, _ = read_glb(out / folder.VISUAL)  # an OBJ's Phong material is not a metal (glTF's default)
    assert doc["materials"][0]["pbrMetallicRoughness"]["metallicFactor"] == 0.0
    m = np.array(meta["transform"]["body_from_source"])
    (ex, ey, ez), _ = BOXES[0]
    blue_half = np.array([[x, y, z] for x in (0.1, ex) for y in (-ey / 2, ey / 2) for z in (-ez / 2, ez / 2)])
    blue_half = blue_half @ m[:3, :3].T + m[:3, 3]
    ds = open_dataset(clean)
    images, quats = ds.get(np.arange(2))
    totals = np.zeros(2, int)
    for image, q in zip(images, quats):
        im = image.astype(int)
        obj = _object_mask(image)
        red = obj & (im[..., 0] > 1.8 * im[..., 2]) & (im[..., 0] > 60)
        blue = obj & (im[..., 2] > 1.8 * im[..., 0]) & (im[..., 2] > 60)
        totals += red.sum(), blue.sum()
        assert (obj & (np.ptp(im, axis=-1) < 25)).sum() < 0.1 * obj.sum()  # hardly any grey
        uv = cam.project(ds.camera, blue_half @ cam.quat_to_matrix(q).T)
        rows, cols = np.nonzero(blue)
        inside = ((cols >= uv[:, 0].min() - 2) & (cols <= uv[:, 0].max() + 2) & (rows >= uv[:, 1].min() - 2)
                  & (rows <= uv[:, 1].max() + 2))
        assert inside.mean() > 0.95, inside.mean()
    assert totals.min() > 300, totals


@pytest.mark.blender
@needs_bpy
def test_cli_render_is_deterministic_and_records_the_object(corner, tmp_path, capsys):
    out, meta, _ = corner
    data = tmp_path / "data"
    assert cli.main(["data", "render", "--object", str(out), "--out", str(data), "--num-images", "4", "--samples",
                     "8", "--shard-size", "2", "--workers", "2", "--no-progress"]) == 0
    manifest = json.loads((data / "manifest.json").read_text())
    digest = object_look_sha256(out, meta)
    assert manifest["object"] == {"name": "corner", "dir": str(out), "look_sha256": digest}
    assert manifest["config"]["object_sha256"] == digest and manifest["camera"] == meta["camera"]
    ds = open_dataset(data)
    images, labels = ds.get(np.arange(4))
    config = shards.read_config(data)
    np.testing.assert_array_equal(labels, np.concatenate([randomize.sample_shard(config, i).quats for i in range(2)]))
    assert images.std() > 20 and len({im.tobytes() for im in images}) == 4
    # The same seed renders the same bytes (shard 0 again, alone, in another folder).
    again = tmp_path / "again"
    assert render_dataset(again, config, shard=0, num_shards=2, show_progress=False) is None
    assert (again / shards.images_name(0)).read_bytes() == (data / shards.images_name(0)).read_bytes()
    # A user's camera setting wins over the object's.
    other = cli.main(["data", "render", "--object", str(out), "--out", str(tmp_path / "x"), "--num-images", "1",
                      "--set", "camera.fov_y_deg=30", "--shard", "1", "--num-shards", "2", "--no-progress"])
    assert other == 0
    cfg = shards.read_config(tmp_path / "x").camera
    assert cfg.fov_y_deg == 30 and list(cfg.position) == meta["camera"]["position"]


@pytest.mark.blender
@needs_bpy
def test_vertex_colours_come_through(tmp_path):
    """A vertex-coloured PLY (a typical scan): red at +x, blue at -x, rendered with its colours."""
    import trimesh

    mesh = trimesh.creation.box((0.2, 0.1, 0.06)).subdivide().subdivide()
    colours = np.where(mesh.vertices[:, :1] > 0, [[255, 0, 0, 255]], [[0, 0, 255, 255]]).astype(np.uint8)
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colours)
    mesh.export(tmp_path / "scan.ply")
    out = tmp_path / "objects" / "scan"
    import_object(tmp_path / "scan.ply", out, ImportOptions(drops=8, preview=False))
    config = DatasetConfig(num_images=1, seed=1, object_dir=str(out), dr=DomainRandomization().disabled(),
                           lighting=LightingConfig(background=(0.0, 1.0, 0.0)), renderer=RendererConfig(samples=8))
    assert render_dataset(tmp_path / "data", config, show_progress=False) is not None
    image = open_dataset(tmp_path / "data").get(np.arange(1))[0][0].astype(int)
    obj = _object_mask(image.astype(np.uint8))
    red = obj & (image[..., 0] > 2 * image[..., 2]) & (image[..., 0] > 60)
    blue = obj & (image[..., 2] > 2 * image[..., 0]) & (image[..., 2] > 60)
    assert red.sum() > 100 and blue.sum() > 100, (red.sum(), blue.sum(), obj.sum())


def test_stale_or_missing_object_is_refused(tmp_path, capsys):
    # Not an object folder: one line, nothing rendered.
    assert cli.main(["data", "render", "--object", str(tmp_path / "nope"), "--out", str(tmp_path / "d"),
                     "--num-images", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an object folder" in err[0] and not (tmp_path / "d").exists()
    # A fake object folder (the check reads object.json and hashes visual.glb), then imported
    # again: new physics keeps the dataset, a new look makes it stale.
    obj = tmp_path / "obj"
    obj.mkdir()
    for name in (folder.MJCF, folder.VISUAL):
        (obj / name).write_bytes(b"")
    camera = {**CameraConfig().as_dict(), "position": [0.3, -0.3, 0.2]}
    (obj / folder.OBJECT_JSON).write_text(json.dumps({"format_version": folder.FORMAT_VERSION, "name": "obj",
                                                      "camera": camera}))
    config = with_object(DatasetConfig(num_images=2, object_dir=str(obj)))
    assert config.object_name == "obj" and config.camera.position == (0.3, -0.3, 0.2)
    assert with_object(config) == config
    data = tmp_path / "data"
    shards.write_config(data, config)
    (obj / folder.OBJECT_JSON).write_text(json.dumps({"format_version": folder.FORMAT_VERSION, "name": "obj",
                                                      "camera": camera, "mass": 2}))
    (obj / folder.MJCF).write_bytes(b"<mujoco/>")
    assert with_object(config) == config  # mass, MJCF: physics only
    (obj / folder.VISUAL).write_bytes(b"glTF")
    with pytest.raises(UserError, match="changed since this dataset was started"):
        with_object(config)
    with pytest.raises(UserError, match="changed since this dataset was started"):  # resuming it
        render_dataset(data, DatasetConfig(num_images=2, object_dir=str(obj)), show_progress=False)
    # The engine's config records no object.
    assert with_object(DatasetConfig()) == DatasetConfig()
    with pytest.raises(UserError, match="set object_dir"):
        with_object(DatasetConfig(object_sha256="ab"))


@pytest.mark.blender
@needs_bpy
def test_blender_failing_in_the_preview_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    source, _ = write_corner(tmp_path / "src")
    broken = tmp_path / "broken.py"
    broken.write_text("print('Blender says hello')\nraise SystemExit('Error: EXCEPTION_ACCESS_VIOLATION')\n")
    monkeypatch.setattr(preview, "SCRIPT", broken)
    out = tmp_path / "objects" / "corner"
    with pytest.raises(UserError, match="Blender failed rendering visual.glb .*EXCEPTION_ACCESS_VIOLATION"):
        import_object(source, out, ImportOptions(size=0.2, drops=8))
    assert not (tmp_path / "objects").exists()
    assert cli.main(["object", "import", str(source), "--out", str(out), "--size", "0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: preview.png: Blender failed") and "--no-preview" in err[0]
    assert not (tmp_path / "objects").exists()
    # --no-preview imports without Blender.
    assert cli.main(["object", "import", str(source), "--out", str(out), "--size", "0.2", "--no-preview"]) == 0
    assert folder.read_object(out)["preview"] is None and not (out / "preview.png").exists()
    shutil.rmtree(out)
