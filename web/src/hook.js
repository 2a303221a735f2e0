// The test hook window.orientApp (DESIGN.md). It exists from the first moment, so a test can
// poll `ready` / `error`; `expose` fills in the rest once the page runs. No vendored import here.
import { showError } from './ui.js';

const notReady = () => { throw new Error('not ready'); };

export const app = {
  ready: false,
  error: null,
  config: null,
  state: () => null,
  reset: notReady,
  setTarget: notReady,
  setMode: notReady,
  setObservation: notReady,
  debug: {},
};
window.orientApp = app;

/** Stop the page with a message (shown once; later ones are only logged). */
export function fail(e) {
  const msg = e?.message || String(e);
  if (!app.error) {
    app.error = msg;
    showError(msg);
  }
  console.warn('orient-jax:', msg); // a warning: expected errors (bad input) are shown on the page
}

// Only the page's own failures stop it (they are caught where they happen); a stray rejection
// from a library (e.g. three's WebGPU error scopes on a lost device) is logged, not fatal.
window.addEventListener('unhandledrejection', (ev) => console.warn('orient-jax: unhandled rejection:', ev.reason?.message || ev.reason));

/** The hook's API on the running page. p: {manifest, object, physics, inference, poseCam,
 *  episode, control, pusher, F, state(), reset(quat), run(n, opts), pause(p), syncControls(),
 *  backend, threads}. */
export function expose(p) {
  const { physics, inference, poseCam, episode, control, F } = p;
  Object.assign(app, {
    state: p.state,
    reset: (quat) => { p.reset(quat); return p.state(); },
    setTarget: (quat) => episode.setTarget(quat),
    setMode: (m) => { if (m !== 'policy' && m !== 'off') throw new Error(`mode ${m}?`); control.setMode(m); p.syncControls(); },
    setObservation: (o) => { if (o !== 'predicted' && o !== 'truth') throw new Error(`observation ${o}?`); control.obs = o; p.syncControls(); },
    setTask: (t) => {
      if (t === 'goal' && !inference.policyGoal) throw new Error(inference.goalNote);
      episode.setTask(t);
      p.syncControls();
    },
    manifest: p.manifest,
    debug: {
      /** Step the MJCF from qpos0 (MuJoCo order) holding each raw ctrl for `substeps` steps. */
      rollout: (qpos0, ctrlSeq, substeps = 1, qvel0 = null) => physics.rollout(qpos0, ctrlSeq, substeps, qvel0),
      /** Run a model on raw named inputs {name: [flatArray, dims]}. */
      runModel: (which, feeds) => inference.runRaw(which, feeds),
      /** The memory the active policy will be given next ({dims, data}), null without memory. */
      policyMemory: () => {
        const model = episode.task === 'goal' ? inference.policyGoal : inference.policy;
        if (!model?.memoryShape) return null;
        return { dims: model.memoryShape, data: Array.from(inference.memoryFor(model)) };
      },
      /** The pose camera's image of orientation q (flat NHWC float32 as an Array). */
      renderPose: (q) => Array.from(poseCam.render(F.canonical(q))),
      /** The same through the asynchronous readback (pixel-pack buffer + fence) the loop uses. */
      renderPoseAsync: async (q) => {
        control.inFlight = null; // the loop's frame in flight is dropped; its next step renders anew
        poseCam.begin(F.canonical(q));
        const image = await poseCam.collect();
        return image ? Array.from(image) : null;
      },
      /** Render + pose model for each orientation: returns the predicted quats. */
      predict: async (quats) => {
        const out = [];
        for (const q of quats) out.push(F.canonical(Array.from((await inference.predictPose(poseCam.render(F.canonical(q)))).subarray(0, 4))));
        return out;
      },
      /** Run n control steps now (the animation-driven stepping waits); stops early on success/failure if asked. */
      run: p.run,
      /** A push: angular impulse (world frame, N m s; a number: that size about a random
       *  horizontal axis; none: the object's push, manifest object.push) as a torque over
       *  `duration` s (default object.push.duration); resets the hold. Returns the impulse. */
      push: (impulse = null, duration = undefined) => {
        const L = p.pusher.push(impulse, duration);
        episode.clearHold();
        return L;
      },
      /** Start a new episode clock without moving the body (for push-recovery tests). */
      restartEpisode: () => episode.restartClock(),
      pause: p.pause,
      /** The object's constants the page uses (manifest object, with fallbacks; `missing`: the
       *  keys the manifest lacked). */
      object: p.object,
      physicsVersion: physics.version,
      backend: p.backend, threads: p.threads,
    },
  });
}
