"""Naive vs symmetry-aware pose training on one symmetric object, and what it does downstream.

The same renders, preset, steps and seed, three ways of reading a label (`pose/loss.py`):
- `naive`: the plain geodesic loss to the rendered label, as if the object had no symmetry (look-
  alike views get different labels, so the network learns their average);
- `min`: the angle to the nearest look-alike of the label (the shipped default);
- `canonical`: the angle to one fixed look-alike (`symmetry.canonical`), the representative the
  literature proposes against the minimum's training troubles.
Each model is evaluated on the held-out renders modulo the object's symmetry (and naively, for the
naive model, to show what a symmetry-blind evaluation would report). Downstream, the object's
trained upright policy runs 1000 noisy starts under each model's measured error distribution
(`orient-jax eval --set env.noise.model_path=...`), so the column says what each pose model's
errors cost the policy.

    .venv/bin/python experiments/symmetry_loss.py                      # the box, 1200 steps each
    .venv/bin/python experiments/symmetry_loss.py --object objects/can --data runs/pipeline-cpu-quick-can/render_train/data \\
        --val runs/pipeline-cpu-quick-can/render_val/data --policy models/checkpoints/can-upright

Runs live in `--workdir/<object>-<variant>-<steps>` (a rerun reuses finished runs); results go to
experiments/results/symmetry_loss[-NAME].{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, markdown_table, rel, run_cli, write_results  # noqa: E402

from orient_jax.errors import UserError  # noqa: E402

NAME = "symmetry_loss"
VARIANTS = ("naive", "min", "canonical")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--object", type=Path, default=REPO / "objects" / "box", help="the symmetric object (default objects/box)")
    p.add_argument("--data", type=Path, default=REPO / "runs" / "pipeline-cpu-quick-box" / "render_train" / "data",
                   help="its training renders (default: the box's cpu-quick pipeline renders)")
    p.add_argument("--val", type=Path, default=REPO / "runs" / "pipeline-cpu-quick-box" / "render_val" / "data",
                   help="its held-out renders")
    p.add_argument("--policy", type=Path, default=REPO / "models" / "checkpoints" / "box-upright",
                   help="its trained upright policy, for the downstream column (absent: the column is skipped)")
    p.add_argument("--steps", type=int, default=1200, help="training steps per variant (default 1200, ~6 min each on 2 free cores)")
    p.add_argument("--preset", default="quick", help="pose preset the runs start from (default quick)")
    p.add_argument("--episodes", type=int, default=1000, help="downstream policy starts per variant (default 1000)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "symmetry_loss", help="run folders")
    add_output_args(p)
    return p.parse_args(argv)


def train_one(args, variant: str, symmetry) -> Path:
    from orient_jax import config as config_lib
    from orient_jax.pose import presets
    from orient_jax.pose.train import train_and_evaluate
    from orient_jax.symmetry import TRIVIAL

    loss = "min" if variant == "naive" else variant
    config = config_lib.apply_overrides(presets.preset(args.preset), [f"steps={args.steps}", f"symmetry_loss={loss}",
                                                                       f"eval_every={max(args.steps // 6, 1)}"])
    run = args.workdir / f"{args.object.name}-{variant}-{args.steps}"
    if (run / "pose" / "pose.json").is_file():
        print(f"[{variant}] reusing {run}", flush=True)
        return run
    print(f"[{variant}] training {args.steps} steps in {run}", flush=True)
    t0 = time.perf_counter()
    train_and_evaluate(config, args.data, run, args.val, show_progress=sys.stderr.isatty(),
                       symmetry=TRIVIAL if variant == "naive" else symmetry)
    (run / "train_seconds.json").write_text(json.dumps({"train_seconds": time.perf_counter() - t0}))
    return run


def evaluate_one(run: Path, variant: str, val, symmetry) -> dict:
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import rotations
    from orient_jax import symmetry as symmetry_lib
    from orient_jax.pose.checkpoint import load_pose
    from orient_jax.pose.evaluate import predict, summarize
    from orient_jax.sim import noise as noise_lib

    pred, true = predict(load_pose(run / "pose"), val)
    errors = np.asarray(jnp.rad2deg(symmetry_lib.error_angle(jnp.asarray(pred), jnp.asarray(true), symmetry)))
    naive = np.asarray(rotations.geodesic_angle_deg(jnp.asarray(pred), jnp.asarray(true)))
    model_path = run / "pose_error_model.json"
    model_path.write_text(noise_lib.from_errors(errors, source=f"{NAME} {variant}").to_json(metrics=summarize(errors)))
    return {"variant": variant, "run": rel(run), "errors": errors, "summary": summarize(errors),
            "naive_median_deg": float(np.median(naive)), "error_model": model_path}


def downstream(args, result: dict) -> dict | None:
    if not (args.policy / "policy.json").is_file():
        return None
    out = args.workdir / f"{args.object.name}-{result['variant']}-{args.steps}" / "policy_eval"
    report = out / "eval.json"
    if not report.is_file():
        cmd = [str(REPO / ".venv" / "bin" / "orient-jax"), "eval", "--policy", str(args.policy), "--episodes", str(args.episodes),
               "--noise-levels", "1.0", "--out", str(out), "--set", f"env.noise.model_path={result['error_model']}"]
        print(f"[{result['variant']}] policy under its errors: {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True, cwd=REPO)
    noisy = json.loads(report.read_text())["noisy"]
    return {"success_rate": noisy["success_rate"], "episodes": noisy["episodes"]}


def plot(results: list[dict], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"naive": "#d5533a", "min": "#3a7bd5", "canonical": "#3aa55a"}
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        s = np.sort(r["errors"])
        ax0.plot(s, np.arange(1, s.size + 1) / s.size, color=colors[r["variant"]],
                 label=f"{r['variant']} (median {r['summary']['median_deg']:.1f} deg)")
    for v in (5, 10):
        ax0.axvline(v, color="grey", ls=":", lw=1)
    ax0.set(xscale="log", xlabel="error modulo symmetry (deg)", ylabel="fraction of held-out images", title=title)
    ax0.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax0.grid(alpha=0.3)
    ax0.legend(fontsize=8, loc="lower right")
    rows = [r for r in results if r.get("downstream")]
    if rows:
        rates = [100 * r["downstream"]["success_rate"] for r in rows]
        ax1.bar([r["variant"] for r in rows], rates, color=[colors[r["variant"]] for r in rows])
        for i, rate in enumerate(rates):
            ax1.text(i, rate + 0.5, f"{rate:.1f} %", ha="center", fontsize=9)
        ax1.set(ylim=(min(rates) - 10, 101), ylabel="upright success (%)",
                title=f"the upright policy under each model's errors ({rows[0]['downstream']['episodes']} starts)")
    else:
        ax1.axis("off")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.steps < 1:
        raise UserError("--steps must be at least 1")
    from orient_jax.data.loader import open_dataset

    for path in (args.data, args.val):
        if not (path / "manifest.json").is_file():
            raise UserError(f"{path}: no dataset there; render it with `orient-jax pipeline --object {rel(args.object)} "
                            "--until render_val`")
    val = open_dataset(args.val)
    symmetry = val.symmetry
    if symmetry.trivial:
        raise UserError(f"{args.val}: the rendered object has no symmetry in its card: nothing to compare")
    results = []
    for variant in VARIANTS:
        run = train_one(args, variant, symmetry)
        result = evaluate_one(run, variant, val, symmetry)
        result["downstream"] = downstream(args, result)
        results.append(result)

    headers = ["pose loss", "median (deg)", "mean", "p90", "<= 5 deg", "<= 10 deg", "naive median", "upright success"]
    rows = []
    for r in results:
        s = r["summary"]
        d = r["downstream"]
        rows.append([r["variant"], f"{s['median_deg']:.2f}", f"{s['mean_deg']:.2f}", f"{s['p90_deg']:.1f}",
                     f"{100 * s['acc_5deg']:.1f} %", f"{100 * s['acc_10deg']:.1f} %", f"{r['naive_median_deg']:.1f}",
                     f"{100 * d['success_rate']:.1f} %" if d else "-"])
    name = NAME if args.object.name == "box" else f"{NAME}-{args.object.name}"
    notes = (f"Object {rel(args.object)} ({symmetry.describe()}); {args.steps} steps of the `{args.preset}` pose preset per "
             f"variant on {rel(args.data)}, errors modulo the symmetry on {len(val)} held-out renders ({rel(args.val)}). "
             "'naive median': the same predictions scored without the symmetry. Upright success: "
             f"{rel(args.policy)} on {args.episodes} noisy starts under each model's measured errors.")
    data = {"object": rel(args.object), "symmetry": symmetry.to_card(), "steps": args.steps,
            "results": [{k: v for k, v in r.items() if k not in ("errors", "error_model")} for r in results]}
    write_results(args.out, name, markdown_table(headers, rows), data, plot(results, f"{args.object.name}: held-out error"), notes)
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    run_cli(main)
