"""Rotations against independent references: scipy's Rotation (also scalar-last) and MuJoCo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats
from scipy.spatial.transform import Rotation

from orient_jax import rotations as R

SETTINGS = settings(max_examples=100, deadline=None)
unit = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 0.1).map(lambda v: np.asarray(v) / np.linalg.norm(v))
vec3 = st.lists(st.floats(-5, 5, allow_nan=False), min_size=3, max_size=3).map(np.asarray)

# jit once at import: hypothesis then calls compiled functions with numpy inputs.
multiply = jax.jit(R.multiply)
rotate, rotate_inverse = jax.jit(R.rotate), jax.jit(R.rotate_inverse)
to_matrix, from_matrix = jax.jit(R.to_matrix), jax.jit(R.from_matrix)
to_6d, from_6d, matrix_from_6d = jax.jit(R.to_6d), jax.jit(R.from_6d), jax.jit(R.matrix_from_6d)
geodesic, geodesic_deg = jax.jit(R.geodesic_angle), jax.jit(R.geodesic_angle_deg)
to_rotvec, from_rotvec = jax.jit(R.to_rotvec), jax.jit(R.from_rotvec)
tilt, up_in_body, yaw = jax.jit(R.tilt), jax.jit(R.up_in_body), jax.jit(R.yaw)
to_mujoco, from_mujoco = jax.jit(R.to_mujoco), jax.jit(R.from_mujoco)
I = np.array([0.0, 0.0, 0.0, 1.0])


def same_rotation(q1, q2, atol=2e-5):
    q1, q2 = np.asarray(q1, np.float64), np.asarray(q2, np.float64)
    return np.allclose(q1, q2, atol=atol) or np.allclose(q1, -q2, atol=atol)


def random_axes(n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, 3))
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# --- algebra -----------------------------------------------------------------------------------

@SETTINGS
@given(unit, unit, vec3)
def test_multiply_matches_scipy_composition(a, b, v):
    ab = multiply(a, b)
    assert same_rotation(ab, (Rotation.from_quat(a) * Rotation.from_quat(b)).as_quat())
    np.testing.assert_allclose(rotate(ab, v), rotate(a, rotate(b, v)), atol=5e-5)
    assert same_rotation(multiply(a, R.inverse(a)), I, atol=1e-6)
    assert same_rotation(multiply(a, R.conjugate(a)), I, atol=1e-6)


@SETTINGS
@given(unit, vec3)
def test_rotate_matches_scipy_apply(q, v):
    r = Rotation.from_quat(q)
    np.testing.assert_allclose(rotate(q, v), r.apply(v), atol=5e-5)
    np.testing.assert_allclose(rotate_inverse(q, v), r.inv().apply(v), atol=5e-5)
    np.testing.assert_allclose(rotate_inverse(q, rotate(q, v)), v, atol=5e-5)


def test_rotate_broadcasts_one_quaternion_over_many_vectors():
    q = R.sample_uniform(jax.random.PRNGKey(3), (2, 1))
    v = np.random.default_rng(0).normal(size=(5, 3))
    out = np.asarray(rotate(q, v))
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out[1], Rotation.from_quat(np.asarray(q[1, 0])).apply(v), atol=5e-5)


def test_mujoco_conversion_order_and_round_trip():
    q = jnp.array([0.1, 0.2, 0.3, 0.927])
    np.testing.assert_allclose(to_mujoco(q), [0.927, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(from_mujoco(to_mujoco(q)), q)
    batch = R.sample_uniform(jax.random.PRNGKey(5), (3, 4))
    np.testing.assert_array_equal(R.from_mujoco(R.to_mujoco(batch)), batch)
    np.testing.assert_array_equal(R.to_mujoco(R.from_mujoco(batch)), batch)


@SETTINGS
@given(unit, vec3)
def test_mujoco_rotates_the_same_way(q, v):
    mujoco = pytest.importorskip("mujoco")
    res = np.zeros(3)
    mujoco.mju_rotVecQuat(res, np.asarray(v, np.float64), np.asarray(to_mujoco(q), np.float64))
    np.testing.assert_allclose(rotate(q, v), res, atol=5e-5)


def test_normalize_is_safe_and_canonicalize_sets_sign():
    out = R.normalize(jnp.array([[0.0, 0.0, 0.0, 0.0], [1e-30, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, -7.0],
                                 [3.0, 0.0, 4.0, 0.0], [1e-6, 0.0, 0.0, 0.0]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], [0, 0, 0, 1])
    np.testing.assert_allclose(out[1], [0, 0, 0, 1])
    np.testing.assert_allclose(out[3], [0.6, 0, 0.8, 0], atol=1e-7)
    np.testing.assert_allclose(out[4], [1, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(R.canonicalize(out)[2], [0, 0, 0, 1])
    assert np.all(np.asarray(R.canonicalize(-R.sample_uniform(jax.random.PRNGKey(0), (100,))))[:, 3] >= 0)
    np.testing.assert_allclose(R.inverse(jnp.array([0.0, 0.0, 0.0, 2.0])), [0, 0, 0, 0.5])
    assert np.all(np.isfinite(R.inverse(jnp.zeros(4))))


@SETTINGS
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=4))
def test_normalize_of_any_input_is_unit(v):
    out = np.asarray(jax.jit(R.normalize)(np.asarray(v)))
    assert np.all(np.isfinite(out)) and abs(np.linalg.norm(out) - 1) < 1e-5


def test_gradients_are_finite_at_singular_points():
    grads = [
        jax.grad(lambda q: R.normalize(q).sum())(jnp.zeros(4)),
        jax.grad(lambda q: R.geodesic_angle(jnp.array(I, jnp.float32), q))(jnp.array(I, jnp.float32)),
        jax.grad(R.tilt)(jnp.array(I, jnp.float32)),
        jax.grad(lambda q: R.to_rotvec(q).sum())(jnp.array(I, jnp.float32)),
        jax.grad(lambda v: R.from_rotvec(v).sum())(jnp.zeros(3)),
        jax.grad(lambda x: R.matrix_from_6d(x).sum())(jnp.array([1.0, 0, 0, 0, 1, 0])),
        jax.grad(lambda m: R.from_matrix(m).sum())(jnp.eye(3)),
    ]
    for g in grads:
        assert np.all(np.isfinite(g))
    # d rotvec / d vec = 2 I at the identity.
    np.testing.assert_allclose(jax.jacobian(R.to_rotvec)(jnp.array(I, jnp.float32))[:, :3], 2 * np.eye(3))


# --- matrices and the 6D representation --------------------------------------------------------

@SETTINGS
@given(unit)
def test_matrix_matches_scipy_and_round_trips(q):
    m = to_matrix(q)
    np.testing.assert_allclose(m, Rotation.from_quat(q).as_matrix(), atol=1e-5)
    back = from_matrix(m)
    assert back[3] >= 0 and same_rotation(back, q, atol=1e-5)
    # from an exact (float64) matrix too, against scipy's own inverse map
    ref = Rotation.from_quat(q).as_matrix()
    assert same_rotation(from_matrix(ref), Rotation.from_matrix(ref).as_quat(), atol=1e-5)


def test_matrix_columns_are_body_axes_in_world():
    q = R.sample_uniform(jax.random.PRNGKey(9), (10,))
    m = np.asarray(to_matrix(q))
    for k in range(3):
        np.testing.assert_allclose(m[..., :, k], rotate(q, np.eye(3)[k]), atol=1e-5)


@pytest.mark.parametrize("angle", [np.pi, np.pi - 1e-3, np.pi - 1e-6, 1e-6, 0.0])
def test_from_matrix_handles_half_turns_and_near_identity(angle):
    axes = np.concatenate([np.eye(3), -np.eye(3), random_axes(50)])
    rots = Rotation.from_rotvec(axes * angle)
    q = np.asarray(from_matrix(rots.as_matrix()))
    assert np.all(np.isfinite(q)) and np.all(q[:, 3] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-6)
    err = (Rotation.from_quat(q.astype(np.float64)).inv() * rots).magnitude()
    assert err.max() < 1e-5


@SETTINGS
@given(unit, st.lists(st.floats(-0.3, 0.3), min_size=6, max_size=6), st.floats(0.1, 10))
def test_6d_round_trip_and_robust_gram_schmidt(q, noise, scale):
    x = np.asarray(to_6d(q))
    m = Rotation.from_quat(q).as_matrix()
    np.testing.assert_allclose(x, np.concatenate([m[:, 0], m[:, 1]]), atol=1e-5)
    assert same_rotation(from_6d(x), q, atol=1e-5)
    assert same_rotation(from_6d(x * scale), q, atol=1e-5)  # scale-free
    mp = np.asarray(matrix_from_6d((x + np.asarray(noise)) * scale), np.float64)
    np.testing.assert_allclose(mp.T @ mp, np.eye(3), atol=1e-5)
    assert abs(np.linalg.det(mp) - 1) < 1e-5
    assert from_6d((x + np.asarray(noise)) * scale)[3] >= 0


def test_matrix_from_6d_degenerate_input_is_finite():
    x = jnp.array([[0.0] * 6, [1.0, 0, 0, 2.0, 0, 0], [1e-30, 0, 0, 0, 1e-30, 0]])
    assert np.all(np.isfinite(R.matrix_from_6d(x))) and np.all(np.isfinite(R.from_6d(x)))


# --- axis-angle, rotation vectors, angles ------------------------------------------------------

@SETTINGS
@given(unit)
def test_rotvec_matches_scipy(q):
    ours = np.asarray(to_rotvec(q), np.float64)
    # At exactly pi both v and -v are right: compare the rotations and the angle.
    assert same_rotation(Rotation.from_rotvec(ours).as_quat(), q, atol=5e-5)
    assert abs(np.linalg.norm(ours) - Rotation.from_quat(q).magnitude()) < 5e-5
    assert np.linalg.norm(ours) <= np.pi + 1e-6
    back = from_rotvec(Rotation.from_quat(q).as_rotvec())
    assert back[3] >= 0 and same_rotation(back, q, atol=5e-5)


@SETTINGS
@given(vec3, st.floats(-2 * np.pi, 2 * np.pi))
def test_from_axis_angle_matches_scipy(axis, angle):
    if np.linalg.norm(axis) < 1e-3:
        return
    ours = np.asarray(jax.jit(R.from_axis_angle)(axis, angle))
    ref = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_quat()
    assert ours[3] >= 0 and same_rotation(ours, ref, atol=5e-5)


def test_rotvec_is_exact_near_zero():
    v = jnp.array([1e-9, -2e-9, 0.0])
    np.testing.assert_allclose(from_rotvec(v), [5e-10, -1e-9, 0, 1], atol=1e-12)
    np.testing.assert_allclose(from_rotvec(jnp.zeros(3)), I)
    np.testing.assert_allclose(to_rotvec(I), np.zeros(3))
    np.testing.assert_allclose(to_rotvec(from_rotvec(v)), v, rtol=1e-5, atol=1e-15)


@SETTINGS
@given(unit, unit)
def test_geodesic_angle_matches_scipy_and_ignores_sign(a, b):
    expected = (Rotation.from_quat(a).inv() * Rotation.from_quat(b)).magnitude()
    got = float(geodesic(a, b))
    assert abs(got - expected) < 1e-3
    assert abs(float(geodesic(a, -b)) - got) < 1e-6
    assert abs(float(geodesic(-a, b)) - got) < 1e-6
    assert abs(float(geodesic(b, a)) - got) < 1e-5
    assert 0.0 <= got <= np.pi + 1e-6
    assert abs(float(geodesic_deg(a, b)) - np.degrees(got)) < 1e-3


@pytest.mark.parametrize("angle", [1e-5, 1e-3, 0.5, np.pi - 1e-3, np.pi])
def test_geodesic_angle_is_precise_at_the_ends(angle):
    base = R.sample_uniform(jax.random.PRNGKey(2), (20,))
    delta = R.from_axis_angle(jnp.asarray(random_axes(20, 1), jnp.float32), angle)
    got = np.asarray(geodesic(base, R.multiply(base, delta)))
    np.testing.assert_allclose(got, angle, rtol=1e-3, atol=1e-6)


@SETTINGS
@given(unit)
def test_tilt_and_up_in_body(q):
    m = Rotation.from_quat(q).as_matrix()
    assert abs(float(tilt(q)) - np.arccos(np.clip(m[2, 2], -1, 1))) < 1e-3
    up = np.asarray(up_in_body(q))
    np.testing.assert_allclose(up, m[2, :], atol=1e-5)
    np.testing.assert_allclose(up, Rotation.from_quat(q).inv().apply([0, 0, 1]), atol=1e-5)
    assert abs(float(tilt(-q)) - float(tilt(q))) < 1e-6


@pytest.mark.parametrize("angle", [1e-5, 1e-3, 1.0, np.pi - 1e-3, np.pi])
def test_tilt_is_precise_at_the_ends(angle):
    # any horizontal axis tilts by exactly `angle`, whatever yaw is applied first
    axes = random_axes(20, 4) * np.array([1, 1, 0])
    q = R.multiply(R.from_axis_angle(jnp.asarray(axes, jnp.float32), angle),
                   R.from_yaw(jnp.linspace(-3, 3, 20)))
    np.testing.assert_allclose(tilt(q), angle, rtol=1e-3, atol=1e-6)


def test_yaw_round_trip_and_matches_matrix_heading():
    a = jnp.linspace(-3.1, 3.1, 41)
    np.testing.assert_allclose(yaw(R.from_yaw(a)), a, atol=1e-5)
    assert np.all(np.asarray(R.from_yaw(a))[:, 3] >= 0)
    q = np.asarray(R.sample_uniform(jax.random.PRNGKey(6), (500,)), np.float64)
    m = Rotation.from_quat(q).as_matrix()
    heading = np.arctan2(m[:, 1, 0], m[:, 0, 0])
    ok = np.hypot(m[:, 1, 0], m[:, 0, 0]) > 1e-2  # heading is undefined with +X vertical
    diff = np.angle(np.exp(1j * (np.asarray(yaw(q)) - heading)))
    assert np.abs(diff[ok]).max() < 1e-4
    # a yaw about world Z leaves tilt alone and adds to the heading
    q2 = R.multiply(R.from_yaw(0.7), q)
    np.testing.assert_allclose(tilt(q2), tilt(q), atol=1e-5)
    diff = np.angle(np.exp(1j * (np.asarray(yaw(q2)) - heading - 0.7)))
    assert np.abs(diff[ok]).max() < 1e-4


# --- sampling -----------------------------------------------------------------------------------

def test_sampler_is_uniform_on_so3():
    n = 20000
    k_sample, k_sign = jax.random.split(jax.random.PRNGKey(42))
    q = np.asarray(R.sample_uniform(k_sample, (n,)), np.float64)
    assert q.shape == (n, 4) and np.all(q[:, 3] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    # Haar measure: the rotation angle has density (1 - cos t) / pi, CDF (t - sin t) / pi.
    angles = Rotation.from_quat(q).magnitude()
    assert stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue > 1e-3
    # A fixed vector is sent uniformly over the sphere: each coordinate is U[-1, 1].
    v = Rotation.from_quat(q).apply([0.0, 0.0, 1.0])
    for k in range(3):
        assert stats.kstest(v[:, k], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # With a random sign, the quaternions are uniform on S^3: zero mean (std of the mean ~0.0035).
    sign = np.where(np.asarray(jax.random.bernoulli(k_sign, 0.5, (n,))), 1.0, -1.0)
    assert np.all(np.abs((q * sign[:, None]).mean(0)) < 0.02)


def test_random_rotation_of_angle_has_that_angle():
    angles = jnp.linspace(0.0, jnp.pi, 50)
    q = R.random_rotation_of_angle(jax.random.PRNGKey(1), angles, (50,))
    assert q.shape == (50, 4) and np.all(np.asarray(q)[:, 3] >= 0)
    np.testing.assert_allclose(geodesic(R.identity((50,)), q), angles, rtol=1e-4, atol=1e-6)
    # scalar angle, batch shape; the axes are isotropic
    q = np.asarray(R.random_rotation_of_angle(jax.random.PRNGKey(2), 1.0, (5000,)))
    np.testing.assert_allclose(geodesic(R.identity((5000,)), q), 1.0, atol=1e-5)
    axes = q[:, :3] / np.linalg.norm(q[:, :3], axis=1, keepdims=True)
    assert np.abs(axes.mean(0)).max() < 0.05
    assert stats.kstest(axes[:, 2], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # the angle broadcasts against the shape
    assert R.random_rotation_of_angle(jax.random.PRNGKey(3), jnp.ones((3, 1)), (4,)).shape == (3, 4, 4)
    assert R.random_rotation_of_angle(jax.random.PRNGKey(3), 0.3).shape == (4,)


# --- shapes, jit, vmap --------------------------------------------------------------------------

UNARY = ["canonicalize", "normalize", "conjugate", "inverse", "to_mujoco", "from_mujoco", "to_matrix",
         "to_6d", "to_rotvec", "tilt", "up_in_body", "yaw"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_functions_jit_vmap_and_batch_agree(name):
    f = getattr(R, name)
    qs = R.sample_uniform(jax.random.PRNGKey(0), (5, 7))
    batched = jax.jit(f)(qs)
    np.testing.assert_allclose(jax.vmap(jax.vmap(f))(qs), batched, atol=1e-6)
    np.testing.assert_allclose(f(qs[2, 3]), batched[2, 3], atol=1e-6)


def test_other_functions_jit_vmap_and_batch_agree():
    k = jax.random.split(jax.random.PRNGKey(7), 3)
    a, b = R.sample_uniform(k[0], (6,)), R.sample_uniform(k[1], (6,))
    v = jax.random.normal(k[2], (6, 3))
    for f, args in [(R.multiply, (a, b)), (R.rotate, (a, v)), (R.rotate_inverse, (a, v)),
                    (R.geodesic_angle, (a, b)), (R.geodesic_angle_deg, (a, b)), (R.from_rotvec, (v,)),
                    (R.from_axis_angle, (v, v[:, 0])), (R.from_yaw, (v[:, 0],)),
                    (R.from_matrix, (R.to_matrix(a),)), (R.from_6d, (R.to_6d(a),)),
                    (R.matrix_from_6d, (R.to_6d(a),))]:
        np.testing.assert_allclose(jax.vmap(f)(*args), jax.jit(f)(*args), atol=1e-5)
    keys = jax.random.split(k[0], 4)
    assert jax.vmap(R.sample_uniform)(keys).shape == (4, 4)
    assert jax.vmap(R.random_rotation_of_angle)(keys, jnp.ones(4)).shape == (4, 4)
    assert jax.jit(R.sample_uniform, static_argnums=1)(keys[0], (2, 3)).shape == (2, 3, 4)
    assert R.identity((2, 3)).shape == (2, 3, 4)
    np.testing.assert_array_equal(R.identity(), I)
