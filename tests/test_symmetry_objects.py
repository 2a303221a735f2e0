"""An object's symmetry at import (orient_jax/objects/symmetry.py): `--symmetry SPEC` parsed into
its group, `auto` detection from the geometry (and colours) of trimesh primitives in their own
frame, declared specs checked against the geometry, and object.json's "symmetry" written by
`import_object` (no Blender, few drops)."""

import json
import math

import numpy as np
import pytest
import trimesh

from cli_helpers import run_cli
from orient_jax.errors import UserError
from orient_jax.objects import folder
from orient_jax.objects import symmetry as sym_lib
from orient_jax.objects.importer import ImportOptions, import_object
from orient_jax.symmetry import Symmetry


def _centred(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    mesh = mesh.copy()
    mesh.apply_translation(-mesh.center_mass)
    return mesh


def _is_group(sym: Symmetry) -> bool:
    """The elements with the identity are closed under products (q ~ -q)."""
    elements = [np.array(q) for q in sym.elements().astype(np.float64)]
    for a in elements:
        for b in elements:
            p = sym_lib._multiply(a, b)
            if not any(abs(np.dot(p, e)) > 1 - 1e-5 for e in elements):
                return False
    return True


def _turns_about(sym: Symmetry, axis) -> list[float]:
    """Angles (deg) of the discrete elements that are turns about `axis`."""
    out = []
    for q in sym.discrete:
        angle, a = sym_lib._angle_axis(np.array(q))
        if abs(abs(np.dot(a, axis)) - 1) < 1e-6:
            out.append(round(math.degrees(angle), 3))
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# --symmetry SPEC


@pytest.mark.parametrize("spec, count", [
    ("z:2", 1), ("z:4", 3), ("z:4,x:2", 7), ("z:4,x:4", 23), ("z:3,x:2", 5), ("x:2,y:2", 3),
    ("1/1/1:3,z:2", 11),  # the tetrahedron's rotations
    ("z:6, x:2", 11), ("-z:4", 3), ("1/1/0:2", 1),
])
def test_parse_spec_group_sizes(spec, count):
    sym = sym_lib.parse_spec(spec)
    assert len(sym.discrete) == count and not sym.axis
    assert _is_group(sym)
    for q in sym.discrete:
        assert q[3] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-9
    assert sym_lib.parse_spec(spec) == sym  # deterministic: same elements, same order
    assert Symmetry.from_card(json.loads(json.dumps(sym.to_card()))).order() == sym.order()


def test_parse_spec_continuous():
    can = sym_lib.parse_spec("z:inf")
    assert can.axis == (0.0, 0.0, 1.0) and can.discrete == ()
    assert sym_lib.parse_spec("-z:inf") == can  # only the axis's line matters
    flipped = sym_lib.parse_spec("z:inf,x:2")
    assert flipped.axis == (0.0, 0.0, 1.0) and flipped.discrete == ((1.0, 0.0, 0.0, 0.0),)
    # turns about the axis are absorbed; of the half turns across it one representative is kept
    assert sym_lib.parse_spec("z:inf,z:4,x:2,y:2") == flipped
    assert sym_lib.parse_spec("x:inf").axis == (1.0, 0.0, 0.0)
    card = flipped.to_card()
    assert card == {"discrete": [[1.0, 0.0, 0.0, 0.0]], "continuous": [{"axis": [0.0, 0.0, 1.0]}]}


@pytest.mark.parametrize("spec, expect", [
    ("z:inf,x:inf", "more than one inf"),
    ("q:2", "unknown axis 'q'"),
    ("1/1:2", "unknown axis"),
    ("0/0/0:2", "not a direction"),
    ("z:1", "below 2"),
    ("z:0", "below 2"),
    ("z:2.5", "not an integer"),
    ("z", "not AXIS:ORDER"),
    ("z:4,", "expected comma-separated"),
    ("", "expected comma-separated"),
    ("z:61", "more than 60"),
    ("z:5,x:3", "more than 60"),  # an infinite set of turns
    ("z:inf,x:4", "half turns across it"),
    ("z:inf,1/0/1:2", "half turns across it"),
])
def test_parse_spec_errors(spec, expect):
    with pytest.raises(UserError, match=expect) as info:
        sym_lib.parse_spec(spec)
    assert "\n" not in str(info.value)


def test_spec_of_what_detect_finds_parses_back():
    sym, report = sym_lib.detect(trimesh.creation.box((1.0, 1.0, 2.0)))
    assert report["spec"] == "z:4, x:2"
    assert sym_lib.parse_spec(report["spec"]) == sym


# ---------------------------------------------------------------------------------------------
# detect


def test_cylinder_any_turn_and_its_flip():
    sym, report = sym_lib.detect(trimesh.creation.cylinder(radius=0.5, height=2.0, sections=64))
    assert sym.axis == (0.0, 0.0, 1.0)
    assert len(sym.discrete) == 1 and abs(abs(np.dot(sym.discrete[0][:3], [0, 0, 1]))) < 1e-9  # a half turn across
    assert report["spec"] == "z:inf, x:2" and report["residual_pct"] < 2.0


def test_square_prism_8_and_cube_24():
    prism, report = sym_lib.detect(trimesh.creation.box((1.0, 1.0, 2.0)))
    assert len(prism.discrete) == 7 and not prism.axis and report["order"] == 8
    assert _turns_about(prism, [0, 0, 1]) == [90.0, 90.0, 180.0]
    assert _is_group(prism)
    cube, report = sym_lib.detect(trimesh.creation.box((1.0, 1.0, 1.0)))
    assert len(cube.discrete) == 23 and report["spec"] == "z:4, x:4" and _is_group(cube)
    brick, report = sym_lib.detect(trimesh.creation.box((1.0, 2.0, 3.0)))
    assert len(brick.discrete) == 3 and report["spec"] == "z:2, x:2"
    hexagon, _ = sym_lib.detect(trimesh.creation.cylinder(radius=0.5, height=0.3, sections=6))
    assert len(hexagon.discrete) == 11  # z:6 and the six half turns across


def test_cone_any_turn_no_flip():
    sym, report = sym_lib.detect(_centred(trimesh.creation.cone(radius=0.5, height=1.5, sections=64)))
    assert sym.axis == (0.0, 0.0, 1.0) and sym.discrete == ()
    assert report["spec"] == "z:inf"


def _lumpy() -> trimesh.Trimesh:
    """A capsule with a ball stuck on it off its axis: no symmetry at all."""
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    ball.apply_translation([0.35, 0.1, 0.3])
    return _centred(trimesh.util.concatenate([trimesh.creation.capsule(height=1.0, radius=0.4), ball]))


def test_asymmetric_mesh_has_none():
    sym, report = sym_lib.detect(_lumpy())
    assert sym.trivial and report["spec"] == "none" and report["residual_mm"] is None
    assert report["closest_miss"]["residual_pct"] > 2.0
    again = sym_lib.detect(_lumpy())[1]
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in report.items() if k != "seconds"}


def test_colours_break_a_cylinder_to_what_they_allow():
    cylinder = trimesh.creation.cylinder(radius=0.5, height=2.0, sections=64)
    # half red (x > 0), half white: only the half turn about x keeps the colours where they were
    colors = np.where(cylinder.vertices[:, :1] > 1e-9, [255, 0, 0], [255, 255, 255]).astype(np.uint8)
    sym, report = sym_lib.detect(cylinder, colors)
    assert not sym.axis and sym.discrete == ((1.0, 0.0, 0.0, 0.0),) and report["colors"] == "used"
    # a label (a callable colouring points) from 0 to 1.5 rad: the half turn across its middle only

    def label(points):
        inside = (np.arctan2(points[:, 1], points[:, 0]) % (2 * np.pi)) < 1.5
        return np.where(inside[:, None], [0.8, 0.1, 0.1], [0.9, 0.9, 0.9])

    sym, _ = sym_lib.detect(cylinder, label)
    assert not sym.axis and len(sym.discrete) == 1
    angle, axis = sym_lib._angle_axis(np.array(sym.discrete[0]))
    assert angle == pytest.approx(math.pi) and math.atan2(axis[1], axis[0]) == pytest.approx(0.75, abs=0.05)
    # uniform colours are ignored
    sym, report = sym_lib.detect(cylinder, np.full((len(cylinder.vertices), 3), 200, np.uint8))
    assert sym.axis and len(sym.discrete) == 1 and report["colors"] == "uniform"


def test_a_large_mesh_is_quick():
    mesh = trimesh.creation.cylinder(radius=0.5, height=2.0, sections=25000)  # 100k faces
    assert len(mesh.faces) == 100_000
    sym, report = sym_lib.detect(mesh)
    assert sym.axis and report["seconds"] < 10.0  # ~0.4 s on 2 busy cores


# ---------------------------------------------------------------------------------------------
# check_declared


def test_check_declared_warns_for_a_wrong_spec():
    brick = trimesh.creation.box((0.1, 0.2, 0.3))  # metres: the warnings say mm
    warnings = sym_lib.check_declared(brick, sym_lib.parse_spec("z:4"))
    assert warnings and all("\n" not in w for w in warnings)
    assert any("turn by 90 deg about z moves the surface by" in w and "% of its radius" in w for w in warnings)
    assert "does not look symmetric" in warnings[0]
    assert sym_lib.check_declared(brick, sym_lib.parse_spec("z:2,x:2")) == []
    assert any("continuous symmetry about z" in w for w in sym_lib.check_declared(brick, sym_lib.parse_spec("z:inf")))
    can = trimesh.creation.cylinder(radius=0.05, height=0.15, sections=64)
    assert sym_lib.check_declared(can, sym_lib.parse_spec("z:inf,x:2")) == []


# ---------------------------------------------------------------------------------------------
# object.json "symmetry" through import_object


def _import(tmp_path, mesh, name, **options):
    path = tmp_path / f"{name}.stl"
    mesh.export(path)
    options = {"drops": 8, "preview": False, "size": 0.2, **options}
    out = tmp_path / "objects" / name
    return out, import_object(path, out, ImportOptions(**options))


def test_import_records_the_symmetry(tmp_path):
    out, meta = _import(tmp_path, trimesh.creation.box((1.0, 1.0, 2.0)), "prism")
    card = json.loads((out / folder.OBJECT_JSON).read_text())["symmetry"]
    assert card["source"] == "auto" and card["spec"] == "z:4, x:2" and card["tolerance"] == sym_lib.TOLERANCE
    assert len(card["discrete"]) == 7 and card["continuous"] == [] and card["residual_mm"] < 0.1
    assert Symmetry.from_card(card) == folder.symmetry_of(out) and folder.symmetry_of(out).order() == 8
    assert sym_lib.summary_line(card).startswith("8 look-alike orientations (auto: z:4, x:2")
    # lying on its side (--up y): the square faces are now +-Y, so the 4-fold axis is y
    out, meta = _import(tmp_path, trimesh.creation.box((1.0, 1.0, 2.0)), "side", up="y")
    assert meta["symmetry"]["spec"] == "y:4, z:2"

    out, meta = _import(tmp_path, trimesh.creation.box((1.0, 1.0, 2.0)), "plain", symmetry="none")
    assert meta["symmetry"] == {"discrete": [], "continuous": [], "source": "none"}
    assert folder.symmetry_of(out).trivial and sym_lib.summary_line(meta["symmetry"]) == "none (--symmetry none)"


def test_import_checks_a_declared_spec(tmp_path):
    out, meta = _import(tmp_path, trimesh.creation.box((1.0, 2.0, 3.0)), "brick", symmetry="z:4")
    card = meta["symmetry"]
    assert card["source"] == "declared" and card["spec"] == "z:4" and len(card["discrete"]) == 3
    assert card["residual_pct"] > 2.0
    assert any(w.startswith("--symmetry z:4: the declared turn by 90 deg about z moves the surface by")
               for w in meta["warnings"])
    assert json.loads((out / folder.OBJECT_JSON).read_text())["warnings"] == meta["warnings"]
    out, meta = _import(tmp_path, trimesh.creation.cylinder(radius=0.5, height=2.0, sections=64), "can",
                        symmetry="z:inf,x:2")
    assert meta["symmetry"]["continuous"] == [{"axis": [0.0, 0.0, 1.0]}] and not meta["warnings"]


def test_a_bad_spec_writes_nothing(tmp_path):
    with pytest.raises(UserError, match="unknown axis 'w'"):
        _import(tmp_path, trimesh.creation.box((1.0, 1.0, 1.0)), "bad", symmetry="w:2")
    assert not (tmp_path / "objects").exists()
    path = tmp_path / "cube.stl"
    trimesh.creation.box((1.0, 1.0, 1.0)).export(path)
    out = tmp_path / "objects" / "cube"
    proc = run_cli("object", "import", str(path), "--out", str(out), "--size", "0.1", "--symmetry", "-z:0",
                   "--no-preview", timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == \
        ["error: --symmetry '-z:0': the order 0 is below 2 (a turn by 360 deg is no symmetry)"]
    assert not out.exists()
