"""Pose under lighting and backgrounds it never saw: whole families held out of training.

The training renders draw only from some lighting and background families
(`orient_jax.data.config.DomainRandomization`: studio, any, coloured, sky lights; plain, texture,
clutter, distractors backgrounds; by default all but sky and clutter); the held-out test set only
from families the training never drew (by default sky lighting over clutter); the
in-distribution test set from the training's own families with another seed. The bar: the
held-out median error within 1.5x of the in-distribution one. Other models (the shipped engine
pose model by default, or `--reference LABEL=DIR`, repeatable) are scored on the same two sets.

    .venv/bin/python experiments/lighting_holdout.py                        # the engine
    .venv/bin/python experiments/lighting_holdout.py --object objects/duck  # an imported object

Renders and runs live in `--workdir/<object>/`, named after their families (a rerun reuses what
is finished and refuses a folder rendered otherwise); results go to
experiments/results/lighting_holdout[-NAME].{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, errors_deg, markdown_table, rel, run_cli, write_results  # noqa: E402

from orient_jax.errors import UserError  # noqa: E402

NAME = "lighting_holdout"
TRAIN_SEED, TEST_SEED = 1, 3
RATIO_BAR = 1.5


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--object", type=Path, help="an object folder (default: the built-in engine)")
    p.add_argument("--train-lights", default="studio,any,coloured", help="lighting families of the training renders")
    p.add_argument("--train-backgrounds", default="plain,texture,distractors",
                   help="background families of the training renders")
    p.add_argument("--holdout-lights", default="sky",
                   help="lighting families of the held-out test set (default sky); lights or backgrounds may "
                        "repeat the training's, to hold out only the other")
    p.add_argument("--holdout-backgrounds", default="clutter", help="background families of the held-out test set")
    p.add_argument("--train-images", type=int, default=8000, help="training renders (default 8000)")
    p.add_argument("--test-images", type=int, default=500, help="renders per test set (default 500)")
    p.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel (default 8, as cpu-quick)")
    p.add_argument("--steps", type=int, default=2400, help="pose training steps (default 2400, as in the committed results)")
    p.add_argument("--init", type=Path, default=None,
                   help="a pose model whose weights start training, as the cpu-quick pipeline starts from the "
                        "shipped engine model's (default: from scratch, as in the committed results)")
    p.add_argument("--preset", default="quick", help="pose preset (default quick)")
    p.add_argument("--reference", action="append", metavar="LABEL=DIR", default=[],
                   help="another pose model scored on the same two sets (repeatable; default for the engine: the "
                        "shipped model, models/checkpoints/pose)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render processes")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / NAME, help="renders and runs")
    add_output_args(p)
    return p.parse_args(argv)


def families(text: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in known]
    if not chosen or unknown:
        raise UserError(f"{what}: {text!r}: choose from {', '.join(known)}")
    return chosen


def reference_arg(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label.strip() or not (Path(path) / "pose.json").is_file():
        raise UserError(f"--reference {text!r}: expected LABEL=DIR with a pose model in DIR")
    return label.strip(), Path(path)


def reference_story(model: Path) -> str:
    """How a reference model was trained, from its own record: renders, steps, randomization, init."""
    info = json.loads((model / "pose.json").read_text()).get("info", {})
    steps = info.get("train_config", {}).get("steps")
    data = Path(info.get("dataset", ""))
    story = []
    if (data / "config.json").is_file():
        config = json.loads((data / "config.json").read_text())
        dr = config.get("dr", {})
        story.append(f"{config['num_images']:,} renders lit by {', '.join(dr.get('light_families', ['studio']))} over "
                     f"{', '.join(dr.get('background_families', ['plain']))} backgrounds")
    elif data.name:
        story.append(f"trained on {data.name}")
    if steps:
        story.append(f"{steps:,} steps")
    if "init" in info:
        story.append(f"fine-tuned from the pose model with fingerprint {info['init']['sha256'][:12]}")
    return f" ({'; '.join(story)})" if story else ""


def family_tag(lights, backgrounds) -> str:
    """'studio+any-over-plain': the part of a folder's name that says which families it drew."""
    return f"{'+'.join(lights)}-over-{'+'.join(backgrounds)}"


def render(out: Path, images: int, seed: int, lights, backgrounds, args) -> Path:
    from orient_jax import config as config_lib
    from orient_jax.data.config import DatasetConfig, RendererConfig
    from orient_jax.data.render import render_dataset

    what = {"object_dir": str(args.object.resolve())} if args.object else {}
    config = config_lib.apply_overrides(
        DatasetConfig(num_images=images, seed=seed, renderer=RendererConfig(samples=args.samples), **what),
        [f"dr.light_families={','.join(lights)}", f"dr.background_families={','.join(backgrounds)}"])
    # render_dataset resumes a finished or half-finished folder of this config and refuses another's.
    print(f"[render] {images} images, lights {lights}, backgrounds {backgrounds} -> {rel(out)}", flush=True)
    t0 = time.perf_counter()
    render_dataset(out, config, workers=args.workers, show_progress=sys.stderr.isatty())
    print(f"[render] {rel(out)} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def train(run: Path, data: Path, val: Path, args) -> Path:
    from orient_jax import config as config_lib
    from orient_jax.pose import presets
    from orient_jax.pose.train import train_and_evaluate

    if (run / "pose" / "pose.json").is_file():
        print(f"[train] reusing {rel(run)}", flush=True)
        return run / "pose"
    config = config_lib.apply_overrides(presets.preset(args.preset), [f"steps={args.steps}"])
    print(f"[train] {args.steps} steps on {rel(data)} -> {rel(run)}", flush=True)
    t0 = time.perf_counter()
    train_and_evaluate(config, data, run, val, show_progress=sys.stderr.isatty(), init=args.init)
    (run / "train_seconds.json").write_text(json.dumps({"train_seconds": time.perf_counter() - t0}))
    return run / "pose"


def plot(results: list[dict], samples: dict, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(12, 7.0))
    ax = fig.add_axes([0.06, 0.5, 0.5, 0.44])
    styles = {"in-distribution": "-", "held-out families": "--"}
    colors = ["#3a7bd5", "#d5533a", "#3aa55a", "#9a5ad5"]
    for color, r in zip(colors, results):
        for test, errors in r["errors"].items():
            s = np.sort(errors)
            ax.plot(s, np.arange(1, s.size + 1) / s.size, color=color, ls=styles[test],
                    label=f"{r['model']}: {test} (median {np.median(errors):.2f} deg)")
    ax.set(xscale="log", xlabel="error (deg)", ylabel="fraction of test images", title=title)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax2 = fig.add_axes([0.64, 0.5, 0.33, 0.44])
    rows = [(f"{r['model']}", r["medians"]) for r in results]
    x = np.arange(len(rows))
    ax2.bar(x - 0.2, [m["in-distribution"] for _, m in rows], 0.4, label="in-distribution", color="#8fb3e8")
    ax2.bar(x + 0.2, [m["held-out families"] for _, m in rows], 0.4, label="held-out families", color="#e8a08f")
    ax2.set_xticks(x, [name for name, _ in rows], fontsize=8)
    ax2.set(ylabel="median error (deg)", title="median error")
    ax2.legend(fontsize=8)
    for k, (test, images) in enumerate(samples.items()):
        strip = np.concatenate(list(images[:8]), axis=1)
        axi = fig.add_axes([0.06, 0.2 - 0.19 * k, 0.9, 0.15])
        axi.imshow(strip)
        axi.set_axis_off()
        axi.set_title(test, fontsize=9, loc="left")
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    from orient_jax.data.config import BACKGROUND_FAMILIES, LIGHT_FAMILIES
    from orient_jax.data.loader import open_dataset

    train_lights = families(args.train_lights, LIGHT_FAMILIES, "--train-lights")
    train_backgrounds = families(args.train_backgrounds, BACKGROUND_FAMILIES, "--train-backgrounds")
    held_lights = families(args.holdout_lights, LIGHT_FAMILIES, "--holdout-lights")
    held_backgrounds = families(args.holdout_backgrounds, BACKGROUND_FAMILIES, "--holdout-backgrounds")
    new_lights = [f for f in held_lights if f not in train_lights]
    new_backgrounds = [f for f in held_backgrounds if f not in train_backgrounds]
    if not new_lights and not new_backgrounds:
        raise UserError("every held-out family is also a training family: nothing would be held out")
    if args.object is not None:
        from orient_jax.objects import folder

        folder.read_object(args.object)  # one clear line when it is not an object folder
    if args.init is not None and not (args.init / "pose.json").is_file():
        raise UserError(f"--init {args.init}: not a pose model folder (no pose.json)")
    name = args.object.name if args.object else "engine"
    references = [reference_arg(text) for text in args.reference] or (
        [("shipped engine model", REPO / "models" / "checkpoints" / "pose")] if args.object is None else [])
    work = args.workdir / name
    train_tag, held_tag = family_tag(train_lights, train_backgrounds), family_tag(held_lights, held_backgrounds)
    data = render(work / f"train-{train_tag}", args.train_images, TRAIN_SEED, train_lights, train_backgrounds, args)
    sets = {"in-distribution": render(work / f"test-{train_tag}", args.test_images, TEST_SEED,
                                      train_lights, train_backgrounds, args),
            "held-out families": render(work / f"test-{held_tag}", args.test_images, TEST_SEED,
                                        held_lights, held_backgrounds, args)}
    init_tag = "" if args.init is None else "-init"
    model = train(work / f"pose-{args.preset}-{args.steps}{init_tag}-{train_tag}", data, sets["in-distribution"], args)

    datasets = {test: open_dataset(path) for test, path in sets.items()}
    models = [(f"trained on {'+'.join(train_lights)} / {'+'.join(train_backgrounds)}", model)]
    models += references
    import numpy as np

    results = []
    for label, path in models:
        errors = {test: errors_deg(path, ds) for test, ds in datasets.items()}
        medians = {test: float(np.median(e)) for test, e in errors.items()}
        results.append({"model": label, "path": rel(path), "errors": errors, "medians": medians,
                        "ratio": medians["held-out families"] / medians["in-distribution"]})

    headers = ["model", "in-distribution median (deg)", "held-out families median (deg)", "ratio", f"<= {RATIO_BAR}x",
               "held-out within 10 deg"]
    rows = [[r["model"], f"{r['medians']['in-distribution']:.2f}", f"{r['medians']['held-out families']:.2f}",
             f"{r['ratio']:.2f}", "yes" if r["ratio"] <= RATIO_BAR else "no",
             f"{100 * float(np.mean(r['errors']['held-out families'] <= 10)):.1f} %"] for r in results]
    start = f" from the weights of {rel(args.init)}" if args.init else " from scratch"
    notes = (f"Object: {name}. Training: {args.train_images} renders (seed {TRAIN_SEED}) lit by {', '.join(train_lights)} "
             f"over {', '.join(train_backgrounds)} backgrounds; {args.steps} steps of the `{args.preset}` pose preset"
             f"{start}. "
             f"Test sets: {args.test_images} renders each (seed {TEST_SEED}): in-distribution (the training's families) and "
             f"held-out ({', '.join(held_lights)} lighting over {', '.join(held_backgrounds)} backgrounds; never in training: "
             f"{', '.join(new_lights + new_backgrounds)}). "
             f"{args.samples} Cycles samples per pixel. Errors modulo the object's symmetry (none for an asymmetric one).")
    if references:
        notes += (" A reference model's in-distribution column is this experiment's training families, which need "
                  "not be its own: its ratio against its own families needs a test set of them (`orient-jax eval-pose`).")
    for label, path in references:
        notes += f" {label}: {rel(path)}{reference_story(path)}."
    samples = {f"{test}: {', '.join(lights)} / {', '.join(bgs)}": ds.get(np.arange(8))[0]
               for (test, ds), (lights, bgs) in zip(datasets.items(), [(train_lights, train_backgrounds),
                                                                         (held_lights, held_backgrounds)])}
    out_name = (NAME if args.object is None else f"{NAME}-{name}") + init_tag
    data = {"object": name, "train": {"lights": train_lights, "backgrounds": train_backgrounds, "images": args.train_images},
            "held_out": {"lights": held_lights, "backgrounds": held_backgrounds}, "test_images": args.test_images,
            "steps": args.steps, "init": rel(args.init) if args.init else None, "results": [{k: v for k, v in r.items() if k != "errors"} for r in results]}
    write_results(args.out, out_name, markdown_table(headers, rows), data, plot(results, samples, f"{name}: pose error"), notes)
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    run_cli(main)
