// Loading: the manifest (checked), the object's constants (manifest.object), the rendering
// backend, the page's modules, then physics, models, the object's look, the main view and the
// pose camera. No vendored import at the top: a page whose vendor/ is missing still shows why.
import { showNotice, setStatus } from './ui.js';

export const MANIFEST_VERSION = 1;
export const GALLERY_VERSION = 1;

async function fetchJson(url, what) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${what} ${url} failed to load: ${e.message}`);
  }
  if (!res.ok) return { status: res.status };
  try {
    return { status: res.status, json: await res.json() };
  } catch (e) {
    throw new Error(`${what} ${url} is not valid JSON: ${e.message}`);
  }
}

/** Which models folder to load, and the gallery it belongs to.
 *  ?models=DIR: that folder alone (no picker). Otherwise the gallery (?gallery=URL, default
 *  public/gallery.json, written by `orient-jax bundle`): {version, objects: [{name, models}]},
 *  each `models` relative to the gallery file; ?object=NAME picks one (default: the first).
 *  A bundle without a gallery file (an older one) loads public/models/ alone.
 *  Returns {models: URL of the folder, name: the object's name or null, gallery: [{name, models}]}. */
export async function chooseObject(config) {
  if (config.models) return { models: config.models, name: null, gallery: [] };
  const url = new URL(config.gallery || 'public/gallery.json', location.href).href;
  const { status, json } = await fetchJson(url, 'the gallery');
  if (status === 404 && !config.gallery) {
    if (config.object) throw new Error(`?object=${config.object}: this page has no gallery (${url} is missing), only public/models/`);
    return { models: 'public/models/', name: null, gallery: [] };
  }
  if (!json) throw new Error(`the gallery ${url} failed to load: HTTP ${status}`);
  if (json.version !== GALLERY_VERSION || !Array.isArray(json.objects) || json.objects.length === 0) {
    throw new Error(`the gallery ${url} is not a version-${GALLERY_VERSION} gallery with at least one object; rebuild it with \`orient-jax bundle\``);
  }
  const gallery = json.objects.map((o) => ({ name: String(o.name), models: new URL(String(o.models).replace(/\/?$/, '/'), url).href }));
  const pick = config.object ? gallery.find((o) => o.name === config.object) : gallery[0];
  if (!pick) throw new Error(`?object=${config.object}: not in the gallery; it has ${gallery.map((o) => o.name).join(', ')}`);
  return { models: pick.models, name: pick.name, gallery };
}

export async function loadManifest(dir) {
  const url = new URL('manifest.json', new URL(dir.replace(/\/?$/, '/'), location.href)).href;
  const { status, json: m } = await fetchJson(url, 'the manifest');
  if (!m) throw new Error(`the manifest ${url} failed to load: HTTP ${status}. Fill the models folder with \`orient-jax export --out web/public/models\`, or point ?models= at one.`);
  if (m.version !== MANIFEST_VERSION) {
    throw new Error(`the manifest ${url} has version ${JSON.stringify(m.version)}; this page reads version ${MANIFEST_VERSION}. Re-export the models or update the page.`);
  }
  for (const key of ['asset', 'physics', 'camera', 'success', 'models']) {
    if (!m[key]) throw new Error(`the manifest ${url} has no "${key}" section`);
  }
  if (!m.asset.mjcf) throw new Error(`the manifest ${url} names no MJCF (asset.mjcf)`);
  for (const key of ['timestep', 'control_dt', 'action_scale']) {
    if (m.physics[key] === undefined) throw new Error(`the manifest has no physics.${key}`);
  }
  return { manifest: m, base: url };
}

// The engine's values, for a manifest written before the `object` section
// (orient_jax/export/manifest.py object_from_mjcf writes exactly these for the engine).
const ENGINE_DEFAULTS = {
  spawn: { xy: 0.05 }, // height: the MJCF's placement of the body (its qpos0)
  drag: { stiffness: 150, damping: 6, max_force: 120 },
  push: { impulse: 3.0, duration: 0.1 },
  goal_hold_margin: 0.7,
  view: { ghost_lift: 0.45, axes: 0.22, target_height: 0.25, look_at_height: 0.18 },
};

/** The object's constants from manifest.object; a key an older manifest lacks takes the
 *  engine's value (or the MJCF's / the policy config's, where they say it) with a console warning.
 *  body null: the body with the free joint (physics.js). The page reads the object's collision
 *  meshes from the compiled model, so manifest object.collision_mesh is not needed here. */
export function objectSettings(manifest) {
  const o = manifest.object || {};
  const missing = [];
  const pick = (path, fallback) => {
    let v = o;
    for (const k of path.split('.')) v = v == null ? undefined : v[k];
    if (v !== undefined && v !== null) return v;
    missing.push(path);
    return fallback;
  };
  const env = (name) => manifest.models?.[name]?.config?.env_config || {};
  const d = ENGINE_DEFAULTS;
  const s = {
    body: pick('body', null),
    spawn: { xy: pick('spawn.xy', env('policy').spawn_xy ?? d.spawn.xy), height: pick('spawn.height', null) },
    drag: Object.fromEntries(Object.keys(d.drag).map((k) => [k, pick(`drag.${k}`, d.drag[k])])),
    push: Object.fromEntries(Object.keys(d.push).map((k) => [k, pick(`push.${k}`, d.push[k])])),
    goalHoldMargin: pick('goal_hold_margin', env('policy_goal').goal_hold_margin ?? d.goal_hold_margin),
    view: Object.fromEntries(Object.keys(d.view).map((k) => [k, pick(`view.${k}`, d.view[k])])),
  };
  s.missing = missing;
  if (!manifest.object) {
    console.warn('orient-jax: the manifest has no "object" section (an older export): using the engine\'s grab spring, ' +
      'push, spawn square, goal hold margin and view sizes, the MJCF\'s body with the free joint, its collision mesh ' +
      'and its drop height. Re-export (`orient-jax export`) to take them from the object.');
  } else if (missing.length) {
    console.warn(`orient-jax: the manifest's object section lacks ${missing.map((k) => `object.${k}`).join(', ')}: ` +
      'using the engine\'s values (names and drop height: the MJCF\'s).');
  }
  return s;
}

export async function chooseBackend(want) {
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

/** The page's modules that import the vendored libraries (three.js, onnxruntime-web, mujoco-js). */
export async function loadModules() {
  try {
    const [frames, symmetry, renderer, physics, inference, episode, control, input] = await Promise.all([
      import('./frames.js'), import('./symmetry.js'), import('./renderer.js'), import('./physics.js'),
      import('./inference.js'), import('./episode.js'), import('./control.js'), import('./input.js')]);
    return { F: frames, Sym: symmetry, ...renderer, ...physics, ...inference, ...episode, ...control, ...input };
  } catch (e) {
    throw new Error(`the page's modules failed to load (${e.message}). Vendored files missing? Run \`npm ci && node scripts/vendor.mjs\` in web/.`);
  }
}

/** Physics and models (in parallel), the object's look, the main view and the pose camera. */
export async function loadScene({ config, manifest, base, backend, object, mods }) {
  const { Physics, Inference, View, PoseCamera, loadGlb, lookFromGeoms } = mods;
  setStatus('loading physics and models…');
  const cores = navigator.hardwareConcurrency || 2;
  const threads = config.threads > 0 ? config.threads : crossOriginIsolated ? Math.max(1, Math.min(4, cores - 1)) : 1;
  const mjcfUrl = new URL(manifest.asset.mjcf, base).href;
  const [physics, inference] = await Promise.all([
    Physics.create(mjcfUrl, manifest.physics, { body: object.body, dropHeight: object.spawn.height }),
    Inference.create({ manifest, base, ep: config.ep || (backend === 'webgpu' ? 'webgpu' : 'wasm'), numThreads: threads,
                       proxy: config.proxy }),
  ]);

  // The object's look: the .glb when the models folder has one, else the MJCF's visual geoms.
  let look = null;
  if (manifest.asset.glb) {
    try {
      look = await loadGlb(new URL(manifest.asset.glb, base).href);
    } catch (e) {
      throw new Error(`the object's model ${manifest.asset.glb} could not be read: ${e.message}`);
    }
  }
  if (!look) {
    look = lookFromGeoms(physics.visualGeoms());
    showNotice('No .glb in the models folder: drawing the MJCF\'s boxes and cylinders instead. The pose model was trained on the .glb\'s look, so its predictions may be off.');
  }

  const view = await View.create(document.getElementById('view'), { backend, look, arena: physics.arenaGeoms(),
                                                                    quality: config.quality, sizes: object.view });
  const poseCam = new PoseCamera(look, manifest.camera, manifest.render || {});
  return { physics, inference, view, poseCam, threads };
}
