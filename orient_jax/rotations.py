"""Quaternion algebra for orient-jax, in pure jax.numpy.

Conventions (DESIGN.md, fixed):
  - quaternions are [x, y, z, w] (scalar last), unit norm, canonical sign w >= 0;
  - q maps body-frame vectors to world-frame vectors: v_world = rotate(q, v_body);
  - MuJoCo stores [w, x, y, z]: `to_mujoco` / `from_mujoco` are the only conversions;
  - world is Z up; "tilt" is the angle between the body's +Z axis and world +Z;
  - the error between q1 and q2 is the geodesic angle 2*acos(|<q1, q2>|).

Every function broadcasts over leading axes: a quaternion is (..., 4), a vector (..., 3), a
matrix (..., 3, 3), so the same code serves one env, a vmapped batch or an ONNX graph.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def identity(shape: tuple[int, ...] = ()) -> jax.Array:
    """Identity quaternions, shape + (4,)."""
    return jnp.broadcast_to(jnp.array([0.0, 0.0, 0.0, 1.0]), tuple(shape) + (4,))


def canonicalize(q: jax.Array) -> jax.Array:
    """Same rotation with w >= 0, (..., 4)."""
    return jnp.where(q[..., 3:4] < 0, -q, q)


def normalize(q: jax.Array, eps: float = 1e-12) -> jax.Array:
    """Unit quaternion (..., 4); a (near-)zero input gives the identity, never NaN."""
    norm = jnp.linalg.norm(q, axis=-1, keepdims=True)
    safe = q / jnp.maximum(norm, eps)
    return jnp.where(norm > eps, safe, identity(q.shape[:-1]))


def conjugate(q: jax.Array) -> jax.Array:
    return q * jnp.array([-1.0, -1.0, -1.0, 1.0])


def inverse(q: jax.Array) -> jax.Array:
    """Inverse of a quaternion of any norm."""
    return conjugate(q) / jnp.sum(q * q, axis=-1, keepdims=True)


def multiply(q1: jax.Array, q2: jax.Array) -> jax.Array:
    """Hamilton product q1 * q2: rotate by q2 first, then by q1."""
    x1, y1, z1, w1 = jnp.moveaxis(q1, -1, 0)
    x2, y2, z2, w2 = jnp.moveaxis(q2, -1, 0)
    return jnp.stack([
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
    ], axis=-1)


def rotate(q: jax.Array, v: jax.Array) -> jax.Array:
    """Body-frame vector(s) v (..., 3) to the world frame."""
    u, w = q[..., :3], q[..., 3:4]
    t = 2.0 * jnp.cross(u, v)
    return v + w * t + jnp.cross(u, t)


def rotate_inverse(q: jax.Array, v: jax.Array) -> jax.Array:
    """World-frame vector(s) v (..., 3) to the body frame."""
    return rotate(conjugate(q), v)


def to_mujoco(q: jax.Array) -> jax.Array:
    """[x, y, z, w] -> MuJoCo's [w, x, y, z]."""
    return jnp.concatenate([q[..., 3:4], q[..., :3]], axis=-1)


def from_mujoco(q_wxyz: jax.Array) -> jax.Array:
    """MuJoCo's [w, x, y, z] -> [x, y, z, w]."""
    return jnp.concatenate([q_wxyz[..., 1:4], q_wxyz[..., 0:1]], axis=-1)


def to_matrix(q: jax.Array) -> jax.Array:
    """Rotation matrix (..., 3, 3) whose columns are the body axes in the world frame."""
    x, y, z, w = jnp.moveaxis(normalize(q), -1, 0)
    return jnp.stack([
        jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        jnp.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        jnp.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


def from_matrix(m: jax.Array) -> jax.Array:
    """Canonical quaternion (..., 4) of rotation matrices (..., 3, 3).

    Branch-free Shepperd: build the four candidate quaternions (each accurate where its
    component is large) and pick the one with the largest diagonal term.
    """
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = jnp.stack([
        jnp.stack([1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] - m[..., 1, 2]], -1),
        jnp.stack([m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1], m[..., 0, 2] - m[..., 2, 0]], -1),
        jnp.stack([m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22, m[..., 1, 0] - m[..., 0, 1]], -1),
        jnp.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1], 1 + m00 + m11 + m22], -1),
    ], axis=-2)
    diag = jnp.stack([m00, m11, m22, m00 + m11 + m22], -1)
    best = jnp.argmax(diag, axis=-1)
    q = jnp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    return canonicalize(normalize(q))


def to_6d(q: jax.Array) -> jax.Array:
    """Continuous 6D representation (Zhou et al. 2019): the first two matrix columns, (..., 6)."""
    m = to_matrix(q)
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def matrix_from_6d(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Gram-Schmidt of two 3-vectors (..., 6) into a rotation matrix (..., 3, 3)."""
    a, b = x[..., :3], x[..., 3:6]
    c0 = a / jnp.maximum(jnp.linalg.norm(a, axis=-1, keepdims=True), eps)
    b = b - jnp.sum(c0 * b, axis=-1, keepdims=True) * c0
    c1 = b / jnp.maximum(jnp.linalg.norm(b, axis=-1, keepdims=True), eps)
    return jnp.stack([c0, c1, jnp.cross(c0, c1)], axis=-1)


def from_6d(x: jax.Array) -> jax.Array:
    """Canonical quaternion from the 6D representation."""
    return from_matrix(matrix_from_6d(x))


def from_axis_angle(axis: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotation by `angle` (rad, (...)) about `axis` ((..., 3), any nonzero length)."""
    axis = axis / jnp.maximum(jnp.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    half = 0.5 * jnp.asarray(angle)[..., None]
    return jnp.concatenate([axis * jnp.sin(half), jnp.cos(half)], axis=-1)


def from_rotvec(v: jax.Array) -> jax.Array:
    """Rotation vector (axis * angle, (..., 3)) to a quaternion; exact near zero."""
    angle = jnp.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle -> 1/2 as angle -> 0: use the Taylor series there (no 0/0).
    small = angle < 1e-4
    scale = jnp.where(small, 0.5 - angle * angle / 48.0, jnp.sin(half) / jnp.where(small, 1.0, angle))
    return jnp.concatenate([v * scale, jnp.cos(half)], axis=-1)


def to_rotvec(q: jax.Array) -> jax.Array:
    """Rotation vector (..., 3) with angle in [0, pi]."""
    q = canonicalize(normalize(q))
    s = jnp.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * jnp.arctan2(s, q[..., 3:4])
    scale = jnp.where(s < 1e-7, 2.0, angle / jnp.where(s < 1e-7, 1.0, s))
    return q[..., :3] * scale


def geodesic_angle(q1: jax.Array, q2: jax.Array) -> jax.Array:
    """Angle (rad, in [0, pi]) of the rotation between q1 and q2; sign-invariant.

    2*atan2(|vec|, |w|) of q1^-1 q2 rather than 2*acos(|<q1,q2>|): acos loses all precision
    near 0 in float32, exactly where a good pose estimate lives.
    """
    d = multiply(conjugate(normalize(q1)), normalize(q2))
    return 2.0 * jnp.arctan2(jnp.linalg.norm(d[..., :3], axis=-1), jnp.abs(d[..., 3]))


def geodesic_angle_deg(q1: jax.Array, q2: jax.Array) -> jax.Array:
    return jnp.rad2deg(geodesic_angle(q1, q2))


def tilt(q: jax.Array) -> jax.Array:
    """Angle (rad) between the body's +Z axis and world +Z.

    R_zz = 1 - 2(x^2 + y^2) = cos(tilt), so tilt = 2*atan2(sqrt(x^2+y^2), sqrt(z^2+w^2)),
    which stays accurate near 0 and pi.
    """
    q = normalize(q)
    return 2.0 * jnp.arctan2(jnp.linalg.norm(q[..., :2], axis=-1), jnp.linalg.norm(q[..., 2:], axis=-1))


def up_in_body(q: jax.Array) -> jax.Array:
    """World +Z in the body frame (..., 3): the third row of the rotation matrix."""
    return rotate_inverse(normalize(q), jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), q.shape[:-1] + (3,)))


def yaw(q: jax.Array) -> jax.Array:
    """Heading (rad) of the body's +X axis projected on the world XY plane."""
    x_axis = rotate(normalize(q), jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0]), q.shape[:-1] + (3,)))
    return jnp.arctan2(x_axis[..., 1], x_axis[..., 0])


def from_yaw(angle: jax.Array) -> jax.Array:
    """Rotation about world +Z by `angle` (rad)."""
    angle = jnp.asarray(angle)
    return from_axis_angle(jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), angle.shape + (3,)), angle)


def sample_uniform(key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
    """Uniform (Haar) random rotations, canonical, shape + (4,).

    A standard normal 4-vector is isotropic, so its direction is uniform on S^3, and S^3
    double-covers SO(3) evenly.
    """
    return canonicalize(normalize(jax.random.normal(key, tuple(shape) + (4,))))


def random_rotation_of_angle(key: jax.Array, angle: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
    """Rotations by exactly `angle` (rad, broadcast to `shape`) about uniformly random axes."""
    axis = jax.random.normal(key, tuple(shape) + (3,))
    return from_axis_angle(axis, jnp.broadcast_to(jnp.asarray(angle, jnp.float32), tuple(shape)))
