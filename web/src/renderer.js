// Rendering (three.js): the main view (arena, the object, ghost of the prediction, torque arrows,
// target gizmo, orbit controls) and the pose camera's offscreen 128 x 128 render that feeds
// pose.onnx. World frame handling lives in frames.js; everything here is placed under
// worldRoot() in world (Z-up) coordinates.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { worldRoot, gltfToBody, worldToThree, threeToWorld, setObjectQuat } from './frames.js';

// What the pose camera sees must match the dataset's nominal Blender (Cycles) renders
// (orient_jax/data/config.py LightingConfig, blender/scene.py): the object alone at the origin
// over a flat background, lit by a sun (Blender strength S W/m^2 == three.js DirectionalLight
// intensity S: both divide by pi for a Lambertian surface) placed relative to the camera's
// azimuth, plus a uniform grey world. The world is an environment map, not a hemisphere light:
// in Cycles the world lights diffuse AND reflects in metals (most of the engine is metallic).
// Colour: glTF base colours are linear, output is plain sRGB (Blender's 'Standard' view
// transform), no tone mapping. manifest.render (optional) overrides any of these.
export const POSE_RENDER_DEFAULTS = {
  background: [0.62, 0.66, 0.70],     // sRGB (LightingConfig.background)
  ambient: 0.35,                      // world grey level, linear (LightingConfig.ambient)
  sun: { azimuth_from_camera_deg: -35.0, elevation_deg: 55.0, strength: 3.0 }, // LightingConfig.sun_*
  shadows: true,                      // Cycles traces the sun's shadows
  // The cheapest settings that cost no accuracy (benchmarks/pose_render_variants.py): in a
  // software rasterizer 4x MSAA and soft shadow filtering took 31 % of the pose render, and the
  // pose model's page-frame error is no larger without them. Cycles' soft edges are not needed.
  shadow_type: 'basic',               // 'basic' | 'pcf' | 'pcfsoft': the shadow edge filter
  antialias: false,
  tone_mapping: 'none',
};

/** Unit vector from the scene towards the sun (world, Z up), as orient_jax.data.randomize.nominal_sun_direction. */
export function sunDirection(sun, camera) {
  if (sun.dir) return sun.dir.map((c) => -c); // legacy override: the direction the light travels
  const p = camera.position, c = camera.look_at || [0, 0, 0];
  const az = Math.atan2(p[1] - c[1], p[0] - c[0]) + ((sun.azimuth_from_camera_deg ?? -35) * Math.PI) / 180;
  const el = ((sun.elevation_deg ?? 55) * Math.PI) / 180;
  return [Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)];
}

/** Load the .glb (body frame after gltfToBody), or null when absent; throws on a corrupt one. */
export async function loadGlb(url) {
  const res = await fetch(url);
  if (!res.ok) return null;
  const buf = await res.arrayBuffer();
  const gltf = await new GLTFLoader().parseAsync(buf, url.replace(/[^/]*$/, ''));
  const wrap = gltfToBody();
  wrap.add(gltf.scene);
  const body = new THREE.Group();
  body.add(wrap);
  return body;
}

/** Fallback: boxes and cylinders from the MJCF's visual geoms (body frame). */
export function lookFromGeoms(geoms) {
  const body = new THREE.Group();
  for (const g of geoms) {
    let geo;
    if (g.type === 'box') geo = new THREE.BoxGeometry(2 * g.size[0], 2 * g.size[1], 2 * g.size[2]);
    else if (g.type === 'cylinder') geo = new THREE.CylinderGeometry(g.size[0], g.size[0], 2 * g.size[1], 32).rotateX(Math.PI / 2);
    else if (g.type === 'capsule') geo = new THREE.CapsuleGeometry(g.size[0], 2 * g.size[1], 8, 16).rotateX(Math.PI / 2);
    else geo = new THREE.SphereGeometry(g.size[0], 24, 16);
    const color = new THREE.Color().setRGB(g.rgba[0], g.rgba[1], g.rgba[2]); // linear, as glTF base colours
    const mesh = new THREE.Mesh(geo, new THREE.MeshStandardMaterial({ color, metalness: 0.2, roughness: 0.55 }));
    mesh.name = g.name || g.type;
    mesh.position.set(...g.pos);
    mesh.quaternion.set(g.quat[1], g.quat[2], g.quat[3], g.quat[0]);
    body.add(mesh);
  }
  return body;
}

function shadows(obj, cast, receive) {
  obj.traverse((o) => { if (o.isMesh) { o.castShadow = cast; o.receiveShadow = receive; } });
  return obj;
}

function ghostOf(look, color) {
  const g = look.clone(true);
  g.traverse((o) => {
    if (o.isMesh) {
      o.material = new THREE.MeshStandardMaterial({ color, transparent: true, opacity: 0.45, roughness: 0.6, depthWrite: false });
      o.castShadow = false;
    }
  });
  return g;
}

function arrow(dir, color) {
  const a = new THREE.ArrowHelper(new THREE.Vector3(...dir), new THREE.Vector3(), 0.2, color, 0.05, 0.03);
  a.line.material.linewidth = 2;
  return a;
}

function axesTriad(len = 0.14) {
  const g = new THREE.Group();
  [[1, 0, 0, 0xe53935], [0, 1, 0, 0x43a047], [0, 0, 1, 0x1e88e5]].forEach(([x, y, z, c]) => {
    g.add(new THREE.ArrowHelper(new THREE.Vector3(x, y, z), new THREE.Vector3(), len, c, 0.03, 0.018));
  });
  return g;
}

/** Whether WebGL2 here is a software rasterizer (SwiftShader, llvmpipe): the browser refuses a
 *  context that asks to fail on a "major performance caveat", or names the renderer. */
function softwareWebGL() {
  if (!document.createElement('canvas').getContext('webgl2', { failIfMajorPerformanceCaveat: true })) return true;
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}

/** The main view. `backend` 'webgpu' uses three's WebGPURenderer (which falls back to WebGL2).
 *  quality 'auto' on a software rasterizer draws without MSAA and with hard-edged shadows: there
 *  the main view's MSAA costs the pose camera (same GPU process) a third of the control rate. */
export class View {
  /** sizes: the object-sized lengths (m) of manifest object.view: {ghost_lift (the prediction's
   *  ghost above the body), axes (drawn body axes), target_height (the goal ghost's origin),
   *  look_at_height (the orbit centre)}. */
  static async create(container, { backend, look, arena, sizes, quality = 'auto' }) {
    let renderer, lean = false;
    if (backend === 'webgpu') {
      const { WebGPURenderer } = await import('three/webgpu');
      renderer = new WebGPURenderer({ antialias: true });
      await renderer.init();
    } else {
      const probe = document.createElement('canvas');
      if (!probe.getContext('webgl2')) throw new Error('WebGL2 is not available in this browser (needed to render the scene and the camera image)');
      lean = quality === 'auto' && softwareWebGL();
      renderer = new THREE.WebGLRenderer({ antialias: !lean });
    }
    return new View(container, renderer, backend, look, arena, lean, sizes);
  }

  constructor(container, renderer, backend, look, arena, lean, sizes) {
    this.renderer = renderer;
    this.sizes = sizes;
    this.backend = backend;
    this.lean = lean; // software GL: no MSAA, basic shadows
    this.basePixelRatio = Math.min(window.devicePixelRatio, 1.5);
    this.resolutionScale = 1;
    renderer.setPixelRatio(this.basePixelRatio);
    renderer.shadowMap.enabled = backend !== 'webgpu' || new URLSearchParams(location.search).has('shadows');
    if (lean) renderer.shadowMap.type = THREE.BasicShadowMap;
    container.appendChild(renderer.domElement);
    this.container = container;

    const scene = (this.scene = new THREE.Scene());
    scene.background = new THREE.Color(0xdfe6ee);
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.02, 20);
    this.camera.position.copy(worldToThree([1.15, -1.5, 1.05]));
    this.controls = new OrbitControls(this.camera, renderer.domElement);
    this.controls.target.copy(worldToThree([0, 0, this.sizes.look_at_height]));
    this.controls.enableDamping = true;
    this.controls.maxPolarAngle = Math.PI * 0.49;
    this.controls.update();

    scene.add(new THREE.HemisphereLight(0xffffff, 0x8d8d8d, 1.4));
    const sun = new THREE.DirectionalLight(0xffffff, 2.4);
    sun.position.copy(worldToThree([0.6, -0.5, 2.0]));
    sun.castShadow = true;
    sun.shadow.mapSize.set(512, 512);
    sun.shadow.bias = -0.0005;
    sun.shadow.normalBias = 0.004;
    Object.assign(sun.shadow.camera, { left: -0.8, right: 0.8, top: 0.8, bottom: -0.8, near: 0.5, far: 4 });
    scene.add(sun);

    const world = (this.world = worldRoot());
    scene.add(world);
    this.addArena(arena);

    this.body = shadows(look.clone(true), true, true);
    world.add(this.body);
    this.torqueArrows = [[1, 0, 0, 0xff5252], [0, 1, 0, 0x66bb6a], [0, 0, 1, 0x42a5f5]].map(([x, y, z, c]) => {
      const a = arrow([x, y, z], c);
      this.body.add(a);
      return a;
    });
    this.bodyAxes = axesTriad(this.sizes.axes);
    this.body.add(this.bodyAxes);

    // The prediction: a ghost of the object floating above the true one, with its axes.
    this.ghost = ghostOf(look, 0x4fc3f7);
    this.ghost.add(axesTriad(this.sizes.axes));
    world.add(this.ghost);

    // Goal mode: the target orientation, drawn as a ghost in the arena's far corner.
    this.target = ghostOf(look, 0xffd54f);
    this.target.add(axesTriad(this.sizes.axes));
    this.target.position.set(-0.72, 0.72, this.sizes.target_height);
    this.target.visible = false;
    world.add(this.target);

    // Drag line (disturbance).
    this.dragLine = new THREE.Line(new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3()]),
      new THREE.LineBasicMaterial({ color: 0xff1744 }));
    this.dragLine.visible = false;
    world.add(this.dragLine);

    this.raycaster = new THREE.Raycaster();
    this.onBackendChange = null;
    if (backend === 'webgpu') renderer.onDeviceLost = (info) => this.fallBackToWebGL(info?.message || 'device lost');
    window.addEventListener('resize', () => this.resize());
    this.resize();
  }

  /** WebGPU lost its device (headless software adapters do, for canvases): draw with WebGL2. */
  fallBackToWebGL(reason) {
    if (this.backend !== 'webgpu') return;
    const old = this.renderer;
    old.setAnimationLoop(null);
    const renderer = new THREE.WebGLRenderer({ antialias: true });
    renderer.setPixelRatio(old.getPixelRatio());
    renderer.shadowMap.enabled = true;
    old.domElement.replaceWith(renderer.domElement);
    this.controls.dispose();
    this.controls = new OrbitControls(this.camera, renderer.domElement);
    this.controls.target.copy(worldToThree([0, 0, this.sizes.look_at_height]));
    this.controls.enableDamping = true;
    this.controls.update();
    this.renderer = renderer;
    this.backend = 'webgl';
    this.resize();
    this.onBackendChange?.(reason, old);
  }

  addArena(arena) {
    for (const g of arena) {
      if (g.type !== 'plane') continue;
      const isFloor = g.name === 'floor';
      const geo = new THREE.PlaneGeometry(2 * g.size[0], 2 * g.size[1]);
      const color = new THREE.Color().setRGB(g.rgba[0], g.rgba[1], g.rgba[2]);
      const mat = new THREE.MeshStandardMaterial({ color, roughness: 0.9, transparent: !isFloor, opacity: isFloor ? 1 : 0.55 });
      const m = new THREE.Mesh(geo, mat);
      m.name = g.name;
      m.position.set(...g.pos);
      m.quaternion.setFromUnitVectors(new THREE.Vector3(0, 0, 1), new THREE.Vector3(...g.zaxis).normalize());
      m.receiveShadow = isFloor;
      this.world.add(m);
      if (isFloor) {
        const grid = new THREE.GridHelper(2 * g.size[0], 10, 0x888888, 0xaaaaaa);
        grid.rotation.x = Math.PI / 2; // three's grid lies in XZ; world floor is XY
        grid.position.set(g.pos[0], g.pos[1], g.pos[2] + 0.0005);
        this.world.add(grid);
      }
    }
  }

  /** Draw the main view at `scale` x its full pixel count per axis (CSS keeps its size). */
  setResolutionScale(scale) {
    this.resolutionScale = Math.min(1, Math.max(0.25, scale));
    this.renderer.setPixelRatio(this.basePixelRatio * this.resolutionScale);
    this.resize();
    return this.resolutionScale;
  }

  resize() {
    const w = this.container.clientWidth || window.innerWidth, h = this.container.clientHeight || window.innerHeight;
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.renderer.setSize(w, h);
  }

  /** Update poses from the state, then draw. */
  update({ pos, quat, quatPred, action, target, goalMode, drag }) {
    this.body.position.set(...pos);
    setObjectQuat(this.body, quat);
    this.ghost.position.set(pos[0], pos[1], pos[2] + this.sizes.ghost_lift);
    setObjectQuat(this.ghost, quatPred || quat);
    this.ghost.visible = !!quatPred;
    this.torqueArrows.forEach((a, i) => {
      const v = action ? action[i] : 0;
      a.visible = Math.abs(v) > 0.02;
      a.setDirection(new THREE.Vector3(i === 0 ? Math.sign(v) : 0, i === 1 ? Math.sign(v) : 0, i === 2 ? Math.sign(v) : 0));
      a.setLength(0.12 + 0.2 * Math.abs(v), 0.05, 0.03);
    });
    this.target.visible = !!goalMode;
    if (target) setObjectQuat(this.target, target);
    this.dragLine.visible = !!drag;
    if (drag) this.dragLine.geometry.setFromPoints([new THREE.Vector3(...drag.from), new THREE.Vector3(...drag.to)]);
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  /** Pointer (client px) -> {point (world), local (body frame)} on the object, or null. */
  pick(clientX, clientY) {
    const r = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const hit = this.raycaster.intersectObject(this.body, true).find((h) => h.object.isMesh);
    if (!hit) return null;
    const local = this.body.worldToLocal(hit.point.clone());
    return { point: threeToWorld(hit.point), local: [local.x, local.y, local.z], depth: hit.distance };
  }

  /** Pointer -> world point on the plane facing the camera through world point p. */
  pointerOnPlane(clientX, clientY, p) {
    const r = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const n = new THREE.Vector3();
    this.camera.getWorldDirection(n);
    const plane = new THREE.Plane().setFromNormalAndCoplanarPoint(n, worldToThree(p));
    const out = new THREE.Vector3();
    return this.raycaster.ray.intersectPlane(plane, out) ? threeToWorld(out) : null;
  }

  /** Body-frame point -> world point, from the drawn body. */
  bodyToWorld(local) {
    const v = this.body.localToWorld(new THREE.Vector3(...local));
    return threeToWorld(v);
  }
}

/**
 * The pose camera: the object alone at the origin, in its true orientation, seen from
 * manifest.camera, rendered into its own small WebGL2 canvas (which is also the on-page inset)
 * and read back as float32 RGB in [0, 1], NHWC, top row first.
 */
export class PoseCamera {
  constructor(look, camera, render = {}) {
    const opts = { ...POSE_RENDER_DEFAULTS, ...render, sun: { ...POSE_RENDER_DEFAULTS.sun, ...(render.sun || {}) } };
    this.w = camera.width;
    this.h = camera.height;
    this.canvas = document.createElement('canvas');
    this.canvas.width = this.w;
    this.canvas.height = this.h;
    this.canvas.className = 'pose-inset';
    const renderer = (this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: !!opts.antialias, preserveDrawingBuffer: false }));
    renderer.setPixelRatio(1);
    renderer.setSize(this.w, this.h, false);
    renderer.outputColorSpace = THREE.SRGBColorSpace;
    renderer.toneMapping = opts.tone_mapping === 'aces' ? THREE.ACESFilmicToneMapping : opts.tone_mapping === 'agx' ? THREE.AgXToneMapping : THREE.NoToneMapping;
    renderer.shadowMap.enabled = !!opts.shadows;
    renderer.shadowMap.type = { basic: THREE.BasicShadowMap, pcf: THREE.PCFShadowMap }[opts.shadow_type] ?? THREE.PCFSoftShadowMap;
    this.gl = renderer.getContext();
    // A lost context takes its buffers and fences with it (the WebGPU fallback can cause one).
    this.canvas.addEventListener('webglcontextlost', () => { this.pbo = null; this.fence = null; });

    const scene = (this.scene = new THREE.Scene());
    scene.background = new THREE.Color().setRGB(...opts.background, THREE.SRGBColorSpace);
    // The world: a uniform grey environment (diffuse fill + what metals reflect), like Cycles' world colour.
    const envScene = new THREE.Scene();
    envScene.background = new THREE.Color().setRGB(opts.ambient, opts.ambient, opts.ambient, THREE.LinearSRGBColorSpace);
    const pmrem = new THREE.PMREMGenerator(renderer);
    this.envTarget = pmrem.fromScene(envScene, 0, 0.1, 10);
    pmrem.dispose();
    scene.environment = this.envTarget.texture;
    scene.environmentIntensity = 1.0;
    const strength = render.sun?.strength ?? render.sun?.intensity ?? opts.sun.strength; // `intensity`: legacy key
    const sun = (this.sun = new THREE.DirectionalLight(0xffffff, strength));
    sun.position.copy(worldToThree(sunDirection(opts.sun, camera)).multiplyScalar(2.0));
    if (opts.shadows) {
      sun.castShadow = true;
      // 512 texels over 0.8 m: 1.6 mm, finer than the camera's ~4 mm pixels; 1024 costs a
      // software rasterizer 4x the depth pass for no visible change.
      sun.shadow.mapSize.set(512, 512);
      sun.shadow.bias = -0.0003;
      sun.shadow.normalBias = 0.002;
      Object.assign(sun.shadow.camera, { left: -0.4, right: 0.4, top: 0.4, bottom: -0.4, near: 1.0, far: 3.0 });
    }
    scene.add(sun);
    const world = worldRoot();
    scene.add(world);
    this.body = shadows(look.clone(true), !!opts.shadows, !!opts.shadows);
    world.add(this.body);

    this.camera = new THREE.PerspectiveCamera(camera.fov_y_deg, this.w / this.h, 0.01, 20);
    this.camera.position.copy(worldToThree(camera.position));
    this.camera.up.copy(worldToThree(camera.up || [0, 0, 1]));
    this.camera.lookAt(worldToThree(camera.look_at || [0, 0, 0]));

    this.rgba = new Uint8Array(this.w * this.h * 4);
    this.image = new Float32Array(this.w * this.h * 3);
  }

  /** Render the object at orientation q ([x,y,z,w]); returns the Float32Array image (reused).
   *  Synchronous: readPixels waits until the (software) GPU has finished the frame. */
  render(q) {
    setObjectQuat(this.body, q);
    this.renderer.render(this.scene, this.camera);
    const { gl, w, h, rgba } = this;
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
    return this.toImage();
  }

  /** Start rendering q and copying its pixels into a pixel-pack buffer; `collect()` returns the
   *  image once the GPU is done. The main thread does other work meanwhile instead of stalling in
   *  readPixels (three's readRenderTargetPixelsAsync does this for render targets only; the
   *  pose image is the canvas, which the inset shows). One frame in flight: a new `begin`
   *  drops an uncollected one. */
  begin(q) {
    const { gl, w, h } = this;
    this.discard();
    setObjectQuat(this.body, q);
    this.renderer.render(this.scene, this.camera);
    if (!this.pbo) {
      this.pbo = gl.createBuffer();
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.pbo);
      gl.bufferData(gl.PIXEL_PACK_BUFFER, w * h * 4, gl.STREAM_READ);
    }
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.pbo);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, 0);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
    this.fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    gl.flush();
  }

  /** The image of the last `begin` (Float32Array, reused), once its fence has signalled; null
   *  when that frame was lost (context loss), so the caller renders again. A sync object's
   *  status only changes between tasks, so this yields to the event loop while waiting. */
  async collect() {
    const { gl, rgba } = this;
    for (;;) {
      if (!this.fence || gl.isContextLost()) {
        this.fence = null;
        return null;
      }
      const status = gl.clientWaitSync(this.fence, 0, 0);
      if (status === gl.WAIT_FAILED) {
        this.fence = null;
        this.pbo = null;
        return null;
      }
      if (status !== gl.TIMEOUT_EXPIRED) break;
      await new Promise((resolve) => setTimeout(resolve, 1)); // polls cost ~nothing; no busy loop
    }
    gl.deleteSync(this.fence);
    this.fence = null;
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.pbo);
    gl.getBufferSubData(gl.PIXEL_PACK_BUFFER, 0, rgba);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
    return this.toImage();
  }

  /** Drop the frame in flight, if any (after a reset its state is stale). */
  discard() {
    if (this.fence && !this.gl.isContextLost()) this.gl.deleteSync(this.fence);
    this.fence = null;
  }

  /** this.rgba (WebGL rows bottom-up) -> this.image, float32 RGB in [0, 1], top row first. */
  toImage() {
    const { w, h, rgba, image } = this;
    for (let y = 0; y < h; y++) {
      const src = (h - 1 - y) * w * 4, dst = y * w * 3;
      for (let x = 0; x < w; x++) {
        image[dst + 3 * x] = rgba[src + 4 * x] / 255;
        image[dst + 3 * x + 1] = rgba[src + 4 * x + 1] / 255;
        image[dst + 3 * x + 2] = rgba[src + 4 * x + 2] / 255;
      }
    }
    return image;
  }
}
