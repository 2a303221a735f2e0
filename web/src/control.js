// The control step, one per control period (manifest physics.control_dt):
// render (pose camera) -> pose.onnx -> policy.onnx -> torque -> physics.
import * as F from './frames.js';

const ema = (old, v) => (old === 0 ? v : 0.9 * old + 0.1 * v);

export class Controller {
  /** mode: 'policy' | 'off'; obs: 'predicted' | 'truth' (what the policy sees);
   *  readback: 'async' | 'sync' (the pose camera's, see loop.js). */
  constructor({ physics, inference, poseCam, readback, mode, obs }) {
    Object.assign(this, { physics, inference, poseCam, readback, mode, obs });
    this.quatPred = null;
    this.action = [0, 0, 0];
    this.prevAction = [0, 0, 0];
    this.inFlight = null; // async readback: {angVel} of the state whose pose image is being rendered
    this.timing = { render: 0, pose: 0, policy: 0, physics: 0 }; // ms, moving averages
    this.steps = 0;
  }

  /** A new episode: no prediction, no memory, no action, no frame in flight. */
  reset() {
    this.quatPred = null;
    this.inference.forgetMemory();
    this.prevAction = [0, 0, 0];
    this.action = [0, 0, 0];
    this.poseCam.discard();
    this.inFlight = null;
  }

  setMode(mode) {
    this.mode = mode;
    this.inference.forgetMemory();
  }

  /** The pose camera's image for this control step, and the angular velocity (body frame) of
   *  the state it shows when that is the previous step's (async readback), else null. */
  async poseImage(quat, angVel) {
    const { poseCam } = this;
    if (this.readback === 'sync') return { image: poseCam.render(quat), angVelThen: null };
    let image = this.inFlight ? await poseCam.collect() : null, angVelThen = this.inFlight?.angVel ?? null;
    if (!image) {
      image = poseCam.render(quat); // first step of an episode (or a lost frame): render now
      angVelThen = null;
    }
    poseCam.begin(quat); // the GPU draws this state while the model runs on the previous one
    this.inFlight = { angVel };
    return { image, angVelThen };
  }

  /** One control period. goal(): the policy's target (goal mode) or null, asked for when the
   *  policy runs; extForce(): the pointer's force on the body ({force, point}) or null, asked
   *  for when the torque is applied. */
  async step(goal, extForce) {
    const { physics, inference, timing } = this;
    const quat = physics.quat, angVel = physics.angVel;
    const t0 = performance.now();
    const { image, angVelThen } = await this.poseImage(quat, angVel);
    const t1 = performance.now();
    const qp = await inference.predictPose(image);
    this.quatPred = F.canonical(Array.from(qp.subarray(0, 4)));
    if (angVelThen) {
      // The image is one control step old: rotate the prediction on by that step, body frame,
      // with the mean of the angular velocities at its start and end (trapezoid).
      const w = [0, 1, 2].map((i) => 0.5 * (angVelThen[i] + angVel[i]));
      this.quatPred = F.canonical(F.multiply(this.quatPred, F.fromAxisAngle(w, Math.hypot(...w) * physics.controlDt)));
    }
    const t2 = performance.now();
    if (this.mode === 'policy') {
      const seen = this.obs === 'truth' ? quat : this.quatPred;
      this.action = await inference.act(seen, angVel, this.prevAction, goal());
    } else {
      this.action = [0, 0, 0];
    }
    const t3 = performance.now();
    physics.controlStep(this.action, extForce());
    const t4 = performance.now();
    this.prevAction = this.action.slice();
    timing.render = ema(timing.render, t1 - t0);
    timing.pose = ema(timing.pose, t2 - t1);
    timing.policy = ema(timing.policy, t3 - t2);
    timing.physics = ema(timing.physics, t4 - t3);
    this.steps++;
  }
}
