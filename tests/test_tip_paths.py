"""Path torques (`orient_jax.objects.tip_paths`): the least torque a slow roll from a rest to
upright needs, checked against geometry worked by hand and, for a can-like cylinder, against
C MuJoCo: its imported motors stand it up from its side, a smaller torque does not."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest
import trimesh

from cli_helpers import run_cli
from orient_jax.objects import folder, tip_paths
from orient_jax.symmetry import TRIVIAL, Symmetry

G = 9.81
FLIP = Symmetry(discrete=((1.0, 0.0, 0.0, 0.0),), axis=(0.0, 0.0, 1.0))
"""A cylinder's group: any turn about z, and the half turn that swaps its ends."""


def _paths(points, mass, starts, symmetry=TRIVIAL):
    return tip_paths.path_torques(points, np.zeros(3), mass, tip_paths.upright_downs(symmetry), np.asarray(starts, float),
                                  tolerance=1e-6)


def test_a_box_on_its_side_needs_the_distance_to_the_edge_it_shares_with_its_base():
    """2a x 2b x 2c, upright on -Z: from -Y (or -X) the cheapest way rolls over the edge shared
    with -Z, c away from the centre of mass; from +Z, over any side edge (min(a, b) away) and then
    that edge again; upright itself needs nothing."""
    a, b, c, mass = 0.05, 0.08, 0.12, 2.0
    corners = np.array([[x, y, z] for x in (-a, a) for y in (-b, b) for z in (-c, c)])
    costs = _paths(corners, mass, [[0, -1, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1]])
    assert costs == pytest.approx(mass * G * np.array([c, c, c, 0.0]), rel=1e-9)


def test_a_cylinder_on_its_side_must_be_lifted_over_its_rim_either_way_up():
    radius, height, mass = 0.03, 0.15, 0.5
    points = trimesh.creation.cylinder(radius=radius, height=height, sections=32).vertices
    side, top = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    # no symmetry: the top end is a rest like the side; both must come over a rim (h/2 away)
    assert _paths(points, mass, [side, top]) == pytest.approx([mass * G * height / 2] * 2, rel=1e-6)
    # its ends alike: standing on the top end is upright too
    assert _paths(points, mass, [side, top], FLIP) == pytest.approx([mass * G * height / 2, 0.0], rel=1e-6)
    # leaving the side costs almost nothing (it rolls), reaching upright does not
    assert mass * G * radius * np.sin(np.pi / 32) < 0.1 * _paths(points, mass, [side])[0]


def test_upright_downs_are_minus_z_turned_by_the_group():
    downs = tip_paths.upright_downs(FLIP, samples=8)
    assert np.allclose(np.unique(np.round(downs, 9), axis=0), [[0, 0, -1.0], [0, 0, 1.0]])
    assert np.allclose(tip_paths.upright_downs(TRIVIAL), [[0, 0, -1.0]])


@pytest.fixture(scope="module")
def can(tmp_path_factory):
    """A 0.15 m tall, 0.12 m wide cylinder through `orient-jax object import` (auto symmetry; squat
    enough that 1.1 x its path torque stays under the flight cap, 0.9 m g r)."""
    work = tmp_path_factory.mktemp("can")
    trimesh.creation.cylinder(radius=0.06, height=0.15, sections=32).export(work / "can.stl")
    out = run_cli("object", "import", str(work / "can.stl"), "--out", str(work / "can"), "--size", "0.15", "--no-preview")
    assert out.returncode == 0, out.stderr[-3000:]
    return work / "can", json.loads((work / "can" / folder.OBJECT_JSON).read_text())


def _stand_up(model, data, torque_scale: float, seconds: float = 3.0) -> float:
    """Lay the cylinder on its side, then hold `torque_scale` x its limit about the horizontal
    axis that turns its +Z end up, until its axis is within 10 deg of vertical; let go, settle,
    and return the axis's final tilt (deg, either end up)."""
    limit = float(model.actuator_ctrlrange[0, 1])
    mujoco.mj_resetData(model, data)
    data.qpos[2] = 0.2
    data.qpos[3:7] = [np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0]  # body z along world -y: lying
    mujoco.mj_step(model, data, nstep=500)
    body = model.nbody - 1

    def tilt():
        axis = data.xmat[body].reshape(3, 3)[:, 2]
        return float(np.degrees(np.arccos(min(1.0, abs(axis[2])))))

    for _ in range(int(seconds / model.opt.timestep)):
        rot = data.xmat[body].reshape(3, 3)
        lift = np.cross(rot[:, 2], [0.0, 0.0, 1.0])  # world axis turning the body's z towards up
        lift = lift / max(np.linalg.norm(lift), 1e-9)
        data.ctrl[:] = torque_scale * limit * (rot.T @ lift) if tilt() > 10.0 else 0.0
        mujoco.mj_step(model, data)
        assert data.qpos[2] < 0.2, "the motors threw it"
    data.ctrl[:] = 0.0
    mujoco.mj_step(model, data, nstep=1000)
    return tilt()


def test_an_imported_cylinders_motors_stand_it_up_from_its_side(can):
    """The torque rule, in the physics the policy trains in: the limit stands the cylinder on an
    end from its side; 0.8 x the path torque (what the tip rule alone gave the can, about) cannot."""
    out, meta = can
    torque = meta["torque"]
    assert torque["path_to_upright_nm"] == pytest.approx(meta["mass"]["kg"] * G * 0.075, rel=0.02)
    assert torque["limit_nm"] >= 1.1 * torque["path_to_upright_nm"] - 1e-3
    model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    data = mujoco.MjData(model)
    assert _stand_up(model, data, 1.0) < 5.0
    assert _stand_up(model, data, 0.8 * torque["path_to_upright_nm"] / torque["limit_nm"]) > 60.0
