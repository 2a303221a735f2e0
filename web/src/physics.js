// Physics: MuJoCo's own WebAssembly build (npm @mujoco/mujoco, the release the Python side pins,
// so training, evaluation and the page step one engine) on the very MJCF the models folder ships.
// The object is the body the manifest names (object.body; else the body with the free joint),
// found by name in the model. Its free joint's qpos[3:7] is [w, x, y, z]: frames.fromMujoco/
// toMujoco convert at this boundary only; qvel[3:6] is the body-frame angular velocity.
// qpos/qvel/ctrl are views into wasm memory: fetched again on every access, never cached.
// MjModel/MjData/MjVFS live on the wasm heap: whatever is created here is deleted here.
import { fromMujoco, rotate, toMujoco } from './frames.js';

let mujocoPromise = null;

async function loadMujoco() {
  if (!mujocoPromise) {
    mujocoPromise = import('@mujoco/mujoco').then((m) => m.default());
  }
  return mujocoPromise;
}

/** Files an MJCF names (meshes, textures, includes), relative to the MJCF. */
function referencedFiles(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.querySelector('parsererror')) throw new Error('the MJCF is not valid XML');
  const compiler = doc.querySelector('compiler');
  const meshdir = compiler?.getAttribute('meshdir') || compiler?.getAttribute('assetdir') || '';
  const files = [];
  for (const el of doc.querySelectorAll('mesh[file], hfield[file], texture[file], skin[file]')) {
    files.push((meshdir ? meshdir.replace(/\/?$/, '/') : '') + el.getAttribute('file'));
  }
  for (const el of doc.querySelectorAll('include[file]')) files.push(el.getAttribute('file'));
  return files;
}

const FREE_JOINT = 0, MESH_GEOM = 7, OBJ_BODY = 1; // mjJNT_FREE, mjGEOM_MESH, mjOBJ_BODY

/** The id of the body named `name`, or (name null) of the body with the free joint. */
function findBody(mj, model, name) {
  if (name) {
    const id = mj.mj_name2id(model, OBJ_BODY, name);
    if (id < 0) throw new Error(`the MJCF has no body named "${name}" (the manifest's object.body)`);
    if (model.body_jntadr[id] < 0 || model.jnt_type[model.body_jntadr[id]] !== FREE_JOINT) {
      throw new Error(`the MJCF's body "${name}" (the manifest's object.body) has no free joint`);
    }
    return id;
  }
  for (let j = 0; j < model.njnt; j++) {
    if (model.jnt_type[j] === FREE_JOINT) return model.jnt_bodyid[j];
  }
  throw new Error('the MJCF has no body with a free joint (the object)');
}

export class Physics {
  /** Loads the MJCF at `url` (and any files it references) into MuJoCo. object: {body (name,
   *  or null: the body with the free joint), dropHeight (m, or null: the MJCF's placement)}. */
  static async create(url, physicsConfig, object = {}) {
    let mj;
    try {
      mj = await loadMujoco();
    } catch (e) {
      throw new Error(`the physics module (@mujoco/mujoco) failed to load: ${e.message || e}`);
    }
    const res = await fetch(url);
    if (!res.ok) throw new Error(`the MJCF ${url} failed to load: HTTP ${res.status}`);
    const xml = await res.text();
    // Files the MJCF names go into a MuJoCo virtual file system under the paths it names them by.
    const vfs = new mj.MjVFS();
    let model;
    try {
      for (const rel of referencedFiles(xml)) {
        const r = await fetch(new URL(rel, new URL(url, location.href)));
        if (!r.ok) throw new Error(`a file the MJCF names (${rel}) failed to load: HTTP ${r.status}`);
        vfs.addBuffer(rel, new Uint8Array(await r.arrayBuffer()));
      }
      try {
        model = mj.MjModel.from_xml_string(xml, vfs);
      } catch (e) {
        throw new Error(`MuJoCo ${mj.mj_versionString()} refused the MJCF: ${(e?.message || String(e)).trim()}`);
      }
    } finally {
      vfs.delete();
    }
    if (!model) throw new Error(`MuJoCo ${mj.mj_versionString()} could not load the MJCF`);
    try {
      return new Physics(mj, model, xml, physicsConfig, object);
    } catch (e) {
      model.delete(); // a model the page cannot use (no free body, wrong timestep) is freed at once
      throw e;
    }
  }

  /** Frees the model and data on the wasm heap; the object is unusable afterwards. */
  dispose() {
    this.data?.delete();
    this.model?.delete();
    this.data = this.model = null;
  }

  constructor(mj, model, xml, cfg, { body = null, dropHeight = null } = {}) {
    this.mj = mj;
    this.model = model;
    this.xml = xml;
    this.version = mj.mj_versionString();
    const ts = model.opt.timestep;
    if (cfg.timestep && Math.abs(cfg.timestep - ts) > 1e-9) {
      throw new Error(`manifest physics.timestep ${cfg.timestep} differs from the MJCF's ${ts}`);
    }
    this.timestep = ts;
    this.controlDt = cfg.control_dt;
    this.substeps = Math.max(1, Math.round(cfg.control_dt / ts));
    this.actionScale = cfg.action_scale;
    this.qpos0 = Array.from(model.qpos0);
    this.bodyId = findBody(mj, model, body);
    this.data = new mj.MjData(model); // created last: nothing above may throw with it allocated
    this.bodyName = mj.mj_id2name(model, OBJ_BODY, this.bodyId);
    const joint = model.body_jntadr[this.bodyId];
    this.qadr = model.jnt_qposadr[joint]; // the free joint's [x y z, w x y z] in qpos
    this.vadr = model.jnt_dofadr[joint]; // its [v, ω (body frame)] in qvel
    this.mass = model.body_subtreemass[this.bodyId];
    this.dropHeight = dropHeight ?? this.qpos0[this.qadr + 2];
    this.pulse = null; // a push in progress: {torque (world, N m), steps left}
    mj.mj_forward(model, this.data);
  }

  /** Set the free joint: position [x, y, z], orientation [x, y, z, w]; zero velocities and forces. */
  reset(pos, quat) {
    const { mj, model, data } = this;
    mj.mj_resetData(model, data);
    const qpos = data.qpos;
    qpos.set([...pos, ...toMujoco(quat)], this.qadr);
    data.qvel.fill(0);
    data.ctrl.fill(0);
    data.xfrc_applied.fill(0);
    this.pulse = null;
    mj.mj_forward(model, data);
  }

  /** One control period: ctrl = action * action_scale held for control_dt / timestep steps. */
  controlStep(action, extForce = null) {
    const { mj, model, data } = this;
    const ctrl = data.ctrl;
    for (let i = 0; i < 3; i++) ctrl[i] = Math.max(-1, Math.min(1, action[i])) * this.actionScale[i];
    const pushing = this.pulse && this.pulse.steps > 0;
    for (let k = 0; k < this.substeps; k++) {
      data.xfrc_applied.fill(0);
      if (extForce) this.applyForce(extForce);
      if (this.pulse && this.pulse.steps > 0) {
        const b = 6 * this.bodyId + 3;
        for (let i = 0; i < 3; i++) data.xfrc_applied[b + i] += this.pulse.torque[i];
        this.pulse.steps--;
      }
      mj.mj_step(model, data);
    }
    if (extForce || pushing) data.xfrc_applied.fill(0);
    this.guard();
  }

  /** A blown-up simulation (NaN, absurd spin) is put back at rest where it was. */
  guard() {
    const q = this.data.qpos, v = this.data.qvel, w = this.vadr + 3;
    const bad = !q.every(Number.isFinite) || !v.every(Number.isFinite) || Math.hypot(v[w], v[w + 1], v[w + 2]) > 60;
    if (bad) {
      const pos = [0, 0, this.dropHeight];
      this.reset(pos, [0, 0, 0, 1]);
    }
  }

  /** Force f (world, N) at world point p: xfrc_applied holds a force and torque at the COM. */
  applyForce({ force, point }) {
    const xf = this.data.xfrc_applied, com = this.data.xipos, b = this.bodyId;
    const r = [point[0] - com[3 * b], point[1] - com[3 * b + 1], point[2] - com[3 * b + 2]];
    const t = [r[1] * force[2] - r[2] * force[1], r[2] * force[0] - r[0] * force[2], r[0] * force[1] - r[1] * force[0]];
    xf.set([...force, ...t], 6 * b);
  }

  /** A push: angular impulse L (world frame, N m s) delivered as a constant torque over the next
   *  `duration` s of simulation, so the floor's contacts act on it as on a real shove (a bare
   *  velocity kick of a body lying on the floor is mostly absorbed by the contact at once). */
  push(impulse, duration = 0.1) {
    const steps = Math.max(1, Math.round(duration / this.timestep));
    const T = steps * this.timestep;
    this.pulse = { torque: impulse.map((c) => c / T), steps };
  }

  get time() { return this.data.time; }
  get pos() { return Array.from(this.data.qpos.subarray(this.qadr, this.qadr + 3)); }
  get quat() { return fromMujoco(this.data.qpos, this.qadr + 3); }
  get angVel() { return Array.from(this.data.qvel.subarray(this.vadr + 3, this.vadr + 6)); }
  get linVel() { return Array.from(this.data.qvel.subarray(this.vadr, this.vadr + 3)); }

  /** Vertices (body frame, m) of every collision mesh of the object: its hull, or each hull of a
   *  convex decomposition, as MuJoCo compiled them (mesh_vert in the mesh frame, moved by the
   *  geom's pos and quat), like orient_jax/sim/rigid_body.py. [[x, y, z], ...] */
  collisionPoints() {
    const { model } = this;
    const points = [];
    for (let g = 0; g < model.ngeom; g++) {
      if (model.geom_bodyid[g] !== this.bodyId || model.geom_type[g] !== MESH_GEOM) continue;
      if (!model.geom_contype[g] && !model.geom_conaffinity[g]) continue;
      const mesh = model.geom_dataid[g], start = model.mesh_vertadr[mesh], n = model.mesh_vertnum[mesh];
      const q = fromMujoco(model.geom_quat, 4 * g), pos = model.geom_pos.subarray(3 * g, 3 * g + 3);
      const vert = model.mesh_vert;
      for (let i = start; i < start + n; i++) {
        const r = rotate(q, [vert[3 * i], vert[3 * i + 1], vert[3 * i + 2]]);
        points.push([r[0] + pos[0], r[1] + pos[1], r[2] + pos[2]]);
      }
    }
    return points;
  }

  /** The object's centre of mass in its body frame (m) and its mass (kg), as compiled. */
  get com() { return Array.from(this.model.body_ipos.subarray(3 * this.bodyId, 3 * this.bodyId + 3)); }
  get bodyMass() { return this.model.body_mass[this.bodyId]; }
  get qpos() { return Array.from(this.data.qpos); }

  /**
   * Test hook: from qpos0 ([x,y,z, w,x,y,z], MuJoCo order) with zero velocity, hold each ctrl of
   * ctrlSeq (raw motor ctrl, N*m) for `substeps` physics steps; returns qpos after each entry.
   * Uses its own MjData so the live simulation is untouched.
   */
  rollout(qpos0, ctrlSeq, substeps = 1, qvel0 = null) {
    const { mj, model } = this;
    const d = new mj.MjData(model);
    try {
      d.qpos.set(qpos0);
      if (qvel0) d.qvel.set(qvel0);
      mj.mj_forward(model, d);
      const out = [];
      for (const c of ctrlSeq) {
        d.ctrl.set(c);
        for (let k = 0; k < substeps; k++) mj.mj_step(model, d);
        out.push(Array.from(d.qpos));
      }
      return out;
    } finally {
      d.delete();
    }
  }

  /** Visual geoms of the object's body in the MJCF (for the fallback drawing when no .glb is there). */
  visualGeoms() {
    const doc = new DOMParser().parseFromString(this.xml, 'application/xml');
    const mats = {};
    for (const m of doc.querySelectorAll('asset > material')) {
      mats[m.getAttribute('name')] = (m.getAttribute('rgba') || '0.5 0.5 0.5 1').trim().split(/\s+/).map(Number);
    }
    const nums = (s, d) => (s ? s.trim().split(/\s+/).map(Number) : d);
    const geoms = [];
    const body = this.bodyName ? `body[name="${CSS.escape(this.bodyName)}"]` : 'body';
    for (const g of doc.querySelectorAll(`worldbody ${body} geom`)) {
      const cls = g.getAttribute('class');
      if (cls && cls !== 'visual') continue;
      const type = g.getAttribute('type') || 'sphere';
      if (!['box', 'cylinder', 'sphere', 'capsule'].includes(type)) continue;
      geoms.push({
        name: g.getAttribute('name'), type,
        size: nums(g.getAttribute('size'), [0.01]),
        pos: nums(g.getAttribute('pos'), [0, 0, 0]),
        quat: nums(g.getAttribute('quat'), [1, 0, 0, 0]), // MJCF: w x y z
        rgba: g.getAttribute('rgba') ? nums(g.getAttribute('rgba')) : mats[g.getAttribute('material')] || [0.6, 0.6, 0.6, 1],
      });
    }
    return geoms;
  }

  /** World geoms: floor and walls (planes), for drawing the arena. */
  arenaGeoms() {
    const doc = new DOMParser().parseFromString(this.xml, 'application/xml');
    const mats = {};
    for (const m of doc.querySelectorAll('asset > material')) {
      mats[m.getAttribute('name')] = (m.getAttribute('rgba') || '0.5 0.5 0.5 1').trim().split(/\s+/).map(Number);
    }
    const nums = (s, d) => (s ? s.trim().split(/\s+/).map(Number) : d);
    const out = [];
    for (const g of doc.querySelectorAll('worldbody > geom')) {
      out.push({
        name: g.getAttribute('name'), type: g.getAttribute('type') || 'sphere',
        size: nums(g.getAttribute('size'), [1, 1, 0.1]), pos: nums(g.getAttribute('pos'), [0, 0, 0]),
        zaxis: nums(g.getAttribute('zaxis'), [0, 0, 1]),
        rgba: g.getAttribute('rgba') ? nums(g.getAttribute('rgba')) : mats[g.getAttribute('material')] || [0.7, 0.7, 0.7, 1],
      });
    }
    return out;
  }
}
