"""Parity: the exported ONNX graphs compute what the JAX functions compute.

Open loop (docs/design.md bounds, `BOUNDS`): the JAX function (jitted, as evaluation runs it) and
onnxruntime (CPU) on the same inputs at batch 1, 7 and 64:
- policy: random inputs; adversarial ones (zero, tiny and huge quaternions, q and -q,
  |angular velocity| of 60 rad/s and far beyond, prev_action at and beyond +-1); real states
  from a seeded closed-loop rollout (with sign flips and gyro noise, as the env observes).
  Metric: max |action_jax - action_onnx|.
- pose: random, black, white, saturated, noisy and gradient images, and dataset images when a
  dataset is given. Metrics: max |quat| difference after aligning signs (both sides are
  canonical, w >= 0, but near w = 0 a tiny difference may flip the sign legitimately; those
  rows are counted as `sign_flips`) and the geodesic angle between the two, in degrees,
  computed in float64 with atan2 (2*acos(|<q1,q2>|) in float32 is blind below ~0.05 deg).

Closed loop: the same seeded 10 s episodes in C MuJoCo (the MJCF the page loads: engine.xml,
or an imported object's object.xml, which the policy was trained on),
driven once by the JAX policy and once by the ONNX policy from clean observations; the
orientation gap between the two runs and whether each episode's success agrees (`CLOSED_LOOP`).
Balancing on a vertex through floor contact is chaotic: there a 1e-6 change of one action
grows to degrees within seconds, whatever computes it. Reference runs (the JAX policy with its
actions jittered by `CHAOS_JITTER`, far below the open-loop bound, `CHAOS_RUNS` seeded draws)
mark where each episode turns chaotic: up to there (its calm prefix) the ONNX run must meet the
bound, and success must agree in the episodes that stay calm throughout; enough of the control
steps must be calm to make the check worth something.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from orient_jax.export.contract import memory_sample, session

BOUNDS = {"action_max_abs": 1e-5, "quat_max_abs": 1e-4, "quat_angle_deg": 0.01, "memory_max_rel": 1e-5}
"""docs/design.md's open-loop bounds, JAX vs onnxruntime (and onnxruntime vs ORT Web); the last one
(ours) for a policy with memory: |memory_out difference| / max(1, |memory_out|)."""

CLOSED_LOOP = {"orientation_deg": 0.1, "success_identical": True, "min_compared_fraction": 0.25}
"""Closed-loop bound (ours): JAX- and ONNX-driven runs of the same seeded episode stay within
0.1 deg of orientation at every control step before the episode turns chaotic (see
`CHAOS_JITTER`), and agree on success in every episode that never does; at least a quarter of
all the control steps must be compared. (A barely trained policy tumbles a chair-like object
onto its legs, where a 1e-6 jitter soon moves it a few hundredths of a degree; its calm prefixes
are still most of the run, and are compared.)"""

CHAOS_JITTER = 1e-6
"""Uniform +- jitter on each action of the chaos reference runs: the size of float32 rounding
differences between two correct implementations (the measured ONNX gap is ~5e-7)."""

CHAOS_RUNS = 3
"""Jittered reference runs. Whether one draw of the jitter tips an episode is itself chance: a
goal episode that one draw left within 1e-4 deg moved 2.9 deg under each of three others."""

CHAOS_DEG = 0.01
"""An episode is chaotic when the jitter moves it by more than this (a tenth of the bound, so
an episode at the edge of chaos is set aside rather than passing or failing by luck)."""

BATCHES = (1, 7, 64)


# ----- metrics -------------------------------------------------------------------------------
def quat_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (deg) between quaternion rows [x,y,z,w]; sign- and scale-invariant, float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    w = np.sum(a * b, axis=-1)  # w of conj(a) * b
    v = (a[..., 3:4] * b[..., :3] - b[..., 3:4] * a[..., :3] - np.cross(a[..., :3], b[..., :3]))
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w)))


def quat_max_abs(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """(max |a - s*b| with s = sign(<a,b>) per row, rows where the signs differ)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    s = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    return float(np.abs(a - s * b).max()), int((s < 0).sum())


# ----- inputs ----------------------------------------------------------------------------------
def _unit(rng, n, k=4):
    q = rng.normal(size=(n, k))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def policy_cases(goal: bool, n: int = 64, seed: int = 0, real: dict | None = None,
                 memory: tuple[int, int] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Named input sets of `n` rows: random, adversarial and (when given) real states.
    `memory` (K, F + 1): the policy also takes a memory (random, empty and extreme ones)."""
    rng = np.random.default_rng(seed)

    def base():
        feeds = {"quat": _unit(rng, n) * rng.choice([-1, 1], (n, 1)), "ang_vel": rng.normal(0, 5, (n, 3)),
                 "prev_action": rng.uniform(-1, 1, (n, 3))}
        if goal:
            feeds["target"] = _unit(rng, n) * rng.choice([-1, 1], (n, 1))
        if memory is not None:
            feeds["memory"] = memory_sample(rng, (n, *memory))
        return feeds

    cases = {"random": base()}
    c = base()
    c["quat"] = c["quat"] * np.concatenate([[0.0], np.logspace(-8, -2, n - 1)])[:, None]
    cases["quat_near_zero"] = c
    c = base()
    c["quat"] = c["quat"] * np.logspace(-2, 4, n)[:, None]
    cases["quat_unnormalized"] = c
    c = base()
    half = n // 2
    c["quat"][half:2 * half] = -c["quat"][:half]
    w_small = _unit(rng, n)
    w_small[:, 3] = rng.normal(0, 1e-4, n)  # w near 0: where canonicalisation chooses the sign
    c["quat"][2 * half:] = w_small[2 * half:]
    cases["quat_both_signs"] = c
    c = base()
    c["quat"][:8] = w_small[:8]
    cases["quat_w_near_zero"] = c
    c = base()
    c["ang_vel"] = rng.choice([-1, 1], (n, 3)) * rng.choice([60.0, 100.0, 300.0, 1000.0, 1e4], (n, 3))
    cases["ang_vel_extreme"] = c
    c = base()
    c["prev_action"] = rng.choice([-1, 1], (n, 3)) * rng.choice([1.0, 1.0, 1.5, 3.0, 10.0], (n, 3))
    cases["prev_action_extreme"] = c
    if goal:
        c = base()
        c["target"] = c["target"] * np.logspace(-3, 3, n)[:, None]
        cases["target_unnormalized"] = c
    if memory is not None:
        c = base()
        c["memory"] = np.zeros_like(c["memory"])  # an episode's first call
        cases["memory_empty"] = c
        c = base()  # weights down to 1e-9 (the average's guard is 1e-6), sums up to 1e3
        c["memory"][..., -1] = np.logspace(-9, 0, n)[:, None]
        c["memory"][..., :-1] *= rng.choice([1.0, 10.0, 1e3], (n, 1, 1))
        cases["memory_extreme"] = c
    if real is not None:
        cases["real_rollout"] = {k: np.asarray(v)[:n] for k, v in real.items()}
    return {name: {k: np.asarray(v, np.float32) for k, v in feeds.items()} for name, feeds in cases.items()}


def pose_cases(size: int, n: int = 64, seed: int = 0, dataset_images: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    shape = (n, size, size, 3)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1, 3))
    gradient = 0.5 + 0.5 * np.sin(6.0 * xx[None, :, :, None] + 4.0 * yy[None, :, :, None] + phase)
    cases = {
        "random": rng.uniform(0, 1, shape),
        "black": np.zeros(shape),
        "white": np.ones(shape),
        "saturated": rng.integers(0, 2, (n, 1, 1, 3)) * np.ones(shape),  # pure primaries and secondaries
        "noisy": np.clip(0.5 + rng.normal(0, 0.3, shape), 0, 1),
        "gradient": gradient,
    }
    if dataset_images is not None:
        cases["dataset"] = dataset_images[:n]
    return {name: {"image": np.asarray(v, np.float32)} for name, v in cases.items()}


def _take(feeds: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v[:batch]) for k, v in feeds.items()}


# ----- open loop -------------------------------------------------------------------------------
def compare(kind: str, fn: Callable, onnx_path: Path, cases: dict, batches=BATCHES) -> dict:
    """Run `fn(**feeds)` (JAX) and the ONNX file on every case and batch size; the errors."""
    sess = session(onnx_path)
    out_names = [o.name for o in sess.get_outputs()]
    rows = {}
    for name, feeds in cases.items():
        per_batch = {}
        for batch in batches:
            if batch > len(next(iter(feeds.values()))):
                continue
            x = _take(feeds, batch)
            want = fn(**x)
            got = sess.run(out_names, x)
            if isinstance(want, tuple):  # (action, memory_out)
                per_batch[str(batch)] = {**errors(kind, np.asarray(want[0]), got[0]), **memory_errors(np.asarray(want[1]), got[1])}
            else:
                per_batch[str(batch)] = errors(kind, np.asarray(want), got[0])
        rows[name] = per_batch
    return summarize(kind, rows)


def errors(kind: str, want: np.ndarray, got: np.ndarray) -> dict:
    if not (np.all(np.isfinite(want)) and np.all(np.isfinite(got))):
        same_nan = np.array_equal(np.isnan(want), np.isnan(got))
        if not same_nan:
            return {"max_abs": float("inf"), "note": "non-finite values differ"}
        want, got = np.nan_to_num(want), np.nan_to_num(got)
    if kind == "policy":
        return {"max_abs": float(np.abs(np.asarray(want, np.float64) - got).max())}
    max_abs, flips = quat_max_abs(want, got)
    return {"max_abs": max_abs, "angle_deg": float(quat_angle_deg(want, got).max()), "sign_flips": flips}


def memory_errors(want: np.ndarray, got: np.ndarray) -> dict:
    """{"memory_max_rel": max |want - got| / max(1, |want|)} (inf where finiteness differs)."""
    if not np.array_equal(np.isfinite(want), np.isfinite(got)):
        return {"memory_max_rel": float("inf")}
    want, got = np.nan_to_num(np.asarray(want, np.float64)), np.nan_to_num(got)
    return {"memory_max_rel": float((np.abs(want - got) / np.maximum(1.0, np.abs(want))).max())}


def summarize(kind: str, rows: dict) -> dict:
    cells = [c for r in rows.values() for c in r.values()]
    out = {"cases": rows, "max_abs": max(c["max_abs"] for c in cells)}
    failures = []
    if kind == "policy":
        out["bound"] = {"max_abs": BOUNDS["action_max_abs"]}
        if out["max_abs"] > BOUNDS["action_max_abs"]:
            failures.append(_worst(rows, "max_abs", f"action max abs error {{v:.3g}} > {BOUNDS['action_max_abs']:g}"))
        if "memory_max_rel" in cells[0]:
            out["memory_max_rel"] = max(c["memory_max_rel"] for c in cells)
            out["bound"]["memory_max_rel"] = BOUNDS["memory_max_rel"]
            if out["memory_max_rel"] > BOUNDS["memory_max_rel"]:
                failures.append(_worst(rows, "memory_max_rel",
                                       f"memory_out max relative error {{v:.3g}} > {BOUNDS['memory_max_rel']:g}"))
    else:
        out["angle_deg"] = max(c["angle_deg"] for c in cells)
        out["sign_flips"] = sum(c["sign_flips"] for c in cells)
        out["bound"] = {"max_abs": BOUNDS["quat_max_abs"], "angle_deg": BOUNDS["quat_angle_deg"]}
        if out["max_abs"] > BOUNDS["quat_max_abs"]:
            failures.append(_worst(rows, "max_abs", f"quat max abs error {{v:.3g}} > {BOUNDS['quat_max_abs']:g}"))
        if out["angle_deg"] > BOUNDS["quat_angle_deg"]:
            failures.append(_worst(rows, "angle_deg", f"quat angle error {{v:.3g}} deg > {BOUNDS['quat_angle_deg']:g} deg"))
    out["failures"] = failures
    out["pass"] = not failures
    return out


def _worst(rows: dict, key: str, template: str) -> str:
    case, batch, value = max(((c, b, cell[key]) for c, r in rows.items() for b, cell in r.items()), key=lambda t: t[2])
    return template.format(v=value) + f" (case {case}, batch {batch})"


# ----- closed loop -----------------------------------------------------------------------------
def closed_loop(env_name: str, env_config, controllers: dict[str, Callable], episodes: int = 8, seconds: float | None = None,
                seed: int = 0, mjcf_path: Path | None = None, memory: tuple[int, int] | None = None,
                starts: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Seeded episodes in C MuJoCo, each controller from the same starts; per-step records.

    `controllers[name](quat, ang_vel, prev_action[, target]) -> action (E, 3)` sees clean
    signals (the true canonical quaternion, body-frame angular velocity). Starts: a uniform
    random orientation dropped from the env's initial height; goal targets uniform. With
    `memory` (K, F + 1) the controllers also take `memory` (zeros at the start) and return
    `(action, memory_out)`, which is fed back as the page does. `starts` (episodes, 4) [x, y, z, w]:
    these orientations, dropped at the centre (as the page's `orientApp.reset(quat)`), instead of
    seeded random ones anywhere on the spawn square.
    """
    import mujoco

    from orient_jax import (
        rotations,  # noqa: F401  (conventions: [x,y,z,w] outside MuJoCo)
        sim,
    )
    from orient_jax.assets import mjcf
    from orient_jax.sim import rigid_body

    goal = sim.env_class(env_name).goal_conditioned
    model = mujoco.MjModel.from_xml_path(str(mjcf_path or mjcf.MJCF_PATH))
    n_sub = round(env_config.control_dt / model.opt.timestep)
    steps = round((seconds or env_config.episode_s) / env_config.control_dt)
    scale = model.actuator_ctrlrange[:, 1].astype(np.float64)
    rng = np.random.default_rng(seed)
    if starts is None:
        starts = _unit(rng, episodes)
        xy = rng.uniform(-env_config.spawn_xy, env_config.spawn_xy, (episodes, 2))
    else:
        starts = np.asarray(starts, np.float64).reshape(episodes, 4)
        xy = np.zeros((episodes, 2))
    targets = _unit(rng, episodes) if goal else np.tile([0.0, 0.0, 0.0, 1.0], (episodes, 1))
    height = rigid_body.from_model(model).drop_height
    hold_steps = round(env_config.success_hold_s / env_config.control_dt)
    results = {}
    for name, controller in controllers.items():
        datas = []
        for i in range(episodes):
            d = mujoco.MjData(model)
            x, y, z, w = starts[i]
            d.qpos[:7] = [xy[i, 0], xy[i, 1], height, w, x, y, z]
            mujoco.mj_forward(model, d)
            datas.append(d)
        prev = np.zeros((episodes, 3))
        mem = None if memory is None else np.zeros((episodes, *memory), np.float32)
        rec = {k: [] for k in ("quat", "ang_vel", "prev_action", "action", "error_deg") + (("memory",) if mem is not None else ())}
        hold = np.zeros(episodes, int)
        success = np.zeros(episodes, bool)
        success_step = np.full(episodes, -1)
        for t in range(steps):
            quat = np.array([[d.qpos[4], d.qpos[5], d.qpos[6], d.qpos[3]] for d in datas])
            quat *= np.where(quat[:, 3:4] < 0, -1.0, 1.0)
            ang_vel = np.array([d.qvel[3:6] for d in datas])
            feeds = {"quat": quat, "ang_vel": ang_vel, "prev_action": prev}
            if goal:
                feeds["target"] = targets
            if mem is not None:
                feeds["memory"] = mem
            feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
            action = controller(**feeds)
            if mem is not None:
                action, mem = action[0], np.asarray(action[1], np.float32)
            action = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
            for i, d in enumerate(datas):
                d.ctrl[:] = action[i] * scale
                for _ in range(n_sub):
                    mujoco.mj_step(model, d)
            new_quat = np.array([[d.qpos[4], d.qpos[5], d.qpos[6], d.qpos[3]] for d in datas])
            new_w = np.linalg.norm(np.array([d.qvel[3:6] for d in datas]), axis=-1)
            sym = getattr(env_config, "symmetry", None)
            if sym is not None and not sym.trivial:  # success modulo the object's symmetry
                from orient_jax import symmetry as symmetry_lib
                task_error = (lambda q: symmetry_lib.error_angle(q, targets, sym)) if goal else (lambda q: symmetry_lib.tilt(q, sym))
                err = np.degrees(np.asarray(task_error(new_quat.astype(np.float32)), np.float64))
            elif goal:
                err = quat_angle_deg(new_quat, targets)
            else:  # tilt: angle between body +Z and world +Z
                x, y = new_quat[:, 0], new_quat[:, 1]
                n2 = np.sum(new_quat ** 2, -1)
                err = np.degrees(np.arccos(np.clip(1.0 - 2.0 * (x * x + y * y) / n2, -1.0, 1.0)))
            in_region = (err <= env_config.success_angle_deg) & (new_w <= env_config.success_ang_vel)
            hold = np.where(in_region, hold + 1, 0)
            newly = (hold >= hold_steps) & ~success
            success_step = np.where(newly, t + 1 - hold_steps, success_step)
            success |= newly
            for k, v in (("quat", feeds["quat"]), ("ang_vel", feeds["ang_vel"]), ("prev_action", feeds["prev_action"]),
                         ("action", action), ("error_deg", err)):
                rec[k].append(v)
            if mem is not None:
                rec["memory"].append(feeds["memory"])
            prev = action
        out = {k: np.stack(v, axis=1) for k, v in rec.items()}  # (E, T, ...)
        out["final_quat"] = new_quat
        out["success"] = success
        out["time_to_success_s"] = np.where(success, success_step * env_config.control_dt, np.nan)
        if goal:
            out["target"] = np.repeat(targets[:, None], steps, axis=1)
        results[name] = out
    return results


def jittered(controller: Callable, seed: int = 0, size: float = CHAOS_JITTER) -> Callable:
    """`controller` with a seeded uniform +-`size` added to every action: the chaos reference."""
    rng = np.random.default_rng(seed)

    def run(**feeds):
        out = controller(**feeds)
        action = np.asarray(out[0] if isinstance(out, tuple) else out, np.float64)
        action = action + rng.uniform(-size, size, action.shape)
        return (action, out[1]) if isinstance(out, tuple) else action

    return run


def closed_loop_report(runs: dict[str, dict], control_dt: float, mjcf_name: str = "engine.xml") -> dict:
    """Compare the "jax" run against the "onnx" run of `closed_loop`; the "jax_jittered*" runs,
    when present, mark where each episode turns chaotic (the first control step at which any of
    their gaps to "jax" exceeds `CHAOS_DEG`): the comparison stops there."""
    a, b = runs["jax"], runs["onnx"]
    gap = quat_angle_deg(a["quat"], b["quat"])  # (E, T)
    gap = np.maximum(gap, 0.0)
    n, steps = gap.shape
    bound = CLOSED_LOOP["orientation_deg"]
    references = [run for name, run in runs.items() if name.startswith("jax_jittered")]
    if references:
        chaos_gap_t = np.max([quat_angle_deg(a["quat"], r["quat"]) for r in references], axis=0)  # (E, T)
        turned = chaos_gap_t > CHAOS_DEG
        calm_steps = np.where(turned.any(axis=1), np.argmax(turned, axis=1), steps)  # (E,) length of the calm prefix
        chaos_gap = chaos_gap_t.max(axis=1)
    else:
        calm_steps = np.full(n, steps)
        chaos_gap = np.zeros(n)
    chaotic = calm_steps < steps
    comparable = ~chaotic
    compared = np.arange(steps)[None, :] < calm_steps[:, None]  # (E, T) the calm prefixes
    action_gap = np.abs(a["action"] - b["action"]).max(axis=-1)
    over = np.argwhere(action_gap > BOUNDS["action_max_abs"])
    report = {
        "episodes": int(n), "seconds": float(steps * control_dt), "simulator": f"C MuJoCo ({mjcf_name})",
        "max_orientation_gap_deg": float(gap[compared].max()) if compared.any() else None,
        "max_orientation_gap_all_deg": float(gap.max()),
        "final_orientation_gap_deg": float(gap[:, -1].max()),
        "chaotic_episodes": [int(i) for i in np.flatnonzero(chaotic)],
        "calm_prefix_s": [float(c * control_dt) for c in calm_steps],
        "compared_fraction": float(compared.mean()),
        "chaos_reference_gap_deg": [float(g) for g in chaos_gap],
        "chaos_jitter": CHAOS_JITTER, "chaos_deg": CHAOS_DEG, "chaos_runs": len(references),
        "max_action_gap": float(action_gap.max()),
        "first_action_gap_over_bound_s": float((over[:, 1].min() + 1) * control_dt) if over.size else None,
        "success_jax": [bool(s) for s in a["success"]], "success_onnx": [bool(s) for s in b["success"]],
        "success_rate_jax": float(a["success"].mean()), "success_rate_onnx": float(b["success"].mean()),
        "time_to_success_gap_s": float(np.nanmax(np.abs(a["time_to_success_s"] - b["time_to_success_s"])))
        if np.any(a["success"] & b["success"]) else None,
        "bound": dict(CLOSED_LOOP),
    }
    failures = []
    if compared.mean() < CLOSED_LOOP["min_compared_fraction"]:
        failures.append(f"closed loop: only {compared.mean():.0%} of the control steps are calm enough to compare "
                        f"(a {CHAOS_JITTER:g} action jitter moves {int(chaotic.sum())} of {n} episodes > {CHAOS_DEG:g} deg, "
                        f"the gate needs {CLOSED_LOOP['min_compared_fraction']:.0%}); run more --episodes")
    elif report["max_orientation_gap_deg"] > bound:
        failures.append(f"closed loop: orientation gap {report['max_orientation_gap_deg']:.3g} deg > {bound:g} deg")
    diff = int((a["success"] != b["success"])[comparable].sum())
    if diff:
        failures.append(f"closed loop: success differs in {diff} of {int(comparable.sum())} comparable episodes")
    report["failures"] = failures
    report["pass"] = not failures
    return report


def real_states(run: dict, n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """`n` observations sampled from a closed-loop run, observed as the env does: random sign
    flips of the quaternion and Gaussian gyro noise (0.05 rad/s)."""
    rng = np.random.default_rng(seed)
    e, t = run["quat"].shape[:2]
    idx = (rng.integers(0, e, n), rng.integers(0, t, n))
    out = {"quat": run["quat"][idx] * rng.choice([-1.0, 1.0], (n, 1)),
           "ang_vel": run["ang_vel"][idx] + rng.normal(0, 0.05, (n, 3)), "prev_action": run["prev_action"][idx]}
    for k in ("target", "memory"):
        if k in run:
            out[k] = run[k][idx]
    return out


# ----- the whole suite -------------------------------------------------------------------------
def jax_policy(artifact) -> Callable:
    import jax

    from orient_jax.rl.policy import make_policy_fn

    return jax.jit(make_policy_fn(artifact))


def onnx_runner(path: Path) -> Callable:
    """The ONNX file as a function of named feeds: its output, or a tuple of its outputs."""
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    outs = [o.name for o in sess.get_outputs()]

    def run(**feeds):
        got = sess.run(outs, {k: np.asarray(feeds[k], np.float32) for k in names})
        return got[0] if len(got) == 1 else tuple(got)

    return run


def policy_parity(artifact, onnx_path: Path, *, seed: int = 0, episodes: int = 8, seconds: float | None = None,
                  batches=BATCHES, mjcf_path: Path | None = None) -> dict:
    """Open loop (random, adversarial, real states) and closed loop, for one policy file. The
    closed loop simulates `mjcf_path` (the MJCF shipped beside the export), by default the one
    the policy was trained on (`artifact.mjcf_path`; none: the built-in engine)."""
    from orient_jax.export.contract import policy_contract_for

    contract = policy_contract_for(artifact)
    goal, memory = contract.kind == "policy_goal", contract.memory
    fn = jax_policy(artifact)
    references = {f"jax_jittered_{i}": jittered(fn, seed + i) for i in range(CHAOS_RUNS)}
    mjcf_path = mjcf_path or artifact.mjcf_path or None
    runs = closed_loop(artifact.env_name, artifact.env_config, {"jax": fn, "onnx": onnx_runner(onnx_path), **references},
                       episodes=episodes, seconds=seconds, seed=seed, memory=memory, mjcf_path=mjcf_path)
    cases = policy_cases(goal, max(batches), seed, real=real_states(runs["jax"], max(batches), seed), memory=memory)
    report = compare("policy", fn, onnx_path, cases, batches)
    report["closed_loop"] = closed_loop_report(runs, artifact.env_config.control_dt,
                                               Path(mjcf_path).name if mjcf_path else "engine.xml")
    report["failures"] = report["failures"] + report["closed_loop"]["failures"]
    report["pass"] = not report["failures"]
    return report


def load_dataset_images(dataset_dir: Path, n: int = 64, seed: int = 0) -> np.ndarray:
    """`n` images (float32 in [0, 1]) spread over a rendered dataset."""
    from orient_jax.errors import UserError

    try:
        from orient_jax.data.loader import open_dataset
    except ModuleNotFoundError as exc:
        raise UserError(f"--dataset needs orient_jax.data, which is not installed here ({exc})") from exc
    dataset = open_dataset(Path(dataset_dir))
    size = len(dataset)
    idx = np.sort(np.random.default_rng(seed).choice(size, min(n, size), replace=False))
    images, _ = dataset.get(idx)
    images = np.asarray(images)
    return (images / 255.0 if images.dtype == np.uint8 else images).astype(np.float32)


def pose_parity(model, onnx_path: Path, *, seed: int = 0, dataset_images: np.ndarray | None = None,
                batches=BATCHES) -> dict:
    import jax

    model.eval()
    fn = jax.jit(lambda image: model(image))
    cases = pose_cases(model.config.image_size, max(batches), seed, dataset_images)
    return compare("pose", fn, onnx_path, cases, batches)
