"""The engine asset: generated MJCF in sync with its source; plausible, asymmetric physics."""

import mujoco
import numpy as np

from orient_jax.assets import engine_spec, mjcf


def test_checked_in_mjcf_is_generated_from_the_spec():
    assert mjcf.MJCF_PATH.read_text() == mjcf.build_mjcf(), "engine.xml is stale: run `orient-jax asset`"


def test_model_loads_with_torque_motors_in_the_body_frame():
    model = mujoco.MjModel.from_xml_path(str(mjcf.MJCF_PATH))
    assert model.nu == 3 and model.njnt == 1 and model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    np.testing.assert_allclose(model.actuator_gear[:, 3:6], np.eye(3))
    assert np.all(model.actuator_ctrlrange[:, 1] == mjcf.action_scale())
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    # Torque about body x, with the body turned 90 deg about world z: the motor acts in the
    # body frame, so the angular acceleration is about the body's x (world y), not world x.
    data = mujoco.MjData(model)
    model.opt.gravity[:] = 0
    data.qpos[3:7] = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]
    data.qpos[2] = 2.0
    data.ctrl[:] = [1.0, 0.0, 0.0]
    mujoco.mj_step(model, data)
    omega_body = data.qvel[3:6]
    assert abs(omega_body[0]) > 10 * max(abs(omega_body[1]), abs(omega_body[2]))


def test_mass_and_inertia_are_plausible_and_asymmetric():
    mp = engine_spec.mass_properties()
    assert 3.0 < mp.mass < 8.0
    eig = np.linalg.eigvalsh(mp.inertia)
    assert np.all(eig > 0) and eig[0] + eig[1] >= eig[2]  # triangle inequality of a real body
    assert len(set(np.round(eig, 4))) == 3  # no two equal: no symmetric axis
    # Parts differ left/right and front/back: mirroring the object changes it.
    pos = np.array([p.pos for p in engine_spec.PARTS])
    assert not np.allclose(np.sort(pos[:, 1]), np.sort(-pos[:, 1]))
    assert not np.allclose(np.sort(pos[:, 0]), np.sort(-pos[:, 0]))


def test_collision_hull_contains_every_part():
    from scipy.spatial import Delaunay

    hull = Delaunay(engine_spec.collision_hull())
    for part in engine_spec.PARTS:
        pts = engine_spec.part_vertices(part, segments=12)
        assert np.all(hull.find_simplex(pts, tol=1e-9) >= 0), part.name


def test_torque_can_tip_the_engine_off_every_resting_face():
    mass = engine_spec.mass_properties().mass
    faces = mjcf.resting_faces()
    assert len(faces) >= 6
    assert any(normal[2] < -0.99 for normal, _ in faces)  # it can stand upright on its oil pan
    needed = max(mass * 9.81 * lever for normal, lever in faces if normal[2] > -0.99)
    assert needed < mjcf.action_scale() < 2 * needed
