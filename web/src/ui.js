// UI: buttons, the model-input inset, read-outs, live plots, messages. No three.js or vendor
// imports here, so an error while loading those can still be shown on the page.

const $ = (id) => document.getElementById(id);

/** Show a load/run error on the page (never a blank page). */
export function showError(message) {
  const el = $('error');
  el.textContent = `The page could not start:\n${message}`;
  el.hidden = false;
  const status = $('status');
  if (status) { status.textContent = 'error'; status.className = 'failed'; }
}

/** Add a line to the notice box (non-fatal conditions: fallbacks, missing optional files). */
export function showNotice(message) {
  const el = $('notice');
  const p = document.createElement('div');
  p.textContent = message;
  el.appendChild(p);
  el.hidden = false;
}

export function setStatus(text, cls = '') {
  const el = $('status');
  el.textContent = text;
  el.className = cls;
}

/** Name the object in the title and heading; with a gallery of several, a picker that reloads
 *  the page with ?object=NAME (a fresh physics, models and scene; the other parameters kept). */
export function showObject(name, gallery) {
  document.title = `orient-jax — ${name}`;
  $('object-name').textContent = name;
  const picker = $('object-picker');
  if (gallery.length < 2) return;
  for (const o of gallery) {
    const opt = document.createElement('option');
    opt.value = opt.textContent = o.name;
    opt.selected = o.name === name;
    picker.appendChild(opt);
  }
  picker.hidden = false;
  picker.onchange = () => {
    const params = new URLSearchParams(location.search);
    params.set('object', picker.value);
    location.search = params.toString();
  };
}

const fmtQ = (q) => (q ? `[${q.map((c) => c.toFixed(2).padStart(5)).join(',')}]` : '-');
const fmtV = (v) => (v ? `[${v.map((c) => c.toFixed(2).padStart(5)).join(',')}]` : '-');

export class UI {
  /** handlers: {reset(), togglePolicy(), toggleObs(), toggleGoal(), newTarget(), push()} */
  constructor(handlers) {
    $('btn-reset').onclick = () => handlers.reset();
    $('btn-policy').onclick = () => handlers.togglePolicy();
    $('btn-obs').onclick = () => handlers.toggleObs();
    $('btn-goal').onclick = () => handlers.toggleGoal();
    $('btn-target').onclick = () => handlers.newTarget();
    $('btn-push').onclick = () => handlers.push();
    this.plot = new Plot($('plot'));
    this.frame = 0;
  }

  setInset(canvas) {
    $('inset').prepend(canvas);
  }

  /** The object's symmetry in one line (symmetry.js describeSymmetry), or null: no line. */
  setSymmetry(text) {
    const el = $('symmetry');
    el.hidden = !text;
    el.textContent = text || '';
  }

  setGoalAvailable(available, note) {
    $('btn-goal').disabled = !available;
    const el = $('goal-note');
    el.hidden = available;
    el.textContent = available ? '' : `Goal mode is off: ${note}`;
  }

  setControls({ mode, obs, task }) {
    const p = $('btn-policy'), o = $('btn-obs'), g = $('btn-goal');
    p.textContent = `Policy: ${mode === 'policy' ? 'on' : 'off'}`;
    p.classList.toggle('on', mode === 'policy');
    o.textContent = `Observation: ${obs}`;
    o.classList.toggle('on', obs === 'truth');
    g.textContent = `Task: ${task}`;
    $('btn-target').disabled = task !== 'goal';
  }

  /** Per frame: read-outs, and the plots every few frames. */
  update(s, extra) {
    if (s.success === true) setStatus(`success at t = ${extra.successT.toFixed(2)} s`, 'success');
    else if (s.success === false && extra.failed) setStatus(`not solved within ${extra.withinS} s`, 'failed');
    else setStatus(`t = ${s.t.toFixed(2)} s · ${extra.task === 'goal' ? 'turning to the target' : 'turning upright'}…`);
    $('readout').textContent =
      `true  ${fmtQ(s.quat)}\npred  ${fmtQ(s.quatPred)}\nerror ${s.predErrDeg?.toFixed(1) ?? '-'} deg\n` +
      `tilt  ${s.tiltDeg.toFixed(1)} deg\nω     ${fmtV(s.angVel)}\naction${fmtV(s.action)}\n` +
      `obs   ${extra.obs}\nseed  ${extra.seed} #${extra.resets}`;
    $('timing').textContent =
      `FPS ${s.fps.toFixed(0)} · control steps/s ${extra.stepsPerSec.toFixed(0)}` +
      `${s.resolutionScale < 0.99 ? ` · view at ${Math.round(100 * s.resolutionScale)} % resolution` : ''}\n` +
      `render ${extra.renderMs.toFixed(2)} · pose ${s.poseMs.toFixed(2)} · policy ${s.policyMs.toFixed(2)} · physics ${s.physicsMs.toFixed(2)} ms\n` +
      `${extra.backendNote}`;
    this.plot.push(s.t, s.tiltDeg, s.predErrDeg, extra.task === 'goal' ? extra.goalErrDeg : null);
    if (++this.frame % 3 === 0) this.plot.draw();
  }
}

/** Rolling plot of tilt and prediction error over the last `span` seconds. */
class Plot {
  constructor(canvas, span = 10) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.span = span;
    this.points = [];
  }

  clear() { this.points = []; }

  push(t, tilt, err, goal) {
    if (this.points.length && t < this.points[this.points.length - 1][0]) this.points = []; // reset
    this.points.push([t, tilt, err ?? NaN, goal ?? NaN]);
    while (this.points.length && this.points[0][0] < t - this.span) this.points.shift();
  }

  draw() {
    const { ctx, canvas, points, span } = this;
    const W = canvas.width, H = canvas.height, top = 180;
    ctx.clearRect(0, 0, W, H);
    ctx.strokeStyle = '#e3e7ec';
    ctx.fillStyle = '#777';
    ctx.font = '10px sans-serif';
    for (const v of [0, 45, 90, 135, 180]) {
      const y = H - 12 - (v / top) * (H - 20);
      ctx.beginPath(); ctx.moveTo(24, y); ctx.lineTo(W, y); ctx.stroke();
      ctx.fillText(String(v), 2, y + 3);
    }
    ctx.fillText('deg', 2, 10);
    if (!points.length) return;
    const t1 = points[points.length - 1][0], t0 = Math.max(0, t1 - span);
    const x = (t) => 24 + ((t - t0) / span) * (W - 28);
    const y = (v) => H - 12 - (Math.min(v, top) / top) * (H - 20);
    const series = [[1, '#d32f2f', 'tilt'], [2, '#0288d1', 'pred. error'], [3, '#f9a825', 'to target']];
    series.forEach(([k, color, label], i) => {
      ctx.strokeStyle = color;
      ctx.beginPath();
      let pen = false;
      for (const p of points) {
        if (!Number.isFinite(p[k])) { pen = false; continue; }
        if (pen) ctx.lineTo(x(p[0]), y(p[k])); else ctx.moveTo(x(p[0]), y(p[k]));
        pen = true;
      }
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.fillText(label, 40 + i * 75, 10);
    });
    // The success band (<= 10 deg).
    ctx.fillStyle = 'rgba(27,127,42,0.12)';
    ctx.fillRect(24, y(10), W - 28, y(0) - y(10));
  }
}
