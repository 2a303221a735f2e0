"""Our JAX PPO vs Stable-Baselines3 PPO: time to 95 % rolling success on `upright`.

Runs `benchmarks/time_to_solve.py` (which trains both, one after the other, each stopped at 95 %
success over its latest 200 training episodes or at the time budget; see its docstring and
benchmarks/sb3_peer/README.md for what is the same and what differs), then turns its JSON into
the README table (time to 95 %, env steps to 95 %, env steps/s, SB3/ours ratios) and a plot of
rolling success vs wall-clock seconds (and vs env steps) for both.

    .venv/bin/python experiments/ppo_vs_sb3.py                          # 900 s budget per side
    .venv/bin/python experiments/ppo_vs_sb3.py --from-json benchmarks/results/time_to_solve.json

The benchmark's raw JSON (with both learning curves) is kept inside <out>/ppo_vs_sb3.json
under "benchmark". The load average is sampled every 5 s while the benchmark runs and reported:
both sides run on the same cores, so other jobs on the machine slow both, not necessarily
equally (our compile and SB3's torch threads react differently to contention).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, markdown_table, write_results, run_cli

from orient_jax.errors import UserError

NAME = "ppo_vs_sb3"
BENCH = REPO / "benchmarks" / "time_to_solve.py"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--time-budget-s", type=float, default=900.0,
                   help="wall-clock budget of EACH side, passed to time_to_solve.py (default 900)")
    p.add_argument("--seed", type=int, default=0, help="seed of both trainings (default 0)")
    p.add_argument("--ours-preset", default="quick", help="our PPO preset (default quick)")
    p.add_argument("--install-peer", action="store_true",
                   help="let time_to_solve.py create/repair the SB3 venv (default: use the existing one, fail if absent)")
    p.add_argument("--from-json", type=Path, default=None,
                   help="rebuild the table and plot from an existing time_to_solve.py JSON (or this script's own) instead of running it")
    add_output_args(p)
    return p.parse_args(argv)


class LoadSampler:
    """Samples the 1-minute load average every `every` s in a background thread."""

    def __init__(self, every: float = 5.0):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.time()
        while not self._stop.is_set():
            self.samples.append((round(time.time() - t0, 1), round(os.getloadavg()[0], 2)))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_benchmark(args) -> tuple[dict, dict]:
    """Run time_to_solve.py into a temp JSON; return (its JSON, load-average summary)."""
    with tempfile.TemporaryDirectory(prefix="ppo_vs_sb3_") as tmp:
        out_json = Path(tmp) / "time_to_solve.json"
        cmd = [sys.executable, str(BENCH), "--time-budget-s", f"{args.time_budget_s:g}", "--seed", str(args.seed),
               "--ours-preset", args.ours_preset, "--json", str(out_json)]
        if not args.install_peer:
            cmd.append("--skip-peer-install")
        print("running:", " ".join(cmd), flush=True)
        t0 = time.time()
        with LoadSampler() as load:
            proc = subprocess.run(cmd, cwd=REPO, check=False)  # its progress goes straight to our terminal
        if proc.returncode != 0:
            raise UserError(f"benchmarks/time_to_solve.py failed (exit code {proc.returncode}); its message is above")
        bench = _read_json(out_json)
    values = [v for _, v in load.samples]
    load_info = {"wall_s": round(time.time() - t0, 1), "cores": len(os.sched_getaffinity(0)),
                 "load_avg_mean": round(sum(values) / len(values), 2) if values else None,
                 "load_avg_max": max(values) if values else None, "samples": load.samples}
    return bench, load_info


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"benchmark JSON not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("benchmark"), dict):
        data = data["benchmark"]  # this script's own <out>/ppo_vs_sb3.json
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a time_to_solve.py result")
    missing = [k for k in ("ours", "peer") if not isinstance(data.get(k), dict)]
    if missing:
        raise UserError(f"{path}: not a time_to_solve.py result with both sides (missing {', '.join(missing)})")
    for side in ("ours", "peer"):
        for key in ("time_to_95_s", "steps_to_95", "steps_per_s", "curve", "stopped_by"):
            if key not in data[side]:
                raise UserError(f"{path}: '{side}' lacks '{key}' (written by an older time_to_solve.py?)")
    return data


def build_table(bench: dict) -> str:
    ours, peer = bench["ours"], bench["peer"]
    budget, target = bench.get("time_budget_s"), bench.get("target", 0.95)

    def cell(r, key, spec):
        v = r.get(key)
        if v is None:
            if key in ("time_to_95_s", "steps_to_95"):
                return f"> {budget:,.0f} s budget" if r.get("stopped_by") == "time_budget" else "not reached"
            return "n/a"
        return spec.format(v)

    def ratio(key, spec="{:.2f}x"):
        a, b = peer.get(key), ours.get(key)
        return spec.format(a / b) if a and b else "n/a"

    specs = [("time_to_95_s", "{:,.1f}"), ("steps_to_95", "{:,.0f}"), ("steps_per_s", "{:,.0f}"),
             ("steady_steps_per_s", "{:,.0f}"), ("first_update_s", "{:,.1f}")]
    rows = [[name] + [cell(r, k, s) for k, s in specs]
            for name, r in (("orient_jax (JAX/MJX PPO)", ours), ("SB3 PPO (C MuJoCo)", peer))]
    rows.append(["**ratio SB3 / ours**"] + [ratio(k) for k, _ in specs[:4]] + [""])
    pct = f"{target:.0%}"
    headers = ["", f"time to {pct} (s)", f"env steps to {pct}", "env steps/s (overall)",
               "env steps/s (after 1st update)", "1st update (s)"]
    return markdown_table(headers, rows, align="lrrrrr")


def build_plot(bench: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = bench.get("target", 0.95)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for side, label, color in (("ours", "orient_jax (JAX/MJX PPO)", "tab:blue"), ("peer", "SB3 PPO (C MuJoCo)", "tab:orange")):
        r = bench[side]
        pts = [p for p in r["curve"] if p.get("rolling_success") is not None]
        for ax, x in zip(axes, ("time_s", "env_steps")):
            ax.plot([p[x] for p in pts], [100 * p["rolling_success"] for p in pts], color=color, label=label)
        if r.get("time_to_95_s") is not None:
            axes[0].axvline(r["time_to_95_s"], color=color, ls=":", lw=1)
            axes[0].annotate(f"{r['time_to_95_s']:.0f} s", (r["time_to_95_s"], 100 * target),
                             textcoords="offset points", xytext=(4, -14), color=color)
        if r.get("steps_to_95") is not None:
            axes[1].axvline(r["steps_to_95"], color=color, ls=":", lw=1)
    for ax, xlabel in zip(axes, ("wall-clock seconds (from env build; ours includes JIT compile)", "env steps")):
        ax.axhline(100 * target, color="gray", ls="--", lw=1)
        ax.set(xlabel=xlabel, ylabel=f"rolling success over {bench.get('window', 200)} episodes (%)", ylim=(0, 100))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[1].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1e6:g}M"))
    axes[0].set_title("upright: rolling training success vs time")
    axes[1].set_title("... vs env steps (sample efficiency)")
    fig.tight_layout()
    return fig


def build_notes(bench: dict, load_info: dict | None, source: str) -> str:
    ours, peer = bench["ours"], bench["peer"]
    v = bench.get("versions", {})
    lines = [(f"Benchmark: `{bench.get('command', '?')}` ({source}). Each side trains `upright` alone, one after the "
             f"other, budget {bench.get('time_budget_s', 0):,.0f} s each, stopped at {bench.get('target', 0.95):.0%} "
             f"success over its latest {bench.get('window', 200)} finished training episodes. Ours: preset "
             f"`{ours.get('config', {}).get('preset', '?')}`, clock from before the env build (JIT compile included). "
             f"SB3 {(v.get('peer') or {}).get('stable_baselines3', '?')} (torch {(v.get('peer') or {}).get('torch', '?')}), "
             f"{peer.get('config', {}).get('n_envs', '?')} `{peer.get('config', {}).get('vec_env', '?')}` envs on C MuJoCo "
             f"{(v.get('peer') or {}).get('mujoco', '?')}. Stopped by: ours {ours.get('stopped_by')}, SB3 {peer.get('stopped_by')}.")]
    marks = []
    for level in (0.8, 0.9):
        t = {side: _first_reach(bench[side]["curve"], level) for side in ("ours", "peer")}
        if t["ours"] and t["peer"]:
            marks.append(f"{level:.0%}: ours {t['ours'][0]:.0f} s / {t['ours'][1]:,} steps, SB3 {t['peer'][0]:.0f} s / "
                         f"{t['peer'][1]:,} steps ({t['peer'][0] / t['ours'][0]:.2f}x)")
    if marks:
        lines.append("Lower thresholds, read off the same curves (how sensitive the ratio is to the 95 % bar): "
                     + "; ".join(marks) + ".")
    load = f"Load average (1 min) at each side's start: ours {ours.get('load_avg_at_start', float('nan')):.2f}, " \
           f"SB3 {peer.get('load_avg_at_start', float('nan')):.2f}"
    if load_info:
        load += (f"; sampled every 5 s over the whole run: mean {load_info['load_avg_mean']}, max {load_info['load_avg_max']} "
                 f"on {load_info['cores']} cores")
    lines.append(load + ". A load above the core count means other jobs shared the cores and slowed both sides; "
                 "the ratio is only as good as the two sides' shares of the machine were equal.")
    return "\n\n".join(lines)


def _first_reach(curve: list[dict], level: float) -> tuple[float, int] | None:
    """(seconds, env steps) when the rolling success first reached `level`, or None."""
    for p in curve:
        if p.get("rolling_success") is not None and p["rolling_success"] >= level:
            return p["time_s"], p["env_steps"]
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        bench, load_info = _read_json(args.from_json), None
        try:
            source = f"rebuilt from {args.from_json.resolve().relative_to(REPO)}"
        except ValueError:
            source = f"rebuilt from {args.from_json}"
    else:
        if args.time_budget_s <= 0:
            raise UserError("--time-budget-s must be positive")
        bench, load_info = run_benchmark(args)
        source = "run by this script"
    table = build_table(bench)
    data = {"source": source, "load": load_info, "benchmark": bench}
    write_results(args.out, NAME, table, data, build_plot(bench), build_notes(bench, load_info, source))
    print(table)
    return 0


if __name__ == "__main__":
    run_cli(main)
