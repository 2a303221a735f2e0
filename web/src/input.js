// Disturbances: the pointer grabbing the body (a spring to the cursor) and pushes (an angular
// impulse). Their sizes are the object's (manifest object.drag, object.push).
import * as F from './frames.js';

/** Drag: a spring from the grabbed point to the cursor, applied as an external force.
 *  spring: manifest object.drag {stiffness (N/m), damping (N s/m), max_force (N)}. */
export class Drag {
  constructor({ physics, view, spring }) {
    Object.assign(this, { physics, view, spring });
    this.grab = null; // {local (body frame), cursor (world)}
  }

  /** Listen on the main view's canvas (again after the view swaps its renderer): grab the body
   *  to push it; elsewhere the orbit controls take the drag. */
  attach(canvas) {
    const { view, physics } = this;
    canvas.addEventListener('pointerdown', (ev) => {
      const hit = view.pick(ev.clientX, ev.clientY);
      if (!hit) return;
      view.controls.enabled = false;
      this.grab = { local: hit.local, cursor: hit.point };
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener('pointermove', (ev) => {
      if (!this.grab) return;
      const p = physics.pos, r = F.rotate(physics.quat, this.grab.local);
      const c = view.pointerOnPlane(ev.clientX, ev.clientY, [p[0] + r[0], p[1] + r[1], p[2] + r[2]]);
      if (c) this.grab.cursor = c;
    });
    const end = () => { this.grab = null; view.controls.enabled = true; };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** The spring's force {force (world, N), point (world)}, or null when nothing is grabbed. */
  force() {
    if (!this.grab?.cursor) return null;
    const { physics } = this, { stiffness, damping, max_force: max } = this.spring;
    const p = physics.pos, q = physics.quat;
    const r = F.rotate(q, this.grab.local);
    const point = [p[0] + r[0], p[1] + r[1], p[2] + r[2]];
    const v = physics.linVel;
    let f = [0, 1, 2].map((i) => stiffness * (this.grab.cursor[i] - point[i]) - damping * v[i]);
    const n = Math.hypot(...f);
    if (n > max) f = f.map((c) => (c * max) / n);
    return { force: f, point };
  }

  /** The line to draw, {from, to} (world), or null. */
  line() {
    if (!this.grab?.cursor) return null;
    return { from: this.force().point, to: this.grab.cursor };
  }
}

/** Pushes: an angular impulse (world frame, N m s) delivered as a torque over `duration` s.
 *  sizes: manifest object.push {impulse (N m s), duration (s)}. */
export class Pusher {
  constructor({ physics, sizes, seed }) {
    Object.assign(this, { physics, sizes });
    this.rng = F.prng((seed ^ 0x5eed) >>> 0); // its own sequence: pushes leave the resets' as they were
  }

  /** impulse: a world vector, a size (about a random horizontal axis) or null (the object's push
   *  size). Returns the impulse vector given. */
  push(impulse = null, duration = this.sizes.duration) {
    let L = impulse;
    if (!Array.isArray(L)) {
      const size = L ?? this.sizes.impulse;
      const a = this.rng.uniform(0, 2 * Math.PI);
      L = [size * Math.cos(a), size * Math.sin(a), 0];
    }
    this.physics.push(L, duration);
    return L;
  }
}
