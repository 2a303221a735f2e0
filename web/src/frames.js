// Frames and quaternions: the ONE place where the world's conventions meet three.js and MuJoCo.
//
// World (DESIGN.md): right-handed, Z up, metres. three.js: Y up. Every world-frame object of the
// page lives under a `worldRoot()` group, whose rotation maps world (x, y, z) to three
// (x, z, -y); inside it, positions and quaternions are plain world values.
// glTF (Blender's export) is Y up too, with the same map Blender (x, y, z) -> glTF (x, z, -y),
// so a .glb's content is wrapped in `gltfToBody()`, which undoes it back to the body frame.
//
// Quaternions outside MuJoCo are [x, y, z, w], unit, canonical w >= 0 (DESIGN.md); MuJoCo stores
// [w, x, y, z]: `fromMujoco` / `toMujoco` are the only conversions.
import * as THREE from 'three';

/** A group whose children are in world coordinates (Z up). */
export function worldRoot() {
  const g = new THREE.Group();
  g.name = 'world (Z up)';
  g.rotation.x = -Math.PI / 2;
  return g;
}

/** A group that takes glTF (Y up) content into the body frame (Z up). */
export function gltfToBody() {
  const g = new THREE.Group();
  g.name = 'glTF -> body';
  g.rotation.x = Math.PI / 2;
  return g;
}

/** World point/direction [x, y, z] -> three.js Vector3 (for things outside worldRoot, e.g. cameras). */
export function worldToThree(v) {
  return new THREE.Vector3(v[0], v[2], -v[1]);
}

/** three.js Vector3 -> world [x, y, z]. */
export function threeToWorld(v) {
  return [v.x, -v.z, v.y];
}

/** MuJoCo qpos[3:7] ([w, x, y, z]) -> canonical [x, y, z, w]. */
export function fromMujoco(wxyz, offset = 0) {
  return canonical([wxyz[offset + 1], wxyz[offset + 2], wxyz[offset + 3], wxyz[offset]]);
}

/** [x, y, z, w] -> MuJoCo [w, x, y, z]. */
export function toMujoco(q) {
  return [q[3], q[0], q[1], q[2]];
}

export function normalize(q) {
  const n = Math.hypot(q[0], q[1], q[2], q[3]);
  return n > 1e-12 ? q.map((c) => c / n) : [0, 0, 0, 1];
}

export function canonical(q) {
  const u = normalize(q);
  return u[3] < 0 ? u.map((c) => -c) : u;
}

export function multiply(a, b) {
  const [ax, ay, az, aw] = a, [bx, by, bz, bw] = b;
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}

/** Rotate body-frame vector v by q (body -> world). */
export function rotate(q, v) {
  const [x, y, z, w] = q;
  const tx = 2 * (y * v[2] - z * v[1]), ty = 2 * (z * v[0] - x * v[2]), tz = 2 * (x * v[1] - y * v[0]);
  return [v[0] + w * tx + (y * tz - z * ty), v[1] + w * ty + (z * tx - x * tz), v[2] + w * tz + (x * ty - y * tx)];
}

/** Geodesic angle between two rotations, degrees: 2 acos(|<q1, q2>|). */
export function angleDeg(q1, q2) {
  const a = normalize(q1), b = normalize(q2);
  const d = Math.min(1, Math.abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]));
  return (2 * Math.acos(d) * 180) / Math.PI;
}

/** Tilt: angle between the body's +Z axis in world and world +Z, degrees. */
export function tiltDeg(q) {
  const z = rotate(normalize(q), [0, 0, 1])[2];
  return (Math.acos(Math.max(-1, Math.min(1, z))) * 180) / Math.PI;
}

/** Axis-angle (radians) -> [x, y, z, w]. */
export function fromAxisAngle(axis, angle) {
  const n = Math.hypot(...axis) || 1, s = Math.sin(angle / 2) / n;
  return canonical([axis[0] * s, axis[1] * s, axis[2] * s, Math.cos(angle / 2)]);
}

/** Apply a world-frame quaternion [x, y, z, w] to a three.js object living under worldRoot(). */
export function setObjectQuat(obj, q) {
  obj.quaternion.set(q[0], q[1], q[2], q[3]);
}

// Seeded PRNG (mulberry32) so `?seed=` reproduces the random resets of a run.
export function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(next(), 1e-12), v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  // Uniform (Haar) rotation: an isotropic normal 4-vector, normalized (as rotations.sample_uniform).
  const quat = () => canonical([normal(), normal(), normal(), normal()]);
  return { next, normal, quat, uniform: (lo, hi) => lo + (hi - lo) * next() };
}
