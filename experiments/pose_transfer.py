"""Does a new object's pose model learn faster from the engine's weights than from scratch?

For each pipeline run folder given (`orient-jax pipeline --object objects/NAME --preset
cpu-quick --pose-init none` leaves its renders and its from-scratch pose model there), train
the run's own pose config on the same renders once more, starting from another pose model's weights
(`train-pose --init`, default the shipped engine model), and score both models on the run's
held-out renders. Same data, same steps, same schedule: only the starting weights differ.

    .venv/bin/python experiments/pose_transfer.py runs/pipeline-cpu-quick-bunny runs/pipeline-cpu-quick-palm

Runs live in `--workdir/<object>/` (a rerun reuses a finished one); results go to
experiments/results/pose_transfer.{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, errors_deg, markdown_table, rel, run_cli, write_results  # noqa: E402

from orient_jax.errors import UserError  # noqa: E402

NAME = "pose_transfer"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="pipeline run folders (with render_train, render_val, train_pose)")
    p.add_argument("--init", type=Path, default=REPO / "models" / "checkpoints" / "pose",
                   help="the pose model whose weights start the transfer runs (default: the shipped engine model)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / NAME, help="the transfer runs")
    p.add_argument("--name", default=NAME, help=f"results file name (default {NAME}: {NAME}.md, .json, .png)")
    add_output_args(p)
    return p.parse_args(argv)


def pipeline_parts(run: Path) -> dict:
    """The run's training and held-out renders, the config its pose model trained with and that
    from-scratch model."""
    parts = {"train": run / "render_train" / "data", "val": run / "render_val" / "data", "scratch": run / "train_pose" / "pose"}
    stage, trained = run / "train_pose" / "stage.json", run / "train_pose" / "run" / "config.json"
    missing = [str(p) for p in (parts["train"] / "manifest.json", parts["val"] / "manifest.json",
                                parts["scratch"] / "pose.json", stage, trained) if not p.is_file()]
    if missing:
        raise UserError(f"{run}: not a finished pipeline run (missing {', '.join(missing)})")
    record = json.loads(stage.read_text())
    if "init" in record["config"]:
        raise UserError(f"{run}: its pose model did not start from scratch; run the pipeline with --pose-init none")
    from orient_jax import config as config_lib
    from orient_jax.pose.train import PoseTrainConfig

    parts.update(config=config_lib.from_dict(PoseTrainConfig, json.loads(trained.read_text())["config"]),
                 scratch_seconds=record.get("duration_s"))
    return parts


def train_from(init: Path, parts: dict, workdir: Path) -> tuple[Path, float | None]:
    from orient_jax.pose.checkpoint import pose_fingerprint
    from orient_jax.pose.train import train_and_evaluate

    timing = workdir / "train_seconds.json"
    if (workdir / "pose" / "pose.json").is_file():
        started = json.loads((workdir / "config.json").read_text()).get("init", {}).get("sha256")
        if started != pose_fingerprint(init):
            raise UserError(f"{workdir} was trained from another model than {init}; delete it or use another --workdir")
        print(f"[train] reusing {rel(workdir)}", flush=True)
        return workdir / "pose", json.loads(timing.read_text())["train_seconds"] if timing.is_file() else None
    config = parts["config"]
    print(f"[train] {config.steps} steps (the run's pose config) from {rel(init)} on {rel(parts['train'])}", flush=True)
    t0 = time.perf_counter()
    train_and_evaluate(config, parts["train"], workdir, parts["val"], show_progress=sys.stderr.isatty(), init=init)
    seconds = time.perf_counter() - t0
    timing.write_text(json.dumps({"train_seconds": seconds}))
    return workdir / "pose", seconds


def curve(run: Path) -> list[tuple[int, float]]:
    metrics = run / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
    return [(r["step"], r["val_median_deg"]) for r in rows if "val_median_deg" in r]


def plot(results: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, r in enumerate(results):
        color = f"C{i}"
        for label, style in (("scratch", "--"), ("transfer", "-")):
            s = np.sort(r["errors"][label])
            axes[0].plot(s, np.arange(1, s.size + 1) / s.size, color=color, ls=style,
                         label=f"{r['object']} {label} (median {np.median(s):.2f} deg)")
            steps = r["curves"][label]
            if steps:
                axes[1].plot(*zip(*steps), color=color, ls=style, marker="o", ms=3, label=f"{r['object']} {label}")
    axes[0].set(xscale="log", xlabel="error on held-out renders (deg)", ylabel="fraction of images",
                title="from scratch (dashed) vs from the engine's weights (solid)")
    axes[0].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes[1].axhline(5, color="grey", lw=0.8, ls=":")
    axes[1].set(yscale="log", xlabel="training step", ylabel="validation median (deg)", title="learning curves")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    import numpy as np

    args = parse_args(argv)
    from orient_jax.pose.checkpoint import load_pose

    from orient_jax.pose.checkpoint import pose_fingerprint

    load_pose(args.init)  # one clear line when it is not a pose model
    init_sha = pose_fingerprint(args.init)
    results = []
    for run in args.runs:
        parts = pipeline_parts(run)
        name = run.name.rsplit("-", 1)[-1] if run.name.startswith("pipeline-") else run.name
        model, seconds = train_from(args.init, parts, args.workdir / name)
        from orient_jax.data.loader import open_dataset

        val = open_dataset(parts["val"])
        errors = {"scratch": errors_deg(parts["scratch"], val), "transfer": errors_deg(model, val)}
        results.append({"object": name, "run": rel(run), "model": rel(model), "steps": parts["config"].steps, "errors": errors,
                        "medians": {k: float(np.median(e)) for k, e in errors.items()},
                        "within_10": {k: float(np.mean(e <= 10)) for k, e in errors.items()},
                        "curves": {"scratch": curve(run / "train_pose" / "run"), "transfer": curve(args.workdir / name)},
                        "transfer_train_seconds": seconds})

    headers = ["object", "held-out renders", "from scratch: median (deg)", "from the engine: median (deg)",
               "from scratch: within 10 deg", "from the engine: within 10 deg"]
    rows = [[r["object"], len(r["errors"]["scratch"]), f"{r['medians']['scratch']:.2f}", f"{r['medians']['transfer']:.2f}",
             f"{100 * r['within_10']['scratch']:.1f} %", f"{100 * r['within_10']['transfer']:.1f} %"] for r in results]
    notes = (f"Both models of a row: the run's pose config on the run's own training renders and schedule; the scratch "
             f"model is the pipeline's own (fresh initialisation), the transfer model starts from {rel(args.init)} "
             f"(pose_fingerprint {init_sha[:12]}). "
             "Errors on the run's held-out renders (another seed), modulo the object's symmetry.")
    data = {"init": rel(args.init), "init_sha256": init_sha, "results": [{k: v for k, v in r.items() if k != "errors"} for r in results]}
    write_results(args.out, args.name, markdown_table(headers, rows), data, plot(results), notes)
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    run_cli(main)
