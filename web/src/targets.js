// Goal targets the object can hold, sampled as the training's goal task samples them
// (orient_jax/sim/goal.py): uniformly random orientations balanced on the hull's lowest point
// with at most `margin` of the torque limit against gravity; of 16 uniform candidates the first
// holdable one, else the easiest. (A uniformly random target is unreachable 59 % of the time.)
import { rotate } from './frames.js';

const CANDIDATES = 16;

/** body: {points (the collision meshes' vertices, body frame), com (body frame), mass (kg)}, as
 *  physics.collisionPoints(), physics.com, physics.bodyMass give them; actionScale: torque limits
 *  (N m); margin: manifest object.goal_hold_margin; rng: the page's seeded PRNG.
 *  Returns () => [x, y, z, w]. */
export function holdableTargetSampler({ points, com, mass }, actionScale, margin, rng) {
  if (!points.length || !(mass > 0)) return () => rng.quat(); // nothing to balance on: any orientation
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
