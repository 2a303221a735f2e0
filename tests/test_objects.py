"""`orient-jax object import`: a mesh file in, an object folder out (orient_jax.objects).

Mass properties are checked against MuJoCo's own (a model of the same closed mesh with a
density), the written MJCF in MuJoCo (drop to rest, tip out of the hardest rest, never leave
the floor), the visual glb by parsing it, and every bad input for one error line and nothing
written. No training, no Blender; the drops that find the rests dominate the time (~2 s each
import), so most imports here use fewer drops than the default.
"""

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest
import trimesh
from PIL import Image

from cli_helpers import run_cli
from orient_jax.data.gltf import read_glb
from orient_jax.errors import UserError
from orient_jax.objects import folder, load, mass, torque
from orient_jax.objects.importer import UP_AXES, ImportOptions, import_object

REPO = Path(__file__).resolve().parent.parent

DENSITY = 700.0


def _fmt(a) -> str:
    return " ".join(f"{x:.10g}" for x in np.ravel(a))


def mujoco_reference(mesh: trimesh.Trimesh, density: float, inertia: str = "exact") -> mujoco.MjModel:
    """MuJoCo's own mass properties of `mesh` as a solid of `density` (its inertia algorithm:
    "exact" for a closed mesh, "convex" for its hull)."""
    xml = f"""<mujoco><asset><mesh name="m" vertex="{_fmt(mesh.vertices)}" face="{_fmt(mesh.faces)}"
      inertia="{inertia}"/></asset><worldbody><body><freejoint/>
      <geom type="mesh" mesh="m" density="{density:g}"/></body></worldbody></mujoco>"""
    return mujoco.MjModel.from_xml_string(xml)


def write_mesh(tmp_path: Path, mesh: trimesh.Trimesh, name: str) -> Path:
    path = tmp_path / name
    mesh.export(path)
    return path


def do_import(tmp_path, mesh_path, name, **options):
    options.setdefault("drops", 16)
    options.setdefault("preview", False)  # Blender's preview.png is tested in test_object_render.py
    out = tmp_path / "objects" / name
    meta = import_object(mesh_path, out, ImportOptions(**options))
    return out, meta


def body_of(model: mujoco.MjModel) -> int:
    return int(model.jnt_bodyid[0])


def check_mass(out: Path, reference: mujoco.MjModel, scale: float = 1.0) -> None:
    """object.xml's mass and principal inertia equal MuJoCo's for the reference mesh (1e-3)."""
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    b = body_of(model)
    np.testing.assert_allclose(model.body_mass[b], reference.body_mass[1] * scale ** 3, rtol=1e-3)
    np.testing.assert_allclose(np.sort(model.body_inertia[b]), np.sort(reference.body_inertia[1]) * scale ** 5,
                               rtol=1e-3)
    np.testing.assert_allclose(model.body_ipos[b], 0.0, atol=1e-12)  # recentred on the COM


# ---------------------------------------------------------------------------------------------
# One box imported with the default drops, shared by the mass, size, drop and torque tests.

BOX = (1.0, 2.0, 3.0)  # units of no particular size: --size makes it 0.2 m long


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("box")
    mesh = trimesh.creation.box(BOX)
    mesh.apply_translation([0.3, -0.2, 0.5])  # off-centre: the import recentres it
    out, meta = do_import(tmp, write_mesh(tmp, mesh, "box.stl"), "box", size=0.2, density=DENSITY, drops=128)
    return mesh, out, meta


def test_box_mass_matches_mujoco(box):
    mesh, out, meta = box
    scale = 0.2 / max(BOX)
    check_mass(out, mujoco_reference(mesh, DENSITY), scale)
    assert meta["mass"]["from"] == "mesh" and meta["mass"]["note"] is None
    np.testing.assert_allclose(meta["transform"]["com_offset_m"], -np.array([0.3, -0.2, 0.5]) * scale, atol=1e-8)


def test_size_scales_the_longest_extent(box):
    _, out, meta = box
    np.testing.assert_allclose(meta["size_m"], np.array(BOX) * 0.2 / 3.0, rtol=1e-5)
    assert meta["transform"]["scale"] == pytest.approx(0.2 / 3.0)
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    np.testing.assert_allclose(np.ptp(model.mesh_vert, axis=0), meta["size_m"], rtol=1e-5)


def test_folder_contents_and_camera(box):
    _, out, meta = box
    assert sorted(p.name for p in out.iterdir()) == sorted(folder.REQUIRED)
    assert folder.read_object(out) == json.loads((out / folder.OBJECT_JSON).read_text())
    assert meta["preview"] is None and meta["source"]["sha256"] and meta["format_version"] == folder.FORMAT_VERSION
    radius = meta["bounding_radius_m"]
    assert radius == pytest.approx(np.linalg.norm(np.array(BOX) / 2) * 0.2 / 3.0, rel=1e-5)
    # the engine's camera, its distance scaled by the radius: the same view of a smaller object
    ratio = np.linalg.norm(meta["camera"]["position"]) / np.linalg.norm([0.45, -0.45, 0.36])
    assert ratio == pytest.approx(radius / 0.2191, rel=2e-3)
    assert meta["camera"]["fov_y_deg"] == 40.0 and meta["camera"]["width"] == 128
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    assert model.body_pos[body_of(model), 2] == pytest.approx(radius + 0.01, abs=1e-5)
    assert [model.actuator_ctrlrange[i, 1] for i in range(3)] == [meta["torque"]["limit_nm"]] * 3


def test_dropped_object_comes_to_rest_on_the_floor(box):
    _, out, meta = box
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        mujoco.mj_resetData(model, data)
        q = rng.normal(size=4)
        data.qpos[3:7] = q / np.linalg.norm(q)
        data.qvel[3:6] = rng.normal(size=3)
        mujoco.mj_step(model, data, nstep=800)
        assert np.all(np.isfinite(data.qpos)) and np.linalg.norm(data.qvel) < 1e-2
        rot = data.xmat[body_of(model)].reshape(3, 3)
        lowest = (model.mesh_vert @ rot.T + data.qpos[:3])[:, 2].min()
        assert abs(lowest) < 2e-3  # on the floor, not in it, not above it
        assert np.abs(data.qpos[:2]).max() < meta["arena"]["half_size_m"]


def _card_differences(a, b, path: str = "", tol: float = 1e-3) -> list[str]:
    """Where two object.json cards differ: same keys, lengths and strings, numbers within `tol`."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _card_differences(a[k], b[k], f"{path}.{k}", tol)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _card_differences(x, y, f"{path}[{i}]", tol)]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return [] if abs(a - b) <= tol * max(1.0, abs(a), abs(b)) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _settle(model, data, quat_xyzw, radius):
    mujoco.mj_resetData(model, data)
    data.qpos[2] = radius + 0.01
    data.qpos[3:7] = np.r_[quat_xyzw[3], quat_xyzw[:3]]
    mujoco.mj_step(model, data, nstep=300)
    return data.qpos[3:7].copy()


def _push(model, data, torque_body, seconds=1.5):
    """Hold a body-frame torque until the object has turned 90 deg, then let go; (largest
    turn (deg), highest COM above the bounding radius (m))."""
    q0, turned, top = data.qpos[3:7].copy(), 0.0, -np.inf
    radius = float(model.geom_size[model.ngeom - 1, 0])
    for _ in range(int(seconds / model.opt.timestep)):
        angle = np.degrees(2 * np.arccos(min(1.0, abs(float(q0 @ data.qpos[3:7])))))
        turned = max(turned, angle)
        data.ctrl[:] = torque_body if turned < 90 else 0.0
        mujoco.mj_step(model, data)
        top = max(top, data.qpos[2] - radius)
    return turned, top


def test_torque_limit_tips_the_hardest_rest_but_never_lifts_it(box):
    _, out, meta = box
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    data = mujoco.MjData(model)
    limit, radius = meta["torque"]["limit_nm"], meta["bounding_radius_m"]
    rests = [r for r in meta["rests"] if not r["upright"]]
    hardest = max(rests, key=lambda r: r["tip_torque_nm"])
    # a 1:2:3 box: upright on its smallest face; hardest off its largest face, over the long edge
    assert any(r["upright"] for r in meta["rests"]) and len(meta["rests"]) == 6
    assert hardest["lever_m"] == pytest.approx(BOX[1] / 2 * 0.2 / 3.0, rel=1e-3)
    # lying on its largest face it must be lifted over the long edge of its base: m g x half its
    # height (0.1 m), more than any rest's tip (the path rule, 1.1 x that, sets the limit)
    mg = meta["mass"]["kg"] * 9.81
    assert meta["torque"]["path_to_upright_nm"] == pytest.approx(mg * BOX[2] / 2 * 0.2 / 3.0, rel=1e-3)
    assert limit == pytest.approx(max(1.4 * hardest["tip_torque_nm"], 1.1 * meta["torque"]["path_to_upright_nm"]), rel=5e-3)
    assert limit < meta["torque"]["flight_bound_nm"]
    axis = np.array(hardest["tip_axis"])
    for push, tips in ((0.9 * hardest["tip_torque_nm"], False), (limit, True)):  # 0.9 x the tip torque holds, the limit tips
        _settle(model, data, hardest["quat_xyzw"], radius)
        turned, top = _push(model, data, push * axis)
        assert (turned > 60) == tips, (scale, turned)
        assert top < 1e-3, top  # the centre of mass never rises above r: it never leaves the floor
    # every other rest is left with the limit too, and never in the air
    for rest in rests:
        _settle(model, data, rest["quat_xyzw"], radius)
        turned, top = _push(model, data, limit * np.array(rest["tip_axis"]))
        assert turned > 60 and top < 1e-3, (rest, turned, top)


def test_a_straight_roll_to_upright_needs_the_lever_of_its_first_edge():
    """A 2a x 2b x 2c box lying on its -Y face rolls to upright about the edge it shares with its
    bottom face: gravity's torque about that edge is largest at the start, m g c (the centre of
    mass c away from the edge, horizontally), and gone once the centre passes over the edge."""
    from scipy.spatial.transform import Rotation

    a, b, c, mass = 0.05, 0.08, 0.12, 2.0
    corners = np.array([[x, y, z] for x in (-a, a) for y in (-b, b) for z in (-c, c)])
    side = Rotation.from_euler("x", 90, degrees=True).as_quat()  # body -Y down, body +Z along world -Y
    assert np.allclose(Rotation.from_quat(side).apply([0, -1.0, 0]), [0, 0, -1.0])
    need = torque.roll_torque(corners, np.zeros(3), mass, side)
    assert need == pytest.approx(mass * torque.GRAVITY * c, rel=1e-3)
    upright = np.array([0, 0, 0, 1.0])
    assert torque.roll_torque(corners, np.zeros(3), mass, upright) == 0.0


def test_engine_hull_gives_the_engines_torque_limit():
    """The simulated-rest method on the engine's own MJCF: the engine's analytic 3.94 N m."""
    from orient_jax.assets import mjcf as engine_mjcf

    result = torque.torque_limit(engine_mjcf.MJCF_PATH, engine_mjcf.PhysicsConfig().torque_margin, drops=64)
    assert result.limit == pytest.approx(engine_mjcf.action_scale(), abs=0.01)
    assert result.hardest == pytest.approx(engine_mjcf.max_tipping_torque(), rel=1e-3)


def test_the_engines_folder_is_the_built_in_engine(tmp_path):
    """`orient-jax object engine`: the engine through the object code. Its MJCF is engine.xml byte
    for byte (same scene writer), its drops give the engine's torque limit, its camera is the
    engine's, every env's defaults for it are the built-in ones, and the committed objects/engine
    is what the command writes now."""
    from orient_jax import object_ref, sim
    from orient_jax.assets import mjcf as engine_mjcf
    from orient_jax.export.manifest import DEFAULT_CAMERA

    out = tmp_path / "engine"
    proc = run_cli("object", "engine", "--out", str(out), "--no-preview", timeout=180)
    assert proc.returncode == 0 and "torque limit 3.94 N m" in proc.stdout, proc.stderr[-2000:]
    assert (out / folder.MJCF).read_bytes() == engine_mjcf.MJCF_PATH.read_bytes()
    assert (out / folder.VISUAL).read_bytes() == engine_mjcf.MJCF_PATH.with_suffix(".glb").read_bytes()
    obj = object_ref.resolve(out)
    assert obj.name == "engine" and obj.camera == DEFAULT_CAMERA
    for env in sim.ALL_ENVS:
        assert sim.default_config(env, obj.mjcf) == sim.default_config(env)
    committed = REPO / "objects" / "engine"
    for name in (folder.MJCF, folder.VISUAL):
        assert (committed / name).read_bytes() == (out / name).read_bytes(), name
    fresh, shipped = obj.meta, folder.read_object(committed)
    # The drops run in floating point, whose last digits differ between CPUs (the rests'
    # quaternions by ~3e-5 between the machine that wrote the card and an AMD EPYC).
    assert _card_differences({k: v for k, v in shipped.items() if k not in ("versions", "preview")},
                             {k: v for k, v in fresh.items() if k not in ("versions", "preview")}) == []
    again = run_cli("object", "engine", "--out", str(out), "--no-preview", timeout=60)
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["cylinder", "icosphere"])
def test_primitive_mass_matches_mujoco(tmp_path, shape):
    mesh = {"cylinder": lambda: trimesh.creation.cylinder(radius=0.05, height=0.2, sections=48),
            "icosphere": lambda: trimesh.creation.icosphere(subdivisions=3, radius=0.08)}[shape]()
    out, meta = do_import(tmp_path, write_mesh(tmp_path, mesh, f"{shape}.ply"), shape, mass=1.5)
    reference = mujoco_reference(mesh, 1.5 / mesh.volume)
    check_mass(out, reference)
    assert meta["mass"]["kg"] == pytest.approx(1.5)
    hull = meta["collision"]["hulls"][0]
    assert hull["vertices"] <= meta["collision"]["max_vertices"]
    if shape == "icosphere":  # 642 hull vertices: simplified to the budget, the gap reported
        assert hull["source_vertices"] == 642 and hull["vertices"] > 100 and 0 < hull["max_deviation_m"] < 0.004


def l_shape_with_a_hole() -> trimesh.Trimesh:
    """Two boxes in an L (overlapping at the corner), one triangle removed: not convex, not closed."""
    a = trimesh.creation.box((0.2, 0.05, 0.05))
    b = trimesh.creation.box((0.05, 0.05, 0.15))
    b.apply_translation([0.075, 0.0, 0.1])
    mesh = trimesh.util.concatenate([a, b])
    mesh.update_faces(np.arange(len(mesh.faces)) != 3)
    assert not mesh.is_watertight
    return mesh


def test_open_non_convex_mesh_uses_its_hull(tmp_path):
    mesh = l_shape_with_a_hole()
    out, meta = do_import(tmp_path, write_mesh(tmp_path, mesh, "l.obj"), "l_shape", density=DENSITY)
    assert meta["mass"]["from"] == "convex_hull"
    assert "not watertight" in meta["mass"]["note"] and meta["mass"]["note"] in meta["warnings"]
    check_mass(out, mujoco_reference(mesh.convex_hull, DENSITY))
    assert meta["mass"]["volume_m3"] == pytest.approx(mesh.convex_hull.volume, rel=1e-6)


def u_shape() -> trimesh.Trimesh:
    """A closed, clearly non-convex U: a base and two posts (three boxes side by side)."""
    parts = [trimesh.creation.box((0.2, 0.06, 0.05))]
    for x in (-0.075, 0.075):
        post = trimesh.creation.box((0.05, 0.06, 0.12))
        post.apply_translation([x, 0.0, 0.085])
        parts.append(post)
    return trimesh.util.concatenate(parts)


def test_decompose_gives_several_hulls_inside_the_objects_hull(tmp_path):
    """--collision decompose (CoACD): several convex hulls, each within the object's own hull and
    together reaching all of it, written as one collision geom each; the rests (on a plane only
    the convex hull counts) and so the torque limit stay those of the single hull."""
    from scipy.spatial import ConvexHull

    from orient_jax.sim import rigid_body

    path = write_mesh(tmp_path, u_shape(), "u.stl")
    hull_out, hull_meta = do_import(tmp_path, path, "u_hull", density=DENSITY, drops=64)
    out, meta = do_import(tmp_path, path, "u_parts", density=DENSITY, drops=64, collision="decompose")
    hulls = meta["collision"]["hulls"]
    assert meta["collision"]["kind"] == "decompose" and 2 <= len(hulls) <= 8, hulls
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    body = rigid_body.from_model(model)
    assert len(body.collision_geoms) == len(hulls)
    whole = ConvexHull(rigid_body.load(str(hull_out / folder.MJCF)).hull_points)
    outside = body.hull_points @ whole.equations[:, :3].T + whole.equations[:, 3]
    assert outside.max() <= 1e-6, outside.max()  # every part inside the object's hull (clipped to it)
    np.testing.assert_allclose(ConvexHull(body.hull_points).volume, whole.volume, rtol=0.05)
    # The posts' gap is not filled: some point between the posts' tops is in no part.
    gap = np.array([0.0, 0.0, 0.1]) - model.body_ipos[body_of(model)]
    assert not any(np.all(ConvexHull(body.hull_points[s]).equations[:, :3] @ gap + ConvexHull(body.hull_points[s]).equations[:, 3] <= 0)
                   for s in _geom_slices(model, body))
    assert meta["torque"]["limit_nm"] == pytest.approx(hull_meta["torque"]["limit_nm"], rel=0.1)


def _geom_slices(model, body) -> list[slice]:
    """Index ranges of each collision geom's points in body.hull_points."""
    out, start = [], 0
    for g in body.collision_geoms:
        n = int(model.mesh_vertnum[model.geom_dataid[g]])
        out.append(slice(start, start + n))
        start += n
    return out


def test_inside_out_and_hollow_meshes_are_solids():
    box = trimesh.creation.box((0.1, 0.2, 0.3))
    inverted = box.copy()
    inverted.invert()  # every face wound inward: a common export defect, repaired, not hulled
    props = mass.mass_properties(inverted, density=DENSITY)
    reference = mujoco_reference(box, DENSITY)
    assert props.source == "mesh" and props.mass == pytest.approx(reference.body_mass[1], rel=1e-6)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(props.inertia)), np.sort(reference.body_inertia[1]), rtol=1e-6)
    inner = trimesh.creation.box((0.08, 0.18, 0.28))
    inner.invert()  # a hollow: the inner shell wound inward is not an overlapping part
    hollow = mass.mass_properties(trimesh.util.concatenate([box, inner]), density=DENSITY)
    assert hollow.source == "mesh" and hollow.volume == pytest.approx(0.1 * 0.2 * 0.3 - 0.08 * 0.18 * 0.28)


def test_overlapping_closed_parts_use_the_hull(tmp_path):
    a, b = trimesh.creation.box((0.2, 0.1, 0.1)), trimesh.creation.box((0.1, 0.1, 0.2))
    scene = trimesh.Scene([a, b])  # two closed parts that overlap: their volumes would count twice
    path = tmp_path / "cross.glb"
    scene.export(path)
    out, meta = do_import(tmp_path, path, "cross", up="y")
    assert meta["source"]["parts"] == 2 and meta["mass"]["from"] == "convex_hull"
    assert "overlap" in meta["mass"]["note"]


@pytest.mark.parametrize("up", list(UP_AXES))
def test_up_axis_rotations(up):
    rotation = np.array(UP_AXES[up], float)
    axis = np.zeros(3)
    axis["xyz".index(up[-1])] = -1.0 if up.startswith("-") else 1.0
    np.testing.assert_allclose(rotation @ axis, [0, 0, 1])
    assert np.linalg.det(rotation) == pytest.approx(1.0)  # a turn, never a mirror


def test_y_up_mesh_comes_out_upright(tmp_path):
    cone = trimesh.creation.cone(radius=0.05, height=0.2, sections=32)  # apex at +z
    cone.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # apex now at +y
    assert cone.vertices[:, 1].max() == pytest.approx(0.2)
    out, meta = do_import(tmp_path, write_mesh(tmp_path, cone, "cone.stl"), "cone", up="y")
    np.testing.assert_allclose(meta["size_m"], [0.1, 0.1, 0.2], atol=2e-3)
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    apex = model.mesh_vert[np.argmax(model.mesh_vert[:, 2])]
    np.testing.assert_allclose(apex, [0.0, 0.0, 0.15], atol=1e-5)  # a cone's COM is h/4 above its base
    # the visual mesh, in glTF's Y-up frame: the apex is up there too
    visual = trimesh.load(out / folder.VISUAL, force="mesh")
    top = visual.vertices[np.argmax(visual.vertices[:, 1])]
    np.testing.assert_allclose(top, [0.0, 0.15, 0.0], atol=1e-5)
    assert [r for r in meta["rests"] if r["upright"]]  # it stands on its base


def test_textured_obj_keeps_its_texture(tmp_path):
    Image.fromarray((np.random.default_rng(0).random((8, 8, 3)) * 255).astype(np.uint8)).save(tmp_path / "skin.png")
    (tmp_path / "toy.mtl").write_text("newmtl skin\nKd 1 1 1\nmap_Kd skin.png\n")
    box = trimesh.creation.box((0.1, 0.2, 0.3))
    lines = ["mtllib toy.mtl", "o toy"]
    lines += [f"v {x:g} {y:g} {z:g}" for x, y, z in box.vertices]
    lines += [f"vt {x + 0.5:g} {y + 0.5:g}" for x, y, _ in box.vertices / [0.1, 0.2, 0.3]]
    lines += ["usemtl skin"] + [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in box.faces + 1]
    (tmp_path / "toy.obj").write_text("\n".join(lines) + "\n")
    out, meta = do_import(tmp_path, tmp_path / "toy.obj", "toy", source_note="made in a test, CC0")
    doc, _ = read_glb(out / folder.VISUAL)
    assert doc.get("images") and doc.get("textures")
    assert any("baseColorTexture" in m.get("pbrMetallicRoughness", {}) for m in doc["materials"])
    assert meta["source"]["note"] == "made in a test, CC0" and meta["visual"]["textured_parts"] == 1
    assert meta["mass"]["from"] == "mesh"  # texture seams split vertices; cleaning welds them again


# ---------------------------------------------------------------------------------------------
# Bad input: one clear line, nothing written.


def _nothing_written(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    assert not objects.exists() or not any(objects.iterdir()), list(objects.iterdir())


def _bad_files(tmp_path: Path) -> dict:
    files = {}
    files["empty.stl"] = b""
    files["points.obj"] = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n"
    files["nan.obj"] = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv nan 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
    files["flat.obj"] = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\n"
    files["mesh.fbx"] = b"Kaydara FBX Binary"
    files["broken.glb"] = b"glTF not really"
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files}


@pytest.mark.parametrize("case, expect", [
    ("missing", "no mesh file"),
    ("mesh.fbx", "unknown mesh format"),
    ("broken.glb", "could not read"),
    ("empty.stl", "no triangles"),
    ("points.obj", "no triangles"),
    ("nan.obj", "NaN"),
    ("flat.obj", "zero volume"),
])
def test_bad_files(tmp_path, case, expect):
    paths = _bad_files(tmp_path)
    path = paths.get(case, tmp_path / "missing.obj")
    with pytest.raises(UserError, match=expect) as info:
        do_import(tmp_path, path, "bad")
    assert "\n" not in str(info.value)
    _nothing_written(tmp_path)


def test_too_many_faces(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "MAX_FACES", 100)
    path = write_mesh(tmp_path, trimesh.creation.icosphere(subdivisions=2), "ball.stl")  # 320 faces
    with pytest.raises(UserError, match="320 faces: too large to import \\(limit 100\\)"):
        do_import(tmp_path, path, "ball")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("options, expect", [
    ({"size": 0.0}, "--size must be a positive number"),
    ({"size": -0.2}, "--size must be a positive number"),
    ({"scale": 0.0}, "--scale must be a positive number"),
    ({"mass": -1.0}, "--mass must be a positive number"),
    ({"density": float("nan")}, "--density must be a positive number"),
    ({"size": 0.2, "scale": 2.0}, "not both"),
    ({"scale": 1e-5}, "would be 0.003 m long"),
    ({}, "units\\?"),  # 300 units, read as metres
    ({"collision": "convex", "size": 0.2}, "unknown --collision 'convex'"),
])
def test_bad_options(tmp_path, options, expect):
    path = write_mesh(tmp_path, trimesh.creation.box((100.0, 200.0, 300.0)), "big_units.stl")
    with pytest.raises(UserError, match=expect):
        do_import(tmp_path, path, "bad", **options)
    _nothing_written(tmp_path)


def test_a_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(torque, "torque_limit", boom)
    path = write_mesh(tmp_path, trimesh.creation.box((0.1, 0.1, 0.1)), "cube.stl")
    with pytest.raises(RuntimeError):
        do_import(tmp_path, path, "cube")
    assert not (tmp_path / "objects").exists()  # not even the parent folder it created


def test_cli_errors_are_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "objects" / "x"
    proc = run_cli("object", "import", str(tmp_path / "nope.obj"), "--out", str(out), timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [f"error: no mesh file at {tmp_path / 'nope.obj'}"]
    path = write_mesh(tmp_path, trimesh.creation.box((0.1, 0.1, 0.1)), "cube.stl")
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    proc = run_cli("object", "import", str(path), "--out", str(out), "--size", "0.2", timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "exists and is not empty (add --force" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cli_import_and_force(tmp_path):
    path = write_mesh(tmp_path, trimesh.creation.box((0.1, 0.15, 0.2)), "brick.stl")
    out = tmp_path / "objects" / "brick"
    out.mkdir(parents=True)  # an empty folder is fine
    # "--up -y" as a user types it (argparse alone would read "-y" as an option)
    proc = run_cli("object", "import", str(path), "--out", str(out), "--mass", "0.5", "--up", "-y", "--no-preview",
                   timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "torque limit" in proc.stdout and "mass 0.5 kg from the mesh" in proc.stdout
    meta = folder.read_object(out)
    assert meta["name"] == "brick" and meta["mass"]["kg"] == 0.5 and meta["transform"]["up_axis"] == "-y"
    with pytest.raises(UserError, match="not empty"):
        import_object(path, out, ImportOptions(drops=8))
    import_object(path, out, ImportOptions(force=True, mass=2.0, drops=8, preview=False))
    assert folder.read_object(out)["mass"]["kg"] == 2.0
    assert sorted(p.name for p in out.parent.iterdir()) == ["brick"]  # no staging left behind
