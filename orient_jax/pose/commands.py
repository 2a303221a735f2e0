"""`orient-jax train-pose` and `orient-jax eval-pose`."""

from __future__ import annotations

from pathlib import Path

DEFAULT_POSE = Path(__file__).resolve().parents[2] / "models" / "checkpoints" / "pose"


def cmd_train_pose(args) -> int:
    from orient_jax import config as config_lib
    from orient_jax.pose import presets
    from orient_jax.pose.train import train_and_evaluate

    config = config_lib.apply_overrides(presets.preset(args.preset), args.set or [])
    workdir = Path(args.workdir or f"runs/pose-{args.preset}")
    path = train_and_evaluate(config, Path(args.data), workdir, Path(args.val) if args.val else None,
                              show_progress=not args.no_progress, init=Path(args.init) if args.init else None)
    print(f"pose model written to {path}")
    return 0


def cmd_eval_pose(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from orient_jax.pose.evaluate import evaluate

    out = Path(args.out or (Path(args.model).parent / "eval" if (Path(args.model).parent / "config.json").is_file()
                            else Path("runs") / f"eval-pose-{Path(args.model).name}"))
    report = evaluate(Path(args.model), Path(args.data), out, limit=args.limit)
    table = Table(title=f"pose error on {report['images']} images of {args.data}")
    for col in ("median", "mean", "p90", "acc@5", "acc@10", "acc@15", "worst"):
        table.add_column(col)
    table.add_row(f"{report['median_deg']:.2f} deg", f"{report['mean_deg']:.2f} deg", f"{report['p90_deg']:.2f} deg",
                  f"{report['acc_5deg']:.1%}", f"{report['acc_10deg']:.1%}", f"{report['acc_15deg']:.1%}", f"{report['max_deg']:.1f} deg")
    Console().print(table)
    confusion = report.get("commonest_confusion")
    if confusion:
        print(f"commonest confusion: a {confusion['turn']} in {confusion['share']:.1%} of the images; "
              f"with it forgiven, median {confusion['median_deg_forgiven']:.2f} deg, "
              f"{confusion['acc_10deg_forgiven']:.1%} within 10 deg")
    print(f"report: {out / 'pose_eval.json'}  error model: {out / 'pose_error_model.json'}  "
          f"plots: {out / 'pose_errors.png'}, {out / 'pose_worst.png'}")
    return 0


def register(sub) -> None:
    from orient_jax.pose.presets import PRESETS

    p = sub.add_parser("train-pose", help="train the pose CNN on rendered shards (resumes if the workdir has a checkpoint)",
                       description="Train the pose CNN (6D rotation head, geodesic loss, AdamW + cosine) on a dataset "
                                   "rendered by `orient-jax data render`. Data-parallel over all local devices.")
    p.add_argument("--data", required=True, help="training dataset folder (from `orient-jax data render`)")
    p.add_argument("--val", help="held-out dataset folder (rendered with another seed) for the validation error")
    p.add_argument("--preset", default="quick", help=f"training scale: one of {', '.join(PRESETS)} (default quick)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set steps=500 --set model.head=quat --set augment.noise_std=0")
    p.add_argument("--workdir", help="run folder: checkpoints/, metrics.jsonl, tb/, pose/ (default runs/pose-PRESET)")
    p.add_argument("--init", metavar="MODEL",
                   help="start from this pose model's weights instead of a fresh initialisation (fine-tuning: e.g. the "
                        "shipped model, models/checkpoints/pose, on renders under new lighting); same architecture")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_pose)

    p = sub.add_parser("eval-pose", help="angular error of a pose model on a dataset; writes the pose-error model",
                       description="Median/mean error, accuracy at 5/10/15 deg, worst cases, plots, and "
                                   "pose_error_model.json (what `--set env.noise.model_path=...` reads in RL training).")
    p.add_argument("--model", default=str(DEFAULT_POSE), help="pose model folder (default: the shipped one)")
    p.add_argument("--data", required=True, help="dataset folder, ideally rendered with a seed never used in training")
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    p.add_argument("--out", help="output folder (default: RUN/eval for a run's model, else runs/eval-pose-NAME)")
    p.set_defaults(func=cmd_eval_pose)
