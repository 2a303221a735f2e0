"""MJX vs C MuJoCo vs the page's MuJoCo WebAssembly: how fast do the three physics part?

The same seeded, smooth random body-torque sequence from the same start, stepped in MJX
(float32, as in training), C MuJoCo (the `mujoco` Python package, float64) and MuJoCo's
WebAssembly build inside the page (headless Chromium, `orientApp.debug.rollout`, as
tests/test_web.py does), in two cases: free flight (spawned high enough that nothing is touched
for the whole run) and on the floor (dropped from the env's spawn height, then tumbled).
Reported: the orientation divergence (geodesic angle, degrees) between each pair vs time, plus
a chaos yardstick: C MuJoCo against itself from a start rotated by 1e-6 rad. Then the
distribution over `--drops` seeded drops (random orientation, a uniform random torque every
control step, 2 s on the floor) of the page-vs-C gap, tests/test_web.py's floor test at scale,
with the control step at which each pair first parts by more than 1e-6 deg.

    .venv/bin/python experiments/physics_divergence.py [--trials 4] [--seconds 5] [--drops 100]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from common import REPO, add_output_args, markdown_table, write_results, run_cli

NAME = "physics_divergence"
CONTROL_DT, SUBSTEPS = 0.02, 4
REPORT_S = (0.5, 1.0, 2.0, 5.0)
PERTURB_RAD = 1e-6


def torque_sequences(rng: np.random.Generator, trials: int, steps: int, scale: float) -> np.ndarray:
    """(trials, steps, 3) smooth random torques: per axis, a sum of three sines (random 1-4 Hz
    frequencies, phases and amplitudes) squashed by tanh to +-scale. Zero-mean oscillation keeps
    the spin moderate (a few rad/s to ~20 rad/s), as when the policy works, rather than winding
    the body up to rates the 5 ms Euler step cannot integrate."""
    t = np.arange(steps) * CONTROL_DT
    f = rng.uniform(1.0, 4.0, size=(trials, 1, 3, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(trials, 1, 3, 3))
    amp = rng.normal(0, 0.8, size=(trials, 1, 3, 3))
    wave = np.sum(amp * np.sin(2 * np.pi * f * t[None, :, None, None] + phase), axis=-1)
    return np.tanh(wave) * scale

def random_quats(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4) uniform random unit quaternions, MuJoCo order [w, x, y, z]."""
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def perturb(q_wxyz: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate each quaternion by `angle` (rad) about a random axis."""
    axis = rng.normal(size=(len(q_wxyz), 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    d = np.concatenate([np.full((len(axis), 1), np.cos(angle / 2)), np.sin(angle / 2) * axis], 1)
    w1, v1 = d[:, :1], d[:, 1:]
    w2, v2 = q_wxyz[:, :1], q_wxyz[:, 1:]
    out = np.concatenate([w1 * w2 - np.sum(v1 * v2, 1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)], 1)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def run_c(model, qpos0: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """C MuJoCo: (trials, steps, 4) body quaternions after each control step."""
    import mujoco

    out = np.zeros(ctrl.shape[:2] + (4,))
    run_c.max_ang_vel = 0.0
    for i in range(len(qpos0)):
        data = mujoco.MjData(model)
        data.qpos[:] = qpos0[i]
        mujoco.mj_forward(model, data)
        for t, c in enumerate(ctrl[i]):
            data.ctrl[:] = c
            mujoco.mj_step(model, data, nstep=SUBSTEPS)
            out[i, t] = data.qpos[3:7]
            run_c.max_ang_vel = max(run_c.max_ang_vel, float(np.linalg.norm(data.qvel[3:6])))
    return out


def make_mjx(model):
    """MJX (float32): `run(qpos0 (N, 7), ctrl (N, T, 3)) -> quats (N, T, 4)`, vmapped and scanned."""
    import jax
    import jax.numpy as jnp
    from mujoco import mjx

    mx = mjx.put_model(model)
    template = mjx.make_data(mx)

    def one(qpos0, ctrl):
        def body(d, c):
            d = d.replace(ctrl=c)
            d = jax.lax.fori_loop(0, SUBSTEPS, lambda _, x: mjx.step(mx, x), d)
            return d, d.qpos[3:7]

        d0 = template.replace(qpos=qpos0, qvel=jnp.zeros(model.nv))
        return jax.lax.scan(body, d0, ctrl)[1]

    run = jax.jit(jax.vmap(one))
    return lambda qpos0, ctrl: np.asarray(run(jnp.asarray(qpos0, jnp.float32), jnp.asarray(ctrl, jnp.float32)), np.float64)


def geodesic_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (deg) between quaternions (..., 4) of either sign; accurate near 0 (atan2 form)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    dot = np.abs(np.sum(a * b, -1))
    # |a x b|-like quantity: the norm of the vector part of conj(a) * b.
    w1, v1, w2, v2 = a[..., :1], a[..., 1:], b[..., :1], b[..., 1:]
    vec = w1 * v2 - w2 * v1 - np.cross(v1, v2)
    return np.degrees(2 * np.arctan2(np.linalg.norm(vec, axis=-1), dot))


class Page:
    """The page's MuJoCo WebAssembly, through tests/web_helpers.py (server + headless Chromium)."""

    def __init__(self):
        sys.path.insert(0, str(REPO / "tests"))
        import web_helpers as wh

        self.wh = wh
        why = wh.missing_prerequisites()
        if why:
            raise RuntimeError(why)
        models = wh.exported_models()
        if models is None:
            raise RuntimeError("web/public/models is empty (run `orient-jax export --out web/public/models`)")
        self.models = models

    def __enter__(self):
        import contextlib

        from playwright.sync_api import sync_playwright

        from orient_jax.web.server import serving

        self._stack = contextlib.ExitStack()
        server = self._stack.enter_context(serving(self.wh.WEB, self.models))
        pw = self._stack.enter_context(sync_playwright())
        ctx = self._stack.enter_context(self.wh.browser(pw=pw))
        url = f"http://127.0.0.1:{server.server_address[1]}/?models=/models/&physics=paused&obs=truth&seed=1"
        self.page, _ = self.wh.open_page(ctx, url, timeout_s=120)
        self.version = self.page.evaluate("String(orientApp.debug.physicsVersion)")
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def run(self, qpos0: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
        out = []
        for q, c in zip(qpos0, ctrl):
            qpos = np.array(self.page.evaluate("([q, c, n]) => orientApp.debug.rollout(q, c, n)",
                                               [q.tolist(), c.tolist(), SUBSTEPS]))
            out.append(qpos[:, 3:7])
        return np.array(out)


def floor_drops(page: "Page", model, drops: int, seed: int) -> dict[str, np.ndarray]:
    """`drops` seeded drops from the spawn height, a uniform random torque every control step for
    2 s, stepped by the page and by C MuJoCo. Per drop: the worst gap (deg) and the first control
    step with a gap above 1e-6 deg (-1: never)."""
    from orient_jax.assets import mjcf

    rng = np.random.default_rng(seed + 1000)
    steps = round(2.0 / CONTROL_DT)
    scale = model.actuator_ctrlrange[:, 1]
    qpos0 = np.concatenate([np.zeros((drops, 2)), np.full((drops, 1), mjcf.initial_height()), random_quats(rng, drops)], 1)
    ctrl = rng.uniform(-1, 1, size=(drops, steps, 3)) * scale
    gap = geodesic_deg(page.run(qpos0, ctrl), run_c(model, qpos0, ctrl))  # (drops, steps)
    parted = gap > 1e-6
    return {"worst_deg": gap.max(1), "first_step": np.where(parted.any(1), parted.argmax(1), -1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4, help="random (start, torque sequence) pairs per case")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each rollout (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drops", type=int, default=100, help="seeded floor drops for the page-vs-C distribution (0: none)")
    parser.add_argument("--no-page", action="store_true", help="skip the WebAssembly build (no browser)")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.trials < 1 or args.seconds < 1.0:
        parser.error("--trials must be >= 1 and --seconds >= 1")

    import mujoco

    from orient_jax.assets import mjcf

    xml = REPO / "orient_jax" / "assets" / "engine.xml"
    model = mujoco.MjModel.from_xml_path(str(xml))
    assert abs(model.opt.timestep * SUBSTEPS - CONTROL_DT) < 1e-12
    steps = round(args.seconds / CONTROL_DT)
    scale = float(model.actuator_ctrlrange[0, 1])
    # Free flight: high enough that the fall (g t^2 / 2) stays clear of the floor throughout.
    flight_z = 0.5 * 9.81 * args.seconds ** 2 + 10.0
    cases = {"free flight": flight_z, "floor": mjcf.initial_height()}

    rng = np.random.default_rng(args.seed)
    page = None
    page_note = ""
    if not args.no_page:
        try:
            page = Page().__enter__()
        except Exception as exc:  # noqa: BLE001 (a missing browser or models folder: report the two others)
            page_note = f"WebAssembly column skipped: {type(exc).__name__}: {exc}"
            print(page_note, file=sys.stderr)
    mjx_run = make_mjx(model)

    series: dict[str, dict[str, np.ndarray]] = {}
    max_w: dict[str, float] = {}
    try:
        for case, z0 in cases.items():
            quats = random_quats(rng, args.trials)
            xy = rng.uniform(-0.05, 0.05, size=(args.trials, 2))
            qpos0 = np.concatenate([xy, np.full((args.trials, 1), z0), quats], 1)
            ctrl = torque_sequences(rng, args.trials, steps, scale)
            qpos_pert = qpos0.copy()
            qpos_pert[:, 3:7] = perturb(quats, PERTURB_RAD, rng)
            traj = {"C": run_c(model, qpos0, ctrl)}
            max_w[case] = run_c.max_ang_vel
            traj["C perturbed"] = run_c(model, qpos_pert, ctrl)
            traj["MJX"] = mjx_run(qpos0, ctrl)
            if page is not None:
                traj["WASM"] = page.run(qpos0, ctrl)
            pairs = [("MJX", "C"), ("WASM", "C"), ("MJX", "WASM"), ("C perturbed", "C")]
            series[case] = {f"{a} vs {b}": geodesic_deg(traj[a], traj[b]) for a, b in pairs if a in traj and b in traj}
            print(f"{case}: max |omega| {max_w[case]:.1f} rad/s; " + ", ".join(f"{k} max {v.max():.3g} deg" for k, v in series[case].items()), flush=True)
        drops = floor_drops(page, model, args.drops, args.seed) if page is not None and args.drops > 0 else None
        page_version = page.version if page is not None else None
    finally:
        if page is not None:
            page.__exit__(None, None, None)

    t = np.arange(1, steps + 1) * CONTROL_DT
    marks = [s for s in REPORT_S if s <= args.seconds + 1e-9]
    idx = [round(s / CONTROL_DT) - 1 for s in marks]
    rows, data_rows = [], []
    for case, pairs in series.items():
        for pair, div in pairs.items():
            med, worst = np.median(div, 0), div.max(0)
            rows.append([case, pair] + [f"{med[i]:.2g} ({worst[i]:.2g})" for i in idx])
            data_rows.append({"case": case, "pair": pair,
                              **{f"median_deg_at_{s:g}s": float(med[i]) for s, i in zip(marks, idx)},
                              **{f"max_deg_at_{s:g}s": float(worst[i]) for s, i in zip(marks, idx)}})
    table = markdown_table(["case", "pair"] + [f"{s:g} s" for s in marks], rows, align="ll" + "r" * len(marks))
    table = ("Orientation divergence (geodesic degrees), median (max) over "
             f"{args.trials} random starts and torque sequences per case.\n\n" + table)

    drops_md, drops_data = "", None
    if drops is not None:
        w, first = drops["worst_deg"], drops["first_step"]
        q = np.percentile(w, [50, 90, 99, 100])
        drops_md = ("\n\nPage (WASM) vs C MuJoCo over " + f"{len(w)} seeded floor drops (2 s each, a uniform random torque "
                    "every control step, as tests/test_web.py's floor test):\n\n" + markdown_table(
                        ["drops within 0.1 deg", "identical (gap 0)", "median", "p90", "p99", "max", "parted by > 1e-6 deg"],
                        [[f"{int(np.sum(w <= 0.1))} / {len(w)}", f"{int(np.sum(w == 0))} / {len(w)}"]
                         + [f"{v:.2g} deg" for v in q]
                         + [f"{int(np.sum(first >= 0))} (first at control step {int(first[first >= 0].min()) if np.any(first >= 0) else '-'})"]]))
        drops_data = {"worst_deg": w.tolist(), "first_step_over_1e-6_deg": first.tolist()}
        print(f"floor drops: {int(np.sum(w <= 0.1))}/{len(w)} within 0.1 deg; median {q[0]:.2g}, max {q[3]:.2g} deg", flush=True)
    table += drops_md

    fig = plot(t, series)
    versions = f"C MuJoCo {mujoco.__version__} (float64), MJX from the same package (float32)"
    if page_version:
        versions += f", page MuJoCo WebAssembly {page_version}"
    at = lambda case, pair, sec, f=np.median: float(f(series[case][pair][:, round(sec / CONTROL_DT) - 1], 0))
    last = marks[-1]
    flight = [p for p in series["free flight"] if not p.startswith("C perturbed")]
    notes = NOTES.format(
        versions=versions, flight_z=flight_z, perturb=PERTURB_RAD, w_flight=max_w["free flight"],
        w_floor=max_w["floor"], secs=last, flight_med=max(at("free flight", p, last) for p in flight),
        flight_max=max(at("free flight", p, last, np.max) for p in flight),
        pert05=at("floor", "C perturbed vs C", 0.5), pert1=at("floor", "C perturbed vs C", 1.0),
        pert2=at("floor", "C perturbed vs C", min(2.0, last)), mjxc05=at("floor", "MJX vs C", 0.5),
        wasmc05=at("floor", "WASM vs C", 0.5) if "WASM vs C" in series["floor"] else float("nan"),
        wasmc05max=at("floor", "WASM vs C", 0.5, np.max) if "WASM vs C" in series["floor"] else float("nan"))
    if page_note:
        notes += f"\n\n{page_note}"
    data = {"trials": args.trials, "seconds": args.seconds, "seed": args.seed, "versions": versions,
            "max_ang_vel_c_rad_s": max_w,
            "rows": data_rows, "t": t.tolist(), "floor_drops": drops_data,
            "series_median_deg": {c: {p: np.median(v, 0).tolist() for p, v in ps.items()} for c, ps in series.items()}}
    write_results(args.out, NAME, table, data, fig, notes)
    return 0


def plot(t: np.ndarray, series: dict[str, dict[str, np.ndarray]]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"MJX vs C": "tab:blue", "WASM vs C": "tab:orange", "MJX vs WASM": "tab:green",
              "C perturbed vs C": "tab:gray"}
    fig, axes = plt.subplots(1, len(series), figsize=(6.5 * len(series), 4.5), sharey=True)
    axes = np.atleast_1d(axes)
    floor = 1e-7
    for ax, (case, pairs) in zip(axes, series.items()):
        for pair, div in pairs.items():
            div = np.maximum(div, floor)
            style = "--" if pair.startswith("C perturbed") else "-"
            ax.plot(t, np.median(div, 0), style, color=colors.get(pair), lw=2, label=f"{pair} (median)")
            ax.fill_between(t, div.min(0), div.max(0), color=colors.get(pair), alpha=0.15)
        ax.set(yscale="log", xlabel="time (s)", title=case, ylim=(floor, 360))
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("orientation divergence (deg)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Same torques, same start: MJX vs C MuJoCo vs MuJoCo WebAssembly (band: min..max over starts)")
    fig.tight_layout()
    return fig


NOTES = """\
Builds: {versions}. Free flight starts {flight_z:.0f} m up (clear of the floor for the whole
run; gravity stays on, as in tests/test_web.py); the floor case drops the body from the env's
spawn height at a random orientation and keeps torquing it. Torques: per axis a sum of three
random sines (1-4 Hz), squashed by tanh to the actuators' +-3.94 N m, held for each 20 ms (4 Euler
substeps of 5 ms); the peak |omega| reached in C MuJoCo was {w_flight:.0f} rad/s in flight and
{w_floor:.0f} rad/s on the floor. "C perturbed vs C" is C MuJoCo against itself from a start rotated by
{perturb:g} rad: how strongly the dynamics themselves amplify a tiny difference.

The page and C MuJoCo are one engine. The page runs MuJoCo's own WebAssembly build of the release
the Python side pins, so collision, solver and integrator are the same code in float64. They
agree to rounding in flight and on the floor (WASM vs C median {wasmc05:.2g} deg at 0.5 s, max
{wasmc05max:.2g} deg); where a drop is not bit-identical, the last-bit difference comes from libm or
floating-point contraction in the wasm compile, and stays far below 0.1 deg over 2 s. The older
`mujoco-js` build (MuJoCo 3.3.8) against C MuJoCo 3.17 parted by tens of degrees at the first
landing that went differently: 3.3.8 returned one plane-vs-mesh contact where 3.17 returned two
or more.

MJX is not the same code. Free flight: MJX agrees with the others to {flight_med:.1g} deg (median;
max {flight_max:.1g} deg) after {secs:g} s: float32 rounding of the same Euler integration. On the floor
two effects part them. (1) The dynamics amplify any difference: every landing, edge pivot and
stick-slip transition of the convex hull on the plane is a discrete event decided by a threshold.
The yardstick shows it: a {perturb:g} rad start difference is {pert1:.2g} deg after 1 s,
{pert2:.2g} deg after 2 s and saturates by 5 s, so float32 rounding alone would part MJX from C
within a few seconds. (2) MJX computes different contact forces: it collides the plane with the
mesh hull by its own vectorised convex routine (a fixed number of candidate contact points), and
with `iterations=4`, `ls_iterations=8` the Newton solver is not always converged at an impact. MJX
vs C is already {mjxc05:.2g} deg apart (median) at 0.5 s, where the yardstick is {pert05:.1g} deg.
Consequence: training (MJX) and the page or evaluation (C MuJoCo) cannot be compared trajectory
by trajectory on the floor; that parity is statistical (success rates, times to success), while
page and C MuJoCo are compared step by step (tests/test_web.py).
"""


if __name__ == "__main__":
    run_cli(main)
