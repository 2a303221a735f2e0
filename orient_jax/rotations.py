"""Quaternion algebra for orient-jax, in pure jax.numpy.

Conventions (docs/design.md, fixed):
  - quaternions are [x, y, z, w] (scalar last), unit norm, canonical sign w >= 0;
  - q maps body-frame vectors to world-frame vectors: v_world = rotate(q, v_body);
  - MuJoCo stores [w, x, y, z]: `to_mujoco` / `from_mujoco` are the only conversions;
  - world is Z up; "tilt" is the angle between the body's +Z axis (in world) and world +Z;
  - the error between q1 and q2 is the geodesic angle 2*acos(|<q1, q2>|), in radians,
    computed as 2*atan2(|vec(d)|, |w(d)|) with d = q1^-1 q2 (acos is useless near 0 in float32).

Every function broadcasts over leading axes: a quaternion is (..., 4), a vector (..., 3), a
matrix (..., 3, 3), so the same code serves one env, a vmapped batch or an exported graph.
Everything is jit/vmap-safe and branch-free, and gradients stay finite at the usual singular
points (zero vectors, identity rotations). Constructors return canonical quaternions (w >= 0);
`multiply` does not canonicalize (callers that store a result do).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _norm(v: jax.Array, keepdims: bool = False) -> jax.Array:
    """Euclidean norm over the last axis with a zero (not NaN) gradient at v = 0."""
    n2 = jnp.sum(v * v, axis=-1, keepdims=keepdims)
    pos = n2 > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, n2, 1.0)), 0.0)


def _unit(v: jax.Array, eps: float = 1e-12) -> jax.Array:
    """v / |v| over the last axis; a (near-)zero v stays (near-)zero instead of NaN."""
    return v * jax.lax.rsqrt(jnp.maximum(jnp.sum(v * v, axis=-1, keepdims=True), eps * eps))


def identity(shape: tuple[int, ...] = (), dtype=jnp.float32) -> jax.Array:
    """Identity quaternions [0, 0, 0, 1], shape + (4,)."""
    return jnp.broadcast_to(jnp.array([0.0, 0.0, 0.0, 1.0], dtype), tuple(shape) + (4,))


def canonicalize(q: jax.Array) -> jax.Array:
    """Same rotation with w >= 0, (..., 4)."""
    return jnp.where(q[..., 3:4] < 0, -q, q)


def normalize(q: jax.Array, eps: float = 1e-12) -> jax.Array:
    """Unit quaternion (..., 4); a (near-)zero input (norm <= eps) gives the identity, never NaN."""
    n2 = jnp.sum(q * q, axis=-1, keepdims=True)
    ok = n2 > eps * eps
    unit = q * jax.lax.rsqrt(jnp.where(ok, n2, 1.0))
    return jnp.where(ok, unit, jnp.array([0.0, 0.0, 0.0, 1.0], unit.dtype))


def conjugate(q: jax.Array) -> jax.Array:
    """[-x, -y, -z, w], (..., 4): the inverse rotation of a unit quaternion."""
    return jnp.concatenate([-q[..., :3], q[..., 3:]], axis=-1)


def inverse(q: jax.Array) -> jax.Array:
    """Multiplicative inverse (..., 4) of a quaternion of any nonzero norm (zero stays zero)."""
    n2 = jnp.sum(q * q, axis=-1, keepdims=True)
    return conjugate(q) / jnp.where(n2 > 0, n2, 1.0)


def multiply(q1: jax.Array, q2: jax.Array) -> jax.Array:
    """Hamilton product q1 * q2, (..., 4): rotate by q2 first, then by q1."""
    x1, y1, z1, w1 = jnp.moveaxis(q1, -1, 0)
    x2, y2, z2, w2 = jnp.moveaxis(q2, -1, 0)
    return jnp.stack([
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
    ], axis=-1)


def rotate(q: jax.Array, v: jax.Array) -> jax.Array:
    """Body-frame vector(s) v (..., 3) to the world frame by unit q (..., 4)."""
    u, w = q[..., :3], q[..., 3:4]
    t = 2.0 * jnp.cross(u, v)  # v' = v + w t + u x t: two cross products, no matrix
    return v + w * t + jnp.cross(u, t)


def rotate_inverse(q: jax.Array, v: jax.Array) -> jax.Array:
    """World-frame vector(s) v (..., 3) to the body frame of unit q (..., 4)."""
    return rotate(conjugate(q), v)


def to_mujoco(q_xyzw: jax.Array) -> jax.Array:
    """[x, y, z, w] -> MuJoCo's [w, x, y, z], (..., 4)."""
    return jnp.concatenate([q_xyzw[..., 3:4], q_xyzw[..., :3]], axis=-1)


def from_mujoco(q_wxyz: jax.Array) -> jax.Array:
    """MuJoCo's [w, x, y, z] -> [x, y, z, w], (..., 4)."""
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

    Branch-free Shepperd: each candidate below is 4*q_k*q, accurate when |q_k| is the largest
    component (|q_k| >= 1/2, so no cancellation, also at 180 degrees); 4*q_k^2 compares like
    the diagonal entries [m00, m11, m22, trace], so select on those with jnp.where.
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    qx = jnp.stack([1 + m00 - m11 - m22, m01 + m10, m02 + m20, m21 - m12], -1)
    qy = jnp.stack([m01 + m10, 1 - m00 + m11 - m22, m12 + m21, m02 - m20], -1)
    qz = jnp.stack([m02 + m20, m12 + m21, 1 - m00 - m11 + m22, m10 - m01], -1)
    qw = jnp.stack([m21 - m12, m02 - m20, m10 - m01, 1 + tr], -1)
    use_w = (tr >= m00) & (tr >= m11) & (tr >= m22)
    use_x = (m00 >= m11) & (m00 >= m22)
    use_y = m11 >= m22
    q = jnp.where(use_w[..., None], qw, jnp.where(use_x[..., None], qx, jnp.where(use_y[..., None], qy, qz)))
    return canonicalize(normalize(q))


def to_6d(q: jax.Array) -> jax.Array:
    """Continuous 6D representation (Zhou et al. 2019): [col0, col1] of the matrix, (..., 6)."""
    m = to_matrix(q)
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def matrix_from_6d(x: jax.Array) -> jax.Array:
    """Gram-Schmidt of the two 3-vectors in x (..., 6) into a rotation matrix (..., 3, 3).

    Any pair that is not (near-)parallel or zero gives an exact rotation (det +1).
    """
    c0 = _unit(x[..., :3])
    b = x[..., 3:6]
    c1 = _unit(b - jnp.sum(c0 * b, axis=-1, keepdims=True) * c0)
    return jnp.stack([c0, c1, jnp.cross(c0, c1)], axis=-1)


def from_6d(x: jax.Array) -> jax.Array:
    """Canonical quaternion (..., 4) from the 6D representation (..., 6)."""
    return from_matrix(matrix_from_6d(x))


def from_axis_angle(axis: jax.Array, angle: jax.Array) -> jax.Array:
    """Canonical rotation (..., 4) by `angle` (rad, (...)) about `axis` ((..., 3), nonzero)."""
    half = 0.5 * jnp.asarray(angle)[..., None]
    vec = _unit(axis) * jnp.sin(half)
    w = jnp.broadcast_to(jnp.cos(half), vec.shape[:-1] + (1,))
    return canonicalize(jnp.concatenate([vec, w], axis=-1))


def from_rotvec(v: jax.Array) -> jax.Array:
    """Canonical quaternion (..., 4) of a rotation vector v = axis * angle (..., 3); exact at 0."""
    a2 = jnp.sum(v * v, axis=-1, keepdims=True)
    small = a2 < 1e-8
    a = jnp.sqrt(jnp.where(small, 1.0, a2))
    # Below angle 1e-4 use Taylor series: sin(a/2)/a is 0/0 at a = 0 (and NaN-gradient near it).
    scale = jnp.where(small, 0.5 - a2 / 48.0, jnp.sin(0.5 * a) / a)
    w = jnp.where(small, 1.0 - a2 / 8.0, jnp.cos(0.5 * a))
    return canonicalize(jnp.concatenate([v * scale, w], axis=-1))


def to_rotvec(q: jax.Array) -> jax.Array:
    """Rotation vector axis * angle (..., 3) with angle in [0, pi]."""
    q = canonicalize(normalize(q))
    s = _norm(q[..., :3], keepdims=True)
    angle = 2.0 * jnp.arctan2(s, q[..., 3:4])
    # angle / s -> 2 / w = 2 as s -> 0.
    scale = jnp.where(s > 0, angle / jnp.where(s > 0, s, 1.0), 2.0)
    return q[..., :3] * scale


def geodesic_angle(q1: jax.Array, q2: jax.Array) -> jax.Array:
    """Angle (rad, (...), in [0, pi]) of the rotation taking q1 to q2; sign-invariant.

    2*atan2(|vec|, |w|) of q1^-1 q2 equals 2*acos(|<q1,q2>|) but keeps full precision near 0
    and pi; atan2 is scale-free, so q1, q2 need not be exactly unit.
    """
    d = multiply(conjugate(q1), q2)
    return 2.0 * jnp.arctan2(_norm(d[..., :3]), jnp.abs(d[..., 3]))


def geodesic_angle_deg(q1: jax.Array, q2: jax.Array) -> jax.Array:
    """`geodesic_angle` in degrees, (...)."""
    return jnp.rad2deg(geodesic_angle(q1, q2))


def tilt(q: jax.Array) -> jax.Array:
    """Angle (rad, (...), in [0, pi]) between the body's +Z axis in world and world +Z.

    R_zz = 1 - 2(x^2 + y^2) = cos(tilt), hence tilt = 2*atan2(|(x, y)|, |(z, w)|), which stays
    accurate near 0 and pi (and is scale-free).
    """
    return 2.0 * jnp.arctan2(_norm(q[..., :2]), _norm(q[..., 2:]))


def up_in_body(q: jax.Array) -> jax.Array:
    """World +Z expressed in the body frame, (..., 3): the third row of the rotation matrix."""
    x, y, z, w = jnp.moveaxis(normalize(q), -1, 0)
    return jnp.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)


def yaw(q: jax.Array) -> jax.Array:
    """Heading (rad, (...), in [-pi, pi]) of the body's +X axis projected on the world XY plane.

    0 when that axis is vertical (the heading is undefined there).
    """
    x, y, z, w = jnp.moveaxis(q, -1, 0)
    # First matrix column, times |q|^2 (atan2 is scale-free): [n2 - 2(y^2+z^2), 2(xy+zw), .].
    n2 = x * x + y * y + z * z + w * w
    return jnp.arctan2(2 * (x * y + z * w), n2 - 2 * (y * y + z * z))


def from_yaw(angle: jax.Array) -> jax.Array:
    """Canonical rotation (..., 4) about world +Z by `angle` (rad, (...))."""
    half = 0.5 * jnp.asarray(angle)
    zero = jnp.zeros_like(half)
    return canonicalize(jnp.stack([zero, zero, jnp.sin(half), jnp.cos(half)], axis=-1))


def sample_uniform(key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
    """Uniform (Haar) random rotations, canonical, shape + (4,).

    A standard normal 4-vector is isotropic, so its direction is uniform on S^3, and S^3
    double-covers SO(3) evenly.
    """
    return canonicalize(normalize(jax.random.normal(key, tuple(shape) + (4,))))


def random_rotation_of_angle(key: jax.Array, angle: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
    """Canonical rotations by exactly `angle` (rad) about uniformly random axes.

    `angle` broadcasts with `shape`; the result is broadcast_shapes(shape, angle.shape) + (4,).
    """
    angle = jnp.asarray(angle)
    out = jnp.broadcast_shapes(tuple(shape), angle.shape)
    axis = jax.random.normal(key, out + (3,))  # isotropic, so its direction is uniform on S^2
    return from_axis_angle(axis, jnp.broadcast_to(angle, out))
