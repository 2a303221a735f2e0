// Goal targets the object can hold, sampled as the training's goal task samples them
// (orient_jax/sim/goal.py): uniformly random orientations balanced on the hull's lowest point
// with at most `margin` of the torque limit against gravity; of 16 uniform candidates the first
// holdable one, else the easiest. (A uniformly random target is unreachable 59 % of the time.)
import { rotate } from './frames.js';

const CANDIDATES = 16;

/** xml: the MJCF text; actionScale: torque limits (N m); margin: manifest object.goal_hold_margin;
 *  rng: the page's seeded PRNG; body, mesh: the names of the object's body and collision mesh
 *  (manifest object.body, object.collision_mesh). Returns () => [x, y, z, w]. */
export function holdableTargetSampler(xml, actionScale, margin, rng, { body, mesh }) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const vertex = mesh ? doc.querySelector(`mesh[name="${CSS.escape(mesh)}"]`)?.getAttribute('vertex') : null;
  const inertial = body ? doc.querySelector(`body[name="${CSS.escape(body)}"] > inertial`) : null;
  if (!vertex || !inertial) return () => rng.quat(); // no hull vertices or inertial: any orientation
  const flat = vertex.trim().split(/\s+/).map(Number);
  const points = [];
  for (let i = 0; i + 2 < flat.length; i += 3) points.push([flat[i], flat[i + 1], flat[i + 2]]);
  const com = (inertial.getAttribute('pos') || '0 0 0').trim().split(/\s+/).map(Number);
  const mass = Number(inertial.getAttribute('mass'));
  const maxLever = (margin * Math.min(...actionScale)) / (mass * 9.81);

  /** Horizontal distance (m) from the COM to the hull's lowest point at orientation q. */
  const lever = (q) => {
    let low = null;
    for (const p of points) {
      const r = rotate(q, p);
      if (!low || r[2] < low[2]) low = r;
    }
    const c = rotate(q, com);
    return Math.hypot(c[0] - low[0], c[1] - low[1]);
  };

  const sample = () => {
    let easiest = null, easiestLever = Infinity;
    for (let i = 0; i < CANDIDATES; i++) {
      const q = rng.quat();
      const l = lever(q);
      if (l <= maxLever) return q;
      if (l < easiestLever) [easiest, easiestLever] = [q, l];
    }
    return easiest;
  };
  sample.lever = lever;
  sample.maxLever = maxLever;
  return sample;
}
