// The page: load the manifest, physics, models and scene; run the control loop
// (render -> pose.onnx -> policy.onnx -> torque -> physics) and expose window.orientApp.
//
// URL parameters (a link reproduces a run):
//   ?models=DIR      models folder with manifest.json (default public/models/)
//   ?seed=N          seed of the random resets and targets (default 0)
//   ?obs=predicted|truth   what the policy sees (default predicted)
//   ?mode=policy|off       policy on or off (default policy)
//   ?task=upright|goal     task (goal needs policy_goal.onnx)
//   ?physics=realtime|lockstep|paused|<speed>  realtime (default): simulated time follows the
//                    clock; lockstep: one control step per frame, whatever the frame rate (a
//                    reproducible run); paused: only orientApp.debug.run steps; a number: realtime x speed
//   ?backend=auto|webgl|webgpu  (auto: WebGPU when a hardware adapter exists)
//   ?ep=wasm|webgpu  execution provider of the pose model (default: webgpu with ?backend=webgpu)
//   ?threads=N       onnxruntime-web wasm threads (default: 1, or cores-1 up to 4 when isolated)
//   ?quality=auto|high  auto (default): below 55 FPS the main view draws fewer pixels (down to
//                    30 % per axis) to hold the frame rate, and on a software rasterizer
//                    draws without MSAA, with hard-edged shadows; high: always full resolution
//                    with MSAA. The pose camera's 128 px image never changes.
//   ?readback=async|sync  async (default): the pose camera's pixels are read back without
//                    stalling the page (a pixel-pack buffer + fence), so the pose model sees the
//                    frame rendered one control step earlier and its prediction is carried forward
//                    that step (20 ms) with the measured angular velocity; sync: render, wait, read
//                    in the same step (DESIGN.md's sequence; slower on a software GPU)
//   ?proxy=1         run ONNX Runtime (wasm) in its proxy worker: the main thread draws while
//                    the models run (smoother frames; on 2 cores fewer control steps/s)
import { UI, showError, showNotice, setStatus } from './ui.js';

const MANIFEST_VERSION = 1;
const params = new URLSearchParams(location.search);
const intParam = (k, d) => (params.has(k) && Number.isFinite(Number(params.get(k))) ? Math.trunc(Number(params.get(k))) : d);

const config = {
  models: params.get('models') || 'public/models/',
  seed: intParam('seed', 0),
  obs: params.get('obs') === 'truth' ? 'truth' : 'predicted',
  mode: params.get('mode') === 'off' ? 'off' : 'policy',
  task: params.get('task') === 'goal' ? 'goal' : 'upright',
  physics: params.get('physics') || 'realtime',
  backend: params.get('backend') || 'auto',
  threads: intParam('threads', 0),
  ep: params.get('ep'), // pose model execution provider: 'wasm' or 'webgpu' (default: from the backend)
  quality: params.get('quality') === 'high' ? 'high' : 'auto',
  proxy: params.get('proxy') === '1',
  readback: params.get('readback') === 'sync' ? 'sync' : 'async',
};

// Control steps one animation frame may run to catch up with the clock: when the machine
// cannot keep real time, simulated time slows down instead of frames piling up.
const MAX_STEPS_PER_FRAME = 2;

/** Dynamic resolution: the next main-view scale for the measured frame rate (pixels ~ scale^2). */
function nextResolutionScale(scale, fps) {
  if (fps < 55) return Math.max(0.3, scale * Math.sqrt(Math.max(fps, 10) / 60));
  if (fps > 59) return Math.min(1, scale * 1.1);
  return scale;
}

// The test hook exists from the first moment, so a test can poll `ready` / `error`.
const app = {
  ready: false,
  error: null,
  config,
  state: () => null,
  reset: () => { throw new Error('not ready'); },
  setTarget: () => { throw new Error('not ready'); },
  setMode: () => { throw new Error('not ready'); },
  setObservation: () => { throw new Error('not ready'); },
  debug: {},
};
window.orientApp = app;

function fail(e) {
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

async function loadManifest(dir) {
  const url = new URL('manifest.json', new URL(dir.replace(/\/?$/, '/'), location.href)).href;
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`the manifest ${url} failed to load: ${e.message}`);
  }
  if (!res.ok) throw new Error(`the manifest ${url} failed to load: HTTP ${res.status}. Fill the models folder with \`orient-jax export --out web/public/models\`, or point ?models= at one.`);
  let m;
  try {
    m = await res.json();
  } catch (e) {
    throw new Error(`the manifest ${url} is not valid JSON: ${e.message}`);
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new Error(`the manifest ${url} has version ${JSON.stringify(m.version)}; this page reads version ${MANIFEST_VERSION}. Re-export the models or update the page.`);
  }
  for (const key of ['asset', 'physics', 'camera', 'success', 'models']) {
    if (!m[key]) throw new Error(`the manifest ${url} has no "${key}" section`);
  }
  for (const key of ['timestep', 'control_dt', 'action_scale']) {
    if (m.physics[key] === undefined) throw new Error(`the manifest has no physics.${key}`);
  }
  return { manifest: m, base: url };
}

async function chooseBackend(want) {
  if (want === 'webgl' || want === 'wasm') return 'webgl';
  if (want === 'webgpu') {
    if (!navigator.gpu) throw new Error('?backend=webgpu: this browser has no WebGPU (navigator.gpu); try ?backend=webgl');
    return 'webgpu';
  }
  // auto: WebGPU only with a hardware adapter (a software one is slower than WebGL + wasm).
  try {
    const adapter = navigator.gpu && (await navigator.gpu.requestAdapter());
    if (adapter && !(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter)) return 'webgpu';
  } catch { /* no WebGPU */ }
  return 'webgl';
}

async function main() {
  setStatus('loading the manifest…');
  const { manifest, base } = await loadManifest(config.models);
  const backend = await chooseBackend(config.backend);

  let frames, rendererMod, physicsMod, inferenceMod, targetsMod;
  try {
    [frames, rendererMod, physicsMod, inferenceMod, targetsMod] = await Promise.all([
      import('./frames.js'), import('./renderer.js'), import('./physics.js'), import('./inference.js'),
      import('./targets.js')]);
  } catch (e) {
    throw new Error(`the page's modules failed to load (${e.message}). Vendored files missing? Run \`npm ci && node scripts/vendor.mjs\` in web/.`);
  }
  const { Physics } = physicsMod;
  const { Inference } = inferenceMod;
  const { View, PoseCamera, loadGlb, engineFromGeoms } = rendererMod;
  const { holdableTargetSampler } = targetsMod;
  const F = frames;

  setStatus('loading physics and models…');
  const cores = navigator.hardwareConcurrency || 2;
  const threads = config.threads > 0 ? config.threads : crossOriginIsolated ? Math.max(1, Math.min(4, cores - 1)) : 1;
  const mjcfUrl = new URL(manifest.asset.mjcf || 'engine.xml', base).href;
  const [physics, inference] = await Promise.all([
    Physics.create(mjcfUrl, manifest.physics),
    Inference.create({ manifest, base, ep: config.ep || (backend === 'webgpu' ? 'webgpu' : 'wasm'), numThreads: threads,
                       proxy: config.proxy }),
  ]);

  // The engine's look: the .glb when the models folder has one, else the MJCF's visual geoms.
  let engine = null;
  if (manifest.asset.glb) {
    try {
      engine = await loadGlb(new URL(manifest.asset.glb, base).href);
    } catch (e) {
      throw new Error(`the engine model ${manifest.asset.glb} could not be read: ${e.message}`);
    }
  }
  if (!engine) {
    engine = engineFromGeoms(physics.visualGeoms());
    showNotice('No engine.glb in the models folder: drawing the MJCF\'s boxes and cylinders instead. The pose model was trained on the .glb\'s look, so its predictions may be off.');
  }

  const view = await View.create(document.getElementById('view'), { backend, engine, arena: physics.arenaGeoms(),
                                                                    quality: config.quality });
  const poseCam = new PoseCamera(engine, manifest.camera, manifest.render || {});

  const succ = manifest.success;
  const holdSteps = Math.round(succ.hold_s / physics.controlDt);
  let rng = F.prng(config.seed);
  let resets = 0;
  let mode = config.mode, obs = config.obs, task = config.task;
  if (task === 'goal' && !inference.policyGoal) task = 'upright';
  const margin = manifest.models.policy_goal?.config?.env_config?.goal_hold_margin ?? 0.7;
  const newGoalTarget = holdableTargetSampler(physics.xml, physics.actionScale, margin, rng);
  let target = task === 'goal' ? newGoalTarget() : [0, 0, 0, 1]; // ?task=goal opens on a random target
  let quatPred = null, prevAction = [0, 0, 0], action = [0, 0, 0];
  let hold = 0, success = null, successT = null;
  let inFlight = null; // async readback: {angVel} of the state whose pose image is being rendered
  let drag = null; // {local, cursor}
  const timing = { render: 0, pose: 0, policy: 0, physics: 0, view: 0 };
  const ema = (old, v) => (old === 0 ? v : 0.9 * old + 0.1 * v);

  function reset(quat) {
    const q = quat ? F.canonical(quat) : rng.quat();
    const xy = quat ? [0, 0] : [rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)];
    physics.reset([xy[0], xy[1], physics.qpos0[2]], q);
    resets++;
    quatPred = null;
    inference.forgetMemory();
    prevAction = [0, 0, 0];
    action = [0, 0, 0];
    hold = 0;
    success = null;
    successT = null;
    poseCam.discard();
    inFlight = null;
    ui.plot.clear();
  }

  function goalError(q) {
    return task === 'goal' ? F.angleDeg(q, target) : F.tiltDeg(q);
  }

  // Drag: a spring from the grabbed point to the cursor, applied as an external force.
  function dragForce() {
    if (!drag?.cursor) return null;
    const p = physics.pos, q = physics.quat;
    const r = F.rotate(q, drag.local);
    const point = [p[0] + r[0], p[1] + r[1], p[2] + r[2]];
    const v = physics.linVel;
    let f = [0, 1, 2].map((i) => 150 * (drag.cursor[i] - point[i]) - 6 * v[i]);
    const n = Math.hypot(...f);
    if (n > 120) f = f.map((c) => (c * 120) / n);
    return { force: f, point };
  }

  /** The pose camera's image for this control step, and the angular velocity (body frame) of
   *  the state it shows when that is the previous step's (async readback), else null. */
  async function poseImage(quat, angVel) {
    if (config.readback === 'sync') return { image: poseCam.render(quat), angVelThen: null };
    let image = inFlight ? await poseCam.collect() : null, angVelThen = inFlight?.angVel ?? null;
    if (!image) {
      image = poseCam.render(quat); // first step of an episode (or a lost frame): render now
      angVelThen = null;
    }
    poseCam.begin(quat); // the GPU draws this state while the model runs on the previous one
    inFlight = { angVel };
    return { image, angVelThen };
  }

  /** One control period: render -> pose -> policy -> physics. */
  async function controlStep() {
    const quat = physics.quat, angVel = physics.angVel;
    let t0 = performance.now();
    const { image, angVelThen } = await poseImage(quat, angVel);
    let t1 = performance.now();
    const qp = await inference.predictPose(image);
    quatPred = F.canonical(Array.from(qp.subarray(0, 4)));
    if (angVelThen) {
      // The image is one control step old: rotate the prediction on by that step, body frame,
      // with the mean of the angular velocities at its start and end (trapezoid).
      const w = [0, 1, 2].map((i) => 0.5 * (angVelThen[i] + angVel[i]));
      quatPred = F.canonical(F.multiply(quatPred, F.fromAxisAngle(w, Math.hypot(...w) * physics.controlDt)));
    }
    let t2 = performance.now();
    if (mode === 'policy') {
      const seen = obs === 'truth' ? quat : quatPred;
      action = await inference.act(seen, angVel, prevAction, task === 'goal' ? target : null);
    } else {
      action = [0, 0, 0];
    }
    let t3 = performance.now();
    physics.controlStep(action, dragForce());
    let t4 = performance.now();
    prevAction = action.slice();
    timing.render = ema(timing.render, t1 - t0);
    timing.pose = ema(timing.pose, t2 - t1);
    timing.policy = ema(timing.policy, t3 - t2);
    timing.physics = ema(timing.physics, t4 - t3);
    stepsDone++;
    // Success (manifest.success): within tilt_deg (target angle in goal mode) and |w| <= ang_vel,
    // held hold_s, within within_s of the reset.
    const q = physics.quat, w = physics.angVel;
    const inRegion = goalError(q) <= succ.tilt_deg && Math.hypot(...w) <= succ.ang_vel;
    hold = inRegion ? hold + 1 : 0;
    if (success === null && hold >= holdSteps && physics.time <= succ.within_s + 1e-9) {
      success = true;
      successT = physics.time;
    }
    if (success === null && physics.time > succ.within_s + 1e-9) success = false;
  }

  function state() {
    const quat = physics.quat;
    return {
      t: physics.time,
      quat,
      quatPred,
      angVel: physics.angVel,
      action: action.slice(),
      tiltDeg: F.tiltDeg(quat),
      predErrDeg: quatPred ? F.angleDeg(quat, quatPred) : null,
      success: success === true,
      fps,
      poseMs: timing.render + timing.pose,
      policyMs: timing.policy,
      physicsMs: timing.physics,
      // extras
      pos: physics.pos,
      failed: success === false,
      successT,
      goalErrDeg: task === 'goal' ? F.angleDeg(quat, target) : null,
      target: task === 'goal' ? target.slice() : null,
      renderMs: timing.render,
      viewMs: timing.view,
      resolutionScale: view.resolutionScale,
      mainViewLean: view.lean,
      poseInferMs: timing.pose,
      stepsPerSec,
      mode, obs, task, backend, mainBackend, poseEp: inference.pose.provider, threads, readback: config.readback,
    };
  }

  // The driver: control steps are async (ONNX Runtime), so one chain runs them; the
  // animation loop only draws and tells the chain how far simulated time may go.
  let busy = false, paused = config.physics === 'paused', debugBusy = false;
  const speed = Number.isFinite(Number(config.physics)) ? Number(config.physics) : 1;
  const lockstep = config.physics === 'lockstep';
  let simBudget = 0; // seconds of simulated time owed to the clock
  let stepsDone = 0, stepsPerSec = 0, fps = 0, frameCount = 0, lastFpsT = performance.now(), lastStepCount = 0;
  let lastT = performance.now();

  async function drive(n) {
    busy = true;
    try {
      for (let i = 0; i < n; i++) await controlStep();
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
    }
  }

  const ui = new UI({
    reset: () => reset(),
    togglePolicy: () => { mode = mode === 'policy' ? 'off' : 'policy'; inference.forgetMemory(); syncControls(); },
    toggleObs: () => { obs = obs === 'truth' ? 'predicted' : 'truth'; syncControls(); },
    toggleGoal: () => {
      if (!inference.policyGoal) return;
      task = task === 'goal' ? 'upright' : 'goal';
      if (task === 'goal') target = newGoalTarget();
      hold = 0; success = null; inference.forgetMemory();
      syncControls();
    },
    newTarget: () => { target = newGoalTarget(); hold = 0; success = null; inference.forgetMemory(); },
  });
  const syncControls = () => ui.setControls({ mode, obs, task });
  ui.setInset(poseCam.canvas);
  ui.setGoalAvailable(!!inference.policyGoal, inference.goalNote);
  syncControls();

  // Pointer: grab the engine to push it; elsewhere the orbit controls take the drag.
  const attachPointer = (canvas) => {
  canvas.addEventListener('pointerdown', (ev) => {
    const hit = view.pick(ev.clientX, ev.clientY);
    if (!hit) return;
    view.controls.enabled = false;
    drag = { local: hit.local, cursor: hit.point };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const p = physics.pos, r = F.rotate(physics.quat, drag.local);
    const c = view.pointerOnPlane(ev.clientX, ev.clientY, [p[0] + r[0], p[1] + r[1], p[2] + r[2]]);
    if (c) drag.cursor = c;
  });
  const endDrag = () => { drag = null; view.controls.enabled = true; };
  canvas.addEventListener('pointerup', endDrag);
  canvas.addEventListener('pointercancel', endDrag);
  };
  attachPointer(view.renderer.domElement);
  let mainBackend = backend;
  inference.onFallback = (reason) => showNotice(`The pose model's WebGPU execution failed (${reason.slice(0, 120)}); it runs on wasm now.`);
  view.onBackendChange = (reason) => {
    mainBackend = 'webgl';
    attachPointer(view.renderer.domElement);
    view.renderer.setAnimationLoop(animate);
    showNotice(`WebGPU rendering failed (${reason}); the scene is drawn with WebGL2. Inference keeps its execution provider.`);
  };

  reset();

  function animate() {
    const now = performance.now();
    const dt = Math.min(0.1, (now - lastT) / 1000);
    lastT = now;
    frameCount++;
    if (now - lastFpsT >= 1000) {
      fps = (frameCount * 1000) / (now - lastFpsT);
      stepsPerSec = ((stepsDone - lastStepCount) * 1000) / (now - lastFpsT);
      frameCount = 0;
      lastStepCount = stepsDone;
      lastFpsT = now;
      if (config.quality === 'auto') {
        const scale = nextResolutionScale(view.resolutionScale, fps);
        if (Math.abs(scale - view.resolutionScale) > 0.01) view.setResolutionScale(scale);
      }
    }
    if (!paused && !debugBusy && !app.error) {
      if (lockstep) {
        if (!busy) drive(1);
      } else {
        simBudget = Math.min(simBudget + dt * speed, MAX_STEPS_PER_FRAME * physics.controlDt);
        const n = Math.floor(simBudget / physics.controlDt + 1e-9);
        if (!busy && n > 0) {
          simBudget -= n * physics.controlDt;
          drive(n);
        }
      }
    }
    const s = state();
    let dragLine = null;
    if (drag?.cursor) {
      const f = dragForce();
      dragLine = { from: f.point, to: drag.cursor };
    }
    const tv = performance.now();
    view.update({ pos: s.pos, quat: s.quat, quatPred, action, target, goalMode: task === 'goal', drag: dragLine });
    timing.view = ema(timing.view, performance.now() - tv);
    ui.update(s, {
      successT: successT ?? 0, failed: success === false, withinS: succ.within_s, task, obs, seed: config.seed, resets,
      stepsPerSec, renderMs: timing.render, goalErrDeg: s.goalErrDeg,
      backendNote: `${mainBackend === 'webgpu' ? 'WebGPU' : 'WebGL2'}${view.lean ? ' (software: no MSAA)' : ''} · ORT ${inference.pose.provider}` +
        ` · ${threads} thread${threads > 1 ? 's' : ''}${crossOriginIsolated ? '' : ' (not isolated)'} · MuJoCo ${physics.version}`,
    });
  }

  // --- the test hook (DESIGN.md) ---
  Object.assign(app, {
    state,
    reset: (quat) => { reset(quat); return state(); },
    setTarget: (quat) => { target = F.canonical(quat); hold = 0; success = null; inference.forgetMemory(); },
    setMode: (m) => { if (m !== 'policy' && m !== 'off') throw new Error(`mode ${m}?`); mode = m; inference.forgetMemory(); syncControls(); },
    setObservation: (o) => { if (o !== 'predicted' && o !== 'truth') throw new Error(`observation ${o}?`); obs = o; syncControls(); },
    setTask: (t) => {
      if (t === 'goal' && !inference.policyGoal) throw new Error(inference.goalNote);
      task = t; hold = 0; success = null; inference.forgetMemory(); syncControls();
    },
    manifest,
    debug: {
      /** Step the MJCF from qpos0 (MuJoCo order) holding each raw ctrl for `substeps` steps. */
      rollout: (qpos0, ctrlSeq, substeps = 1, qvel0 = null) => physics.rollout(qpos0, ctrlSeq, substeps, qvel0),
      /** Run a model on raw named inputs {name: [flatArray, dims]}. */
      runModel: (which, feeds) => inference.runRaw(which, feeds),
      /** The memory the active policy will be given next ({dims, data}), null without memory. */
      policyMemory: () => {
        const model = task === 'goal' ? inference.policyGoal : inference.policy;
        if (!model?.memoryShape) return null;
        return { dims: model.memoryShape, data: Array.from(inference.memoryFor(model)) };
      },
      /** The pose camera's image of orientation q (flat NHWC float32 as an Array). */
      renderPose: (q) => Array.from(poseCam.render(F.canonical(q))),
      /** The same through the asynchronous readback (pixel-pack buffer + fence) the loop uses. */
      renderPoseAsync: async (q) => {
        inFlight = null; // the loop's frame in flight is dropped; its next step renders anew
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
      run: async (n, { untilDone = false } = {}) => {
        while (busy) await new Promise((r) => setTimeout(r, 1));
        debugBusy = true;
        try {
          for (let i = 0; i < n; i++) {
            await controlStep();
            if (untilDone && success !== null) break;
          }
        } finally {
          debugBusy = false;
        }
        return state();
      },
      /** A push: angular impulse (world frame, N m s) as a torque over `duration` s; resets the hold. */
      push: (impulse, duration = 0.1) => { physics.push(impulse, duration); hold = 0; success = null; },
      /** Start a new episode clock without moving the body (for push-recovery tests). */
      restartEpisode: () => { physics.data.time = 0; hold = 0; success = null; successT = null; },
      pause: (p = true) => { paused = p; },
      physicsVersion: physics.version,
      backend, threads,
    },
  });

  view.renderer.setAnimationLoop(animate);
  app.ready = true;
}

main().catch(fail);
