// The page's entry: read the URL, load everything (load.js), wire the parts together and run
// the animation loop, which draws every frame and drives the control steps
// (render -> pose.onnx -> policy.onnx -> torque -> physics: control.js) the clock owes.
// The episode lives in episode.js, pointer drag and pushes in input.js, the test hook
// window.orientApp in hook.js. Object-sized constants come from the manifest's `object` section.
//
// URL parameters (a link reproduces a run):
//   ?object=NAME     which object of the gallery to show (default: its first); the page's
//                    picker switches with this parameter
//   ?gallery=URL     the gallery file listing the objects' models folders (default
//                    public/gallery.json, written by `orient-jax bundle`)
//   ?models=DIR      one models folder with manifest.json, no gallery (default: from the gallery,
//                    else public/models/)
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
import { UI, showNotice, setStatus, showObject } from './ui.js';
import { app, fail, expose } from './hook.js';
import { chooseObject, loadManifest, chooseBackend, loadModules, loadScene, objectSettings } from './load.js';

const params = new URLSearchParams(location.search);
const intParam = (k, d) => (params.has(k) && Number.isFinite(Number(params.get(k))) ? Math.trunc(Number(params.get(k))) : d);

const config = {
  models: params.get('models'),
  gallery: params.get('gallery'),
  object: params.get('object'),
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
app.config = config;

// Control steps one animation frame may run to catch up with the clock: when the machine
// cannot keep real time, simulated time slows down instead of frames piling up.
const MAX_STEPS_PER_FRAME = 2;

/** Dynamic resolution: the next main-view scale for the measured frame rate (pixels ~ scale^2). */
function nextResolutionScale(scale, fps) {
  if (fps < 55) return Math.max(0.3, scale * Math.sqrt(Math.max(fps, 10) / 60));
  if (fps > 59) return Math.min(1, scale * 1.1);
  return scale;
}

// The page's parts, set once by init() (three.js example style): loading (load.js), the episode
// (episode.js), the control step (control.js), pointer and pushes (input.js), the test hook
// (hook.js); this module owns the driver, the animation loop and its stats.
let F, Sym, symmetry, manifest, object, backend, mainBackend, threads;
let physics, inference, view, poseCam, ui;
let episode, control, drag, pusher;

// The driver: control steps are async (ONNX Runtime), so one chain runs them; the animation
// loop only draws and tells the chain how far simulated time may go.
const driver = {
  busy: false, // a chain of control steps is running
  debugBusy: false, // orientApp.debug.run is stepping: the animation loop waits
  paused: config.physics === 'paused',
  lockstep: config.physics === 'lockstep',
  speed: Number.isFinite(Number(config.physics)) ? Number(config.physics) : 1,
  simBudget: 0, // seconds of simulated time owed to the clock
  lastT: performance.now(),
};
const stats = { fps: 0, stepsPerSec: 0, frames: 0, lastT: performance.now(), lastSteps: 0, viewMs: 0 };

async function init() {
  setStatus('loading the manifest…');
  const choice = await chooseObject(config);
  const loaded = await loadManifest(choice.models);
  manifest = loaded.manifest;
  // An older manifest has no object section: the MJCF's file name names the object.
  const objectName = manifest.object?.name || choice.name || manifest.asset.mjcf.replace(/\.xml$/, '');
  showObject(objectName, choice.gallery);
  backend = await chooseBackend(config.backend);
  mainBackend = backend;
  const mods = await loadModules();
  F = mods.F;
  Sym = mods.Sym;
  symmetry = Sym.parseSymmetry(manifest.symmetry); // absent: trivial (every error as before)
  object = objectSettings(manifest);
  ({ physics, inference, view, poseCam, threads } = await loadScene({ config, manifest, base: loaded.base, backend, object, mods }));

  episode = new mods.Episode({ physics, success: manifest.success, object, seed: config.seed, task: config.task,
                               goalAvailable: !!inference.policyGoal, forgetMemory: () => inference.forgetMemory(),
                               symmetry });
  control = new mods.Controller({ physics, inference, poseCam, readback: config.readback, mode: config.mode, obs: config.obs });
  drag = new mods.Drag({ physics, view, spring: object.drag });
  pusher = new mods.Pusher({ physics, sizes: object.push, seed: config.seed });

  ui = new UI({
    reset: () => reset(),
    togglePolicy: () => { control.setMode(control.mode === 'policy' ? 'off' : 'policy'); syncControls(); },
    toggleObs: () => { control.obs = control.obs === 'truth' ? 'predicted' : 'truth'; syncControls(); },
    toggleGoal: () => {
      if (!inference.policyGoal) return;
      episode.setTask(episode.task === 'goal' ? 'upright' : 'goal', { freshTarget: true });
      syncControls();
    },
    newTarget: () => episode.newTarget(),
    push: () => { pusher.push(); episode.clearHold(); },
  });
  ui.setInset(poseCam.canvas);
  ui.setSymmetry(Sym.describeSymmetry(symmetry));
  ui.setGoalAvailable(!!inference.policyGoal, inference.goalNote);
  syncControls();

  drag.attach(view.renderer.domElement);
  inference.onFallback = (reason) => showNotice(`The pose model's WebGPU execution failed (${reason.slice(0, 120)}); it runs on wasm now.`);
  view.onBackendChange = (reason) => {
    mainBackend = 'webgl';
    drag.attach(view.renderer.domElement);
    view.renderer.setAnimationLoop(animate);
    showNotice(`WebGPU rendering failed (${reason}); the scene is drawn with WebGL2. Inference keeps its execution provider.`);
  };

  reset();
  expose({ manifest, object, physics, inference, poseCam, episode, control, pusher, F, state, reset, run,
           pause: (p = true) => { driver.paused = p; }, syncControls, backend, threads });
  view.renderer.setAnimationLoop(animate);
  app.ready = true;
}

function syncControls() {
  ui.setControls({ mode: control.mode, obs: control.obs, task: episode.task });
}

/** A new episode: the body dropped at `quat` (else a seeded random drop), the loop's memory cleared. */
function reset(quat) {
  episode.reset(quat);
  control.reset();
  ui.plot.clear();
}

/** One control period: render -> pose -> policy -> physics, then the episode's score. */
async function controlStep() {
  await control.step(() => episode.policyTarget, () => drag.force());
  episode.score();
}

async function drive(n) {
  driver.busy = true;
  try {
    for (let i = 0; i < n; i++) await controlStep();
  } catch (e) {
    fail(e);
  } finally {
    driver.busy = false;
  }
}

/** orientApp.debug.run: n control steps now (the animation-driven stepping waits); stops early
 *  on success/failure with untilDone. */
async function run(n, { untilDone = false } = {}) {
  while (driver.busy) await new Promise((r) => setTimeout(r, 1));
  driver.debugBusy = true;
  try {
    for (let i = 0; i < n; i++) {
      await controlStep();
      if (untilDone && episode.success !== null) break;
    }
  } finally {
    driver.debugBusy = false;
  }
  return state();
}

/** Frame rate and control steps/s over the last second; in ?quality=auto, the main view's resolution. */
function updateStats(now) {
  stats.frames++;
  if (now - stats.lastT < 1000) return;
  stats.fps = (stats.frames * 1000) / (now - stats.lastT);
  stats.stepsPerSec = ((control.steps - stats.lastSteps) * 1000) / (now - stats.lastT);
  stats.frames = 0;
  stats.lastSteps = control.steps;
  stats.lastT = now;
  if (config.quality === 'auto') {
    const scale = nextResolutionScale(view.resolutionScale, stats.fps);
    if (Math.abs(scale - view.resolutionScale) > 0.01) view.setResolutionScale(scale);
  }
}

/** Start the control steps this frame owes the clock (lockstep: one per frame). */
function schedule(dt) {
  if (driver.paused || driver.debugBusy || app.error) return;
  if (driver.lockstep) {
    if (!driver.busy) drive(1);
    return;
  }
  const cdt = physics.controlDt;
  driver.simBudget = Math.min(driver.simBudget + dt * driver.speed, MAX_STEPS_PER_FRAME * cdt);
  const n = Math.floor(driver.simBudget / cdt + 1e-9);
  if (!driver.busy && n > 0) {
    driver.simBudget -= n * cdt;
    drive(n);
  }
}

function animate() {
  const now = performance.now();
  const dt = Math.min(0.1, (now - driver.lastT) / 1000);
  driver.lastT = now;
  updateStats(now);
  schedule(dt);
  const s = state();
  const dragLine = drag.line();
  const tv = performance.now();
  view.update({ pos: s.pos, quat: s.quat, quatPred: control.quatPred, action: control.action, target: episode.target,
                goalMode: episode.task === 'goal', drag: dragLine });
  const ms = performance.now() - tv;
  stats.viewMs = stats.viewMs === 0 ? ms : 0.9 * stats.viewMs + 0.1 * ms;
  ui.update(s, {
    successT: episode.successT ?? 0, failed: episode.success === false, withinS: manifest.success.within_s,
    task: episode.task, obs: control.obs, seed: config.seed, resets: episode.resets,
    stepsPerSec: stats.stepsPerSec, renderMs: control.timing.render, goalErrDeg: s.goalErrDeg,
    backendNote: `${mainBackend === 'webgpu' ? 'WebGPU' : 'WebGL2'}${view.lean ? ' (software: no MSAA)' : ''} · ORT ${inference.pose.provider}` +
      ` · ${threads} thread${threads > 1 ? 's' : ''}${crossOriginIsolated ? '' : ' (not isolated)'} · MuJoCo ${physics.version}`,
  });
}

/** orientApp.state(): the loop's state (DESIGN.md's keys first, then extras). The angles are
 *  modulo the object's symmetry (manifest.symmetry; none: plain). */
function state() {
  const quat = physics.quat, { quatPred, action, timing } = control, { task, target } = episode;
  return {
    t: physics.time,
    quat,
    quatPred,
    angVel: physics.angVel,
    action: action.slice(),
    tiltDeg: Sym.tiltDegModulo(quat, symmetry),
    predErrDeg: quatPred ? Sym.angleDegModulo(quat, quatPred, symmetry) : null,
    success: episode.success === true,
    fps: stats.fps,
    poseMs: timing.render + timing.pose,
    policyMs: timing.policy,
    physicsMs: timing.physics,
    // extras
    pos: physics.pos,
    failed: episode.success === false,
    successT: episode.successT,
    goalErrDeg: task === 'goal' ? Sym.angleDegModulo(quat, target, symmetry) : null,
    target: task === 'goal' ? target.slice() : null,
    renderMs: timing.render,
    viewMs: stats.viewMs,
    resolutionScale: view.resolutionScale,
    mainViewLean: view.lean,
    poseInferMs: timing.pose,
    stepsPerSec: stats.stepsPerSec,
    mode: control.mode, obs: control.obs, task, backend, mainBackend, poseEp: inference.pose.provider, threads,
    readback: config.readback,
  };
}

init().catch(fail);
