// Inference: ONNX Runtime Web runs pose.onnx on the offscreen render, then policy.onnx on the
// raw signals (quat, ang_vel, prev_action[, target][, memory]) — every feature is inside the
// graphs (DESIGN.md), so nothing is rebuilt here. A policy with memory returns memory_out, the
// next call's memory: kept here, opaque, and zeroed when an episode (or its target) changes.
// wasm EP by default (threads when the page is cross-origin isolated), WebGPU EP for the pose
// model when backend === 'webgpu'.

let ortPromise = null;

/** Loads onnxruntime-web once: the WebGPU build (which also has wasm) or the wasm-only one. */
export async function loadOrt(ep, numThreads, proxy = false) {
  if (!ortPromise) {
    const spec = ep === 'webgpu' ? 'onnxruntime-web/webgpu' : 'onnxruntime-web';
    ortPromise = import(spec).then((ort) => {
      // The .wasm and its .mjs glue sit beside ort.*.min.mjs in vendor/ (see scripts/vendor.mjs).
      ort.env.wasm.wasmPaths = new URL('../vendor/onnxruntime-web/', import.meta.url).href;
      ort.env.wasm.numThreads = numThreads; // explicit: its own pick is 1 on 2 cores anyway
      // proxy: inference runs in ORT's worker, so the main thread draws frames meanwhile.
      if (proxy && ep !== 'webgpu') ort.env.wasm.proxy = true;
      ort.env.logLevel = 'error';
      return ort;
    }).catch((e) => {
      ortPromise = null;
      throw new Error(`onnxruntime-web failed to load: ${e.message || e}`);
    });
  }
  return ortPromise;
}

async function fetchModel(url, what) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`the ${what} model ${url} failed to load: ${e.message || e}`);
  }
  if (!res.ok) throw new Error(`the ${what} model ${url} failed to load: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export class Model {
  /** `entry` is a manifest.models item ({file, external_data?}); `base` the manifest's URL. */
  static async create(ort, base, entry, what, executionProviders) {
    if (!entry?.file) throw new Error(`the manifest names no ${what} model (models.${what}.file)`);
    const url = new URL(entry.file, base).href;
    const bytes = await fetchModel(url, what);
    const options = { executionProviders, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
    if (entry.external_data) {
      // jax2onnx's standard mode may spill weights to a sidecar (pose.onnx.data).
      const dataUrl = new URL(entry.external_data, base).href;
      options.externalData = [{ path: entry.external_data, data: await fetchModel(dataUrl, `${what} weights`) }];
    }
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, options);
    } catch (e) {
      throw new Error(`the ${what} model ${entry.file} could not be opened (corrupt or unsupported): ${e.message || e}`);
    }
    const model = new Model(ort, session, what, executionProviders[0]);
    if (model.inputNames.includes('memory')) {
      const shape = entry.inputs?.memory?.shape;
      if (!Array.isArray(shape) || shape.length < 2) throw new Error(`the manifest gives no shape for ${what}.onnx's memory input`);
      model.memoryShape = [1, ...shape.slice(1)];
    }
    return model;
  }

  constructor(ort, session, what, provider) {
    this.ort = ort;
    this.session = session;
    this.what = what;
    this.provider = provider;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.memoryShape = null; // [1, K, F + 1] for a policy with memory
  }

  /** feeds: {name: [Float32Array, dims]} -> {name: Float32Array} */
  async run(feeds) {
    const tensors = {};
    for (const [name, [data, dims]] of Object.entries(feeds)) {
      // Always a fresh array: with the proxy worker ORT transfers (detaches) the input buffer,
      // and callers reuse theirs (the pose camera's frame).
      tensors[name] = new this.ort.Tensor('float32', Float32Array.from(data), dims);
    }
    const out = await this.session.run(tensors);
    const result = {};
    for (const [name, t] of Object.entries(out)) result[name] = t.data instanceof Float32Array ? t.data : await t.getData();
    return result;
  }
}

/** The page's two (or three) models, and one call per control step. */
export class Inference {
  static async create({ manifest, base, ep, numThreads, proxy = false }) {
    const ort = await loadOrt(ep, numThreads, proxy);
    const poseEps = ep === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
    const pose = await Model.create(ort, base, manifest.models?.pose, 'pose', poseEps);
    const policy = await Model.create(ort, base, manifest.models?.policy, 'policy', ['wasm']);
    let policyGoal = null, goalNote = null;
    if (manifest.models?.policy_goal) {
      try {
        policyGoal = await Model.create(ort, base, manifest.models.policy_goal, 'policy_goal', ['wasm']);
      } catch (e) {
        goalNote = e.message; // goal mode only: the upright loop still runs
      }
    } else {
      goalNote = 'this models folder has no policy_goal.onnx';
    }
    for (const [m, want] of [[pose, ['image']], [policy, ['quat', 'ang_vel', 'prev_action']]]) {
      for (const name of want) {
        if (!m.inputNames.includes(name)) throw new Error(`${m.what}.onnx has no input '${name}' (has ${m.inputNames.join(', ')})`);
      }
    }
    const inf = new Inference(ort, pose, policy, policyGoal, goalNote, manifest.camera);
    inf.reopenPoseOnWasm = () => Model.create(ort, base, manifest.models.pose, 'pose', ['wasm']);
    return inf;
  }

  constructor(ort, pose, policy, policyGoal, goalNote, camera) {
    Object.assign(this, { ort, pose, policy, policyGoal, goalNote });
    this.memory = new Map(); // model -> its last memory_out (absent: zeros, an episode's start)
    this.onFallback = null;
    this.h = camera.height;
    this.w = camera.width;
  }

  /** image: Float32Array N*H*W*3 -> Float32Array N*4 ([x, y, z, w]). */
  async predictPose(image, n = 1) {
    let out;
    try {
      out = await this.pose.run({ image: [image, [n, this.h, this.w, 3]] });
    } catch (e) {
      if (this.pose.provider !== 'webgpu') throw e;
      // A lost WebGPU device (or an op the EP cannot run): continue on wasm.
      this.pose = await this.reopenPoseOnWasm();
      this.onFallback?.(e.message || String(e));
      out = await this.pose.run({ image: [image, [n, this.h, this.w, 3]] });
    }
    return out.quat ?? out[this.pose.outputNames[0]];
  }

  /** Raw signals -> action [3] in [-1, 1]; the goal policy when target is given. */
  async act(quat, angVel, prevAction, target = null) {
    const model = target ? this.policyGoal : this.policy;
    const feeds = { quat: [quat, [1, 4]], ang_vel: [angVel, [1, 3]], prev_action: [prevAction, [1, 3]] };
    if (target) feeds.target = [target, [1, 4]];
    if (model.memoryShape) feeds.memory = [this.memoryFor(model), model.memoryShape];
    const out = await model.run(feeds);
    if (model.memoryShape) this.memory.set(model, Float32Array.from(out.memory_out));
    return Array.from(out.action ?? out[model.outputNames[0]]);
  }

  /** The memory `model` gets next: its last memory_out, zeros at an episode's start. */
  memoryFor(model) {
    return this.memory.get(model) ?? new Float32Array(model.memoryShape.reduce((a, b) => a * b, 1));
  }

  /** A new episode for the policies: their memories start again from zeros. */
  forgetMemory() {
    this.memory.clear();
  }

  /** Test hook: run a named model on batched raw inputs {name: [flatArray, dims]}. */
  async runRaw(which, feeds) {
    if (which === 'pose') {
      const [data, dims] = feeds.image;
      return { quat: Array.from(await this.predictPose(data instanceof Float32Array ? data : Float32Array.from(data), dims[0])) };
    }
    const model = { policy: this.policy, policy_goal: this.policyGoal }[which];
    if (!model) throw new Error(`no ${which} model loaded`);
    const out = await model.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v)]));
  }
}
