"""Rotations against an independent reference (scipy's Rotation, also scalar-last)."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st
from scipy import stats
from scipy.spatial.transform import Rotation

from orient_jax import rotations as R

SETTINGS = settings(max_examples=60, deadline=None)
unit = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 0.1).map(lambda v: np.asarray(v) / np.linalg.norm(v))
vec3 = st.lists(st.floats(-5, 5, allow_nan=False), min_size=3, max_size=3).map(np.asarray)

multiply = jax.jit(R.multiply)
rotate = jax.jit(R.rotate)
to_matrix = jax.jit(R.to_matrix)
from_matrix = jax.jit(R.from_matrix)
to_6d, from_6d, matrix_from_6d = jax.jit(R.to_6d), jax.jit(R.from_6d), jax.jit(R.matrix_from_6d)
geodesic = jax.jit(R.geodesic_angle)
to_rotvec, from_rotvec = jax.jit(R.to_rotvec), jax.jit(R.from_rotvec)
tilt, up_in_body = jax.jit(R.tilt), jax.jit(R.up_in_body)


def same_rotation(q1, q2, atol=2e-5):
    q1, q2 = np.asarray(q1, np.float64), np.asarray(q2, np.float64)
    return np.allclose(q1, q2, atol=atol) or np.allclose(q1, -q2, atol=atol)


@SETTINGS
@given(unit, unit)
def test_multiply_matches_scipy_composition(a, b):
    expected = (Rotation.from_quat(a) * Rotation.from_quat(b)).as_quat()
    assert same_rotation(multiply(a, b), expected)


@SETTINGS
@given(unit, vec3)
def test_rotate_matches_scipy_apply(q, v):
    np.testing.assert_allclose(rotate(q, v), Rotation.from_quat(q).apply(v), atol=5e-5)
    np.testing.assert_allclose(R.rotate_inverse(q, rotate(q, v)), v, atol=5e-5)


@SETTINGS
@given(unit)
def test_matrix_round_trip_and_reference(q):
    m = to_matrix(q)
    np.testing.assert_allclose(m, Rotation.from_quat(q).as_matrix(), atol=2e-6)
    back = from_matrix(m)
    assert back[3] >= 0 and same_rotation(back, q, atol=5e-6)


def test_from_matrix_handles_half_turns():
    for axis in np.eye(3):
        q = R.from_axis_angle(jnp.asarray(axis), jnp.pi)
        assert same_rotation(from_matrix(to_matrix(q)), q)


@SETTINGS
@given(unit, st.lists(st.floats(-0.2, 0.2), min_size=6, max_size=6))
def test_6d_round_trip_and_robust_gram_schmidt(q, noise):
    assert same_rotation(from_6d(to_6d(q)), q, atol=5e-6)
    m = np.asarray(matrix_from_6d(np.asarray(to_6d(q)) + np.asarray(noise)))
    np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-5)
    assert abs(np.linalg.det(m) - 1) < 1e-5


@SETTINGS
@given(unit)
def test_rotvec_matches_scipy(q):
    ours = np.asarray(to_rotvec(q), np.float64)
    # At exactly pi both v and -v are right: compare the rotations and the angle.
    assert same_rotation(Rotation.from_rotvec(ours).as_quat(), q, atol=5e-5)
    assert abs(np.linalg.norm(ours) - Rotation.from_quat(q).magnitude()) < 5e-5
    assert same_rotation(from_rotvec(Rotation.from_quat(q).as_rotvec()), q, atol=5e-5)


def test_rotvec_is_exact_near_zero():
    v = jnp.array([1e-9, -2e-9, 0.0])
    np.testing.assert_allclose(from_rotvec(v), [5e-10, -1e-9, 0, 1], atol=1e-12)
    assert np.all(np.isfinite(to_rotvec(jnp.array([0.0, 0.0, 0.0, 1.0]))))


@SETTINGS
@given(unit, unit)
def test_geodesic_angle_matches_scipy_and_ignores_sign(a, b):
    expected = (Rotation.from_quat(a).inv() * Rotation.from_quat(b)).magnitude()
    assert abs(float(geodesic(a, b)) - expected) < 1e-3
    assert abs(float(geodesic(a, -b)) - expected) < 1e-3
    assert 0.0 <= float(geodesic(a, b)) <= np.pi + 1e-6


def test_geodesic_angle_is_precise_for_small_errors():
    q = R.from_axis_angle(jnp.array([0.3, -1.0, 0.2]), 1e-3)
    assert abs(float(geodesic(jnp.array([0.0, 0.0, 0.0, 1.0]), q)) - 1e-3) < 1e-6


@SETTINGS
@given(unit)
def test_tilt_and_up_in_body(q):
    m = Rotation.from_quat(q).as_matrix()
    assert abs(float(tilt(q)) - np.arccos(np.clip(m[2, 2], -1, 1))) < 2e-3
    np.testing.assert_allclose(up_in_body(q), m[2, :], atol=2e-6)


def test_mujoco_conversion_round_trip():
    q = jnp.array([0.1, 0.2, 0.3, 0.927])
    np.testing.assert_allclose(R.to_mujoco(q), [0.927, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(R.from_mujoco(R.to_mujoco(q)), q)


def test_normalize_is_safe_and_canonicalize_sets_sign():
    out = R.normalize(jnp.array([[0.0, 0.0, 0.0, 0.0], [1e-30, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, -7.0]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], [0, 0, 0, 1])
    np.testing.assert_allclose(R.canonicalize(out)[2], [0, 0, 0, 1])


def test_vmap_and_batch_shapes_agree():
    qs = R.sample_uniform(jax.random.PRNGKey(0), (5, 7))
    assert qs.shape == (5, 7, 4)
    batched = R.to_6d(qs)
    mapped = jax.vmap(jax.vmap(R.to_6d))(qs)
    np.testing.assert_allclose(batched, mapped, atol=1e-6)


def test_sampler_is_uniform_on_so3():
    n = 20000
    q = np.asarray(R.sample_uniform(jax.random.PRNGKey(42), (n,)), np.float64)
    assert np.all(q[:, 3] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    # Haar measure: the rotation angle has density (1 - cos t) / pi, CDF (t - sin t) / pi.
    angles = Rotation.from_quat(q).magnitude()
    assert stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue > 1e-3
    # A fixed vector is sent uniformly over the sphere: each coordinate is U[-1, 1].
    v = Rotation.from_quat(q).apply([0.0, 0.0, 1.0])
    for k in range(3):
        assert stats.kstest(v[:, k], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # The axis is isotropic too: the vector part has zero mean after the w >= 0 convention.
    assert np.all(np.abs(q[:, :3].mean(0)) < 0.02)


def test_random_rotation_of_angle_has_that_angle():
    angles = jnp.linspace(0.0, jnp.pi, 50)
    q = R.random_rotation_of_angle(jax.random.PRNGKey(1), angles, (50,))
    np.testing.assert_allclose(geodesic(R.identity((50,)), q), angles, atol=2e-3)
    axes = np.asarray(q[:, :3]) / np.maximum(np.linalg.norm(q[:, :3], axis=1, keepdims=True), 1e-9)
    assert np.abs(axes[1:].mean(0)).max() < 0.5  # not one fixed axis


def test_yaw_round_trip():
    for a in (-3.0, -1.0, 0.0, 0.5, 2.5):
        assert abs(float(R.yaw(R.from_yaw(a))) - a) < 1e-5
