// The object's symmetry group, and orientation errors taken modulo it: the page's copy of
// orient_jax/symmetry.py (`error_angle`, `tilt`), in degrees.
//
// A rotation S of the object frame is a symmetry when the object at orientation q (body ->
// world) and at q * S look the same, so q and q * S are the same answer. The manifest's
// top-level `symmetry` holds the group in the object card's form (BOP's, object frame):
//   {"discrete": [[x, y, z, w], ...], "continuous": [{"axis": [ax, ay, az]}]}
// `discrete`: the finite elements other than the identity; `continuous`: at most one axis about
// which any turn is a symmetry (a can). Absent (every asymmetric object): the trivial group, and
// each function returns exactly what F.angleDeg / F.tiltDeg return (the same call).
import * as F from './frames.js';

const EZ = [0, 0, 1];
const DEG = 180 / Math.PI;

/** The trivial group: no element besides the identity, no axis. */
export const TRIVIAL = Object.freeze({ discrete: Object.freeze([]), axis: null, trivial: true });

/** The manifest's `symmetry` (object-card form) -> {discrete: [[x, y, z, w], ...] (identity
 *  excluded, unit), axis: [ax, ay, az] (unit) or null, trivial}. null / absent / empty: trivial.
 *  Throws on what orient_jax/symmetry.py refuses (not quaternions, two continuous axes). */
export function parseSymmetry(card) {
  if (!card || (!card.discrete?.length && !card.continuous?.length)) return TRIVIAL;
  const finite = (v, n) => Array.isArray(v) && v.length === n && v.every((c) => typeof c === 'number' && Number.isFinite(c));
  const discrete = (card.discrete || []).map((q) => {
    if (!finite(q, 4) || Math.hypot(...q) < 1e-6) throw new Error(`manifest symmetry: ${JSON.stringify(q)} is not a quaternion [x, y, z, w]`);
    return F.normalize(q);
  });
  const continuous = card.continuous || [];
  if (continuous.length > 1) {
    throw new Error('manifest symmetry: more than one continuous axis (every orientation would look the same)');
  }
  let axis = null;
  if (continuous.length) {
    const a = continuous[0]?.axis;
    const n = finite(a, 3) ? Math.hypot(...a) : 0;
    if (!(n > 1e-6)) throw new Error(`manifest symmetry: the continuous axis ${JSON.stringify(a)} is not a 3-vector`);
    axis = a.map((c) => c / n);
  }
  return { discrete, axis, trivial: false };
}

/** Angle (degrees, [0, 180]) between two 3-vectors, accurate near 0 and 180 (atan2 form). */
function vectorAngleDeg(u, v) {
  const cx = u[1] * v[2] - u[2] * v[1], cy = u[2] * v[0] - u[0] * v[2], cz = u[0] * v[1] - u[1] * v[0];
  return Math.atan2(Math.hypot(cx, cy, cz), u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) * DEG;
}

/** q * S for every discrete element S, the identity first (q itself). */
function equivalents(q, sym) {
  return [q, ...sym.discrete.map((s) => F.multiply(q, s))];
}

/** Angle (degrees) between two orientations modulo the group (orient_jax.symmetry.error_angle):
 *  the smallest geodesic angle between q1 and any q2 * S; with a continuous axis a, the smallest
 *  angle between the axis's directions q1 * a and q2 * S * a (all one can see of the pose). */
export function angleDegModulo(q1, q2, sym = TRIVIAL) {
  if (!sym || sym.trivial) return F.angleDeg(q1, q2);
  const candidates = equivalents(F.normalize(q2), sym);
  if (!sym.axis) return Math.min(...candidates.map((c) => F.angleDeg(q1, c)));
  const seen = F.rotate(F.normalize(q1), sym.axis);
  return Math.min(...candidates.map((c) => vectorAngleDeg(seen, F.rotate(c, sym.axis))));
}

/** Tilt (degrees) modulo the group (orient_jax.symmetry.tilt): the smallest angle between world
 *  +Z and the body's +Z of any look-alike q * S (* a turn about the continuous axis a). Turning
 *  about a sweeps S * ez round a cone of half-angle beta_S = angle(a, S * ez), so world +Z is
 *  |angle(q * a, +Z) - beta_S| from it. */
export function tiltDegModulo(q, sym = TRIVIAL) {
  if (!sym || sym.trivial) return F.tiltDeg(q);
  const u = F.normalize(q);
  if (!sym.axis) return Math.min(...equivalents(u, sym).map((c) => F.tiltDeg(c)));
  const fromUp = vectorAngleDeg(F.rotate(u, sym.axis), EZ);
  const betas = [[0, 0, 0, 1], ...sym.discrete].map((s) => vectorAngleDeg(sym.axis, F.rotate(s, EZ)));
  return Math.min(...betas.map((b) => Math.abs(fromUp - b)));
}

/** One short line for the info panel, or null for the trivial group. */
export function describeSymmetry(sym) {
  if (!sym || sym.trivial) return null;
  if (!sym.axis) return `symmetry: ${1 + sym.discrete.length} look-alike orientations`;
  const i = sym.axis.findIndex((c) => Math.abs(Math.abs(c) - 1) < 1e-6); // a body axis: name it
  const axis = i >= 0 ? 'xyz'[i] : `(${sym.axis.map((c) => Number(c.toFixed(3))).join(', ')})`;
  const more = sym.discrete.length ? `, and ${sym.discrete.length} more turn${sym.discrete.length > 1 ? 's' : ''}` : '';
  return `symmetry: any turn about ${axis}${more}`;
}
