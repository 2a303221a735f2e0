// The episode: seeded random drops (manifest object.spawn), the task (upright or goal) and its
// target, and success as manifest.success defines it: within tilt_deg (the target angle in goal
// mode) and |w| <= ang_vel, held hold_s, within within_s of the reset. Angles are taken modulo
// the object's symmetry (manifest.symmetry, symmetry.js): a look-alike orientation counts.
import * as F from './frames.js';
import { TRIVIAL, angleDegModulo, tiltDegModulo } from './symmetry.js';
import { holdableTargetSampler } from './targets.js';

export class Episode {
  /** physics: Physics; success: manifest.success; object: objectSettings(manifest);
   *  seed: ?seed=; task: 'upright' | 'goal'; goalAvailable: whether policy_goal.onnx loaded;
   *  forgetMemory(): drops the policy's memory (a new goal starts it from zeros);
   *  symmetry: parseSymmetry(manifest.symmetry) (default: trivial). */
  constructor({ physics, success, object, seed, task, goalAvailable, forgetMemory, symmetry = TRIVIAL }) {
    this.physics = physics;
    this.criteria = success;
    this.symmetry = symmetry;
    this.spawn = object.spawn;
    this.forgetMemory = forgetMemory;
    this.holdSteps = Math.round(success.hold_s / physics.controlDt);
    this.rng = F.prng(seed); // resets and targets draw from one seeded sequence
    this.resets = 0;
    this.task = task === 'goal' && !goalAvailable ? 'upright' : task;
    this.sampleTarget = holdableTargetSampler(
      { points: physics.collisionPoints(), com: physics.com, mass: physics.bodyMass },
      physics.actionScale, object.goalHoldMargin, this.rng);
    this.target = this.task === 'goal' ? this.sampleTarget() : [0, 0, 0, 1]; // ?task=goal opens on a random target
    this.hold = 0; // control steps in the success region
    this.success = null; // true, false (time is up) or null (undecided)
    this.successT = null;
  }

  /** Drop the body at orientation `quat`, else at a random one and a random spot of the spawn square. */
  reset(quat) {
    const q = quat ? F.canonical(quat) : this.rng.quat();
    const s = this.spawn.xy;
    const xy = quat ? [0, 0] : [this.rng.uniform(-s, s), this.rng.uniform(-s, s)];
    this.physics.reset([xy[0], xy[1], this.physics.dropHeight], q);
    this.resets++;
    this.hold = 0;
    this.success = null;
    this.successT = null;
  }

  /** Success is undecided again (the body was disturbed, or the goal changed); the clock runs on. */
  clearHold() {
    this.hold = 0;
    this.success = null;
  }

  /** A new episode clock without moving the body (push-recovery tests). */
  restartClock() {
    this.physics.data.time = 0;
    this.clearHold();
    this.successT = null;
  }

  setTarget(quat) {
    this.target = F.canonical(quat);
    this.clearHold();
    this.forgetMemory();
  }

  /** A new holdable target from the seeded sequence. */
  newTarget() {
    this.target = this.sampleTarget();
    this.clearHold();
    this.forgetMemory();
  }

  /** Switch task; `freshTarget`: a goal task starts on a newly sampled target. */
  setTask(task, { freshTarget = false } = {}) {
    this.task = task;
    if (freshTarget && task === 'goal') this.target = this.sampleTarget();
    this.clearHold();
    this.forgetMemory();
  }

  /** The target the policy is given: the goal orientation in goal mode, else null. */
  get policyTarget() {
    return this.task === 'goal' ? this.target : null;
  }

  /** Degrees to the task's aim (modulo the symmetry): the target in goal mode, upright otherwise. */
  error(q) {
    return this.task === 'goal' ? angleDegModulo(q, this.target, this.symmetry) : tiltDegModulo(q, this.symmetry);
  }

  /** After each control step: count the hold, decide success or failure. */
  score() {
    const { physics, criteria: c } = this;
    const inRegion = this.error(physics.quat) <= c.tilt_deg && Math.hypot(...physics.angVel) <= c.ang_vel;
    this.hold = inRegion ? this.hold + 1 : 0;
    if (this.success === null && this.hold >= this.holdSteps && physics.time <= c.within_s + 1e-9) {
      this.success = true;
      this.successT = physics.time;
    }
    if (this.success === null && physics.time > c.within_s + 1e-9) this.success = false;
  }
}
