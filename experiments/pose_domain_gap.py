"""Pose domain gap: the same exported pose model on Blender renders vs browser-rendered frames
of the same orientations.

1. Render `--count` uniform random orientations (dataset seed `--seed`) with Blender Cycles
   through the package's renderer, twice with the same labels: with the default domain
   randomization (the distribution the pose model was trained on) and with it all off (`--no-dr`:
   the nominal scene, which is what the page's pose camera reproduces).
2. Run the exported `pose.onnx` with onnxruntime on both sets.
3. Open the page (headless Chromium, three.js WebGL, onnxruntime-web) on the same models folder,
   render the pose camera frame of each orientation and predict it in the page
   (`orientApp.debug.predict`, as benchmarks/browser_loop.py); also fetch the page frames and
   predict them with Python onnxruntime (a runtime check: renderer gap vs runtime gap).

    .venv/bin/python experiments/pose_domain_gap.py [--models models/export] [--count 200] [--seed 7]

Renders are cached in `--workdir` (a rerun reuses them); results go to
experiments/results/pose_domain_gap.{md,json,png}.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, markdown_table, write_results, rel, run_cli  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from orient_jax.errors import UserError  # noqa: E402

NAME = "pose_domain_gap"
SOURCES = {  # key -> table label
    "blender_dr": "Blender Cycles, training DR (default `data render`)",
    "blender_nominal": "Blender Cycles, nominal scene (`--no-dr`)",
    "browser": "browser WebGL, predicted in the page (onnxruntime-web)",
    "browser_py": "browser WebGL frames, Python onnxruntime (check)",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=REPO / "models" / "export",
                   help="exported models folder: pose.onnx, manifest.json, engine.glb (default models/export)")
    p.add_argument("--count", type=int, default=200, help="random orientations (default 200)")
    p.add_argument("--seed", type=int, default=7, help="dataset seed of the orientations (default 7; training used 1, validation 2)")
    p.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel of the Blender renders (default 8, as the training set)")
    p.add_argument("--workers", type=int, default=2, help="Blender render processes (default 2)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "domain-gap", help="render cache (default runs/domain-gap)")
    p.add_argument("--strip", type=int, default=8, help="orientations shown in the image strip (default 8)")
    add_output_args(p)
    return p.parse_args(argv)


def check_inputs(args) -> dict:
    """The models folder's manifest, or a one-line UserError; also the browser prerequisites."""
    for name in ("manifest.json", "pose.onnx"):
        if not (args.models / name).is_file():
            raise UserError(f"{args.models}: no {name} (not an exported models folder; make one with "
                            f"`.venv/bin/orient-jax export --out {args.models}`)")
    if args.count < 1 or args.strip < 0:
        raise UserError("--count must be at least 1 and --strip at least 0")
    import web_helpers as wh

    if why := wh.missing_prerequisites():
        raise UserError(f"cannot drive the page: {why}")
    return json.loads((args.models / "manifest.json").read_text())


def render(args, manifest: dict, nominal: bool):
    """Render (or reuse) the Blender set; returns the opened dataset."""
    from orient_jax.data.config import CameraConfig, DatasetConfig, DomainRandomization, RendererConfig
    from orient_jax.data.loader import open_dataset
    from orient_jax.data.render import render_dataset

    cam = manifest["camera"]
    camera = CameraConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cam.items() if k in CameraConfig.__dataclass_fields__})
    config = DatasetConfig(num_images=args.count, seed=args.seed, shard_size=-(-args.count // max(args.workers, 1)), camera=camera,
                           dr=DomainRandomization().disabled() if nominal else DomainRandomization(),
                           renderer=RendererConfig(engine="cycles", samples=args.samples))
    out = args.workdir / f"{'nominal' if nominal else 'dr'}-seed{args.seed}-n{args.count}-spp{args.samples}"
    if (out / "manifest.json").is_file():
        print(f"reusing the renders in {out}", flush=True)
        args.reused_renders = True
    else:
        print(f"rendering {args.count} images ({'no DR' if nominal else 'default DR'}, {args.samples} spp) -> {out}", flush=True)
        t0 = time.perf_counter()
        render_dataset(out, config, workers=args.workers, show_progress=sys.stderr.isatty())
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    return open_dataset(out)


def onnx_predict(session, images_u8: np.ndarray, batch: int = 50) -> np.ndarray:
    """pose.onnx on uint8 (N, H, W, 3) images -> (N, 4) quats; input as `augment.to_float` (x / 255)."""
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images_u8[i:i + batch].astype(np.float32) / 255.0})[0]
                           for i in range(0, len(images_u8), batch)])


def browser_frames_and_predictions(models: Path, quats: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Page frames (N, H, W, 3) uint8 and in-page predictions (N, 4) of each orientation."""
    import web_helpers as wh

    from orient_jax.web.server import serving

    with serving(wh.WEB, models) as server, wh.browser() as ctx:
        url = f"http://127.0.0.1:{server.server_address[1]}/?models=/models/&physics=paused"
        page, errors = wh.open_page(ctx, url)
        cam = page.evaluate("orientApp.manifest.camera")
        h, w = int(cam["height"]), int(cam["width"])
        t0 = time.perf_counter()
        pred = np.array(page.evaluate("([qs]) => orientApp.debug.predict(qs)", [quats.tolist()]), dtype=np.float64)
        predict_s = time.perf_counter() - t0
        # The same frames back as bytes (the page's floats are readPixels / 255, so this is exact).
        frames = page.evaluate("""([qs]) => qs.map((q) => {
            const f = orientApp.debug.renderPose(q);
            let s = '';
            for (let i = 0; i < f.length; i++) s += String.fromCharCode(Math.round(f[i] * 255));
            return btoa(s);
        })""", [quats.tolist()])
        info = {"backend": page.evaluate("orientApp.debug.backend"), "threads": page.evaluate("orientApp.debug.threads"),
                "chromium": ctx.browser.version if ctx.browser else None, "predict_s": predict_s, "console_errors": errors}
        page.close()
    images = np.stack([np.frombuffer(base64.b64decode(f), np.uint8).reshape(h, w, 3) for f in frames])
    return images, pred, info


def errors_deg(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    import jax.numpy as jnp

    from orient_jax import rotations

    return np.asarray(rotations.geodesic_angle_deg(jnp.asarray(pred, jnp.float32), jnp.asarray(true, jnp.float32)), dtype=np.float64)


def stats(e: np.ndarray) -> dict:
    from orient_jax.pose.evaluate import summarize

    return {**summarize(e), "p95_deg": float(np.percentile(e, 95))}


def pick_strip(err_browser: np.ndarray, n: int) -> np.ndarray:
    """n orientations spread over the browser error's range (best to worst), for the strip."""
    order = np.argsort(err_browser)
    return order[np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))] if n else order[:0]


def plot(images: dict, errors: dict, strip: np.ndarray):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("blender_dr", "Blender, training DR"), ("blender_nominal", "Blender, nominal (no DR)"), ("browser", "browser WebGL")]
    cols = max(len(strip), 1)
    fig = plt.figure(figsize=(max(1.6 * cols, 10), 1.75 * len(rows) + 4.2))
    grid = fig.add_gridspec(len(rows) + 1, cols, height_ratios=[1] * len(rows) + [2.4], hspace=0.35, top=0.93)
    plain = matplotlib.ticker.FormatStrFormatter("%g")
    for r, (key, label) in enumerate(rows):
        for c, i in enumerate(strip):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(images[key][i])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{errors[key][i]:.1f} deg", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    bottom = grid[len(rows), :].subgridspec(1, 2, wspace=0.25)
    ax = fig.add_subplot(bottom[0])
    lo = max(min(min(errors[k].min() for k in ("blender_dr", "blender_nominal", "browser")), 1.0) * 0.8, 0.05)
    hi = max(errors[k].max() for k in ("blender_dr", "blender_nominal", "browser")) * 1.2
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="equal error")
    ax.scatter(errors["blender_dr"], errors["browser"], s=9, alpha=0.7, color="#3a7bd5", label="x: Blender, training DR")
    ax.scatter(errors["blender_nominal"], errors["browser"], s=9, alpha=0.6, color="#e08a1e", marker="^", label="x: Blender, nominal")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="Blender error (deg)", ylabel="browser error (deg)",
           title="per orientation: browser vs Blender error")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax = fig.add_subplot(bottom[1])
    for key, color in (("blender_dr", "#3a7bd5"), ("blender_nominal", "#e08a1e"), ("browser", "#d5533a")):
        s = np.sort(errors[key])
        ax.plot(s, np.arange(1, s.size + 1) / s.size, color=color, label=f"{dict(rows)[key]} (median {np.median(s):.1f})")
    for v in (5, 10, 15):
        ax.axvline(v, color="grey", ls=":", lw=1)
    ax.set(xscale="log", xlabel="angular error (deg)", ylabel="fraction <= error", title="error CDF")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.suptitle("same orientations, same pose.onnx: Blender Cycles renders vs the page's WebGL frames "
                 "(columns: best to worst browser error)", fontsize=10, y=0.975)
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = check_inputs(args)
    import onnxruntime as ort

    t0 = time.perf_counter()
    dr_set, nominal_set = render(args, manifest, nominal=False), render(args, manifest, nominal=True)
    quats = dr_set.labels.astype(np.float64)
    if not np.allclose(quats, nominal_set.labels, atol=1e-6):
        raise UserError(f"{nominal_set.path}: labels differ from {dr_set.path} (stale cache? delete {args.workdir})")
    session = ort.InferenceSession(str(args.models / "pose.onnx"), providers=["CPUExecutionProvider"])
    images = {"blender_dr": dr_set.images(np.arange(len(dr_set))), "blender_nominal": nominal_set.images(np.arange(len(nominal_set)))}
    preds = {k: onnx_predict(session, v) for k, v in images.items()}
    print("browser: rendering and predicting in the page", flush=True)
    images["browser"], preds["browser"], browser_info = browser_frames_and_predictions(args.models, quats)
    preds["browser_py"] = onnx_predict(session, images["browser"])

    errors = {k: errors_deg(p, quats) for k, p in preds.items()}
    summary = {k: stats(e) for k, e in errors.items()}
    rows = [[SOURCES[k], s["images"], f"{s['median_deg']:.2f}", f"{s['mean_deg']:.2f}", f"{s['acc_5deg']:.1%}",
             f"{s['acc_10deg']:.1%}", f"{s['acc_15deg']:.1%}", f"{s['p95_deg']:.1f}"] for k, s in summary.items()]
    table = markdown_table(["source", "images", "median (deg)", "mean (deg)", "acc@5", "acc@10", "acc@15", "p95 (deg)"], rows, align="lrrrrrrr")
    gap = summary["browser"]["median_deg"] / summary["blender_dr"]["median_deg"]
    diff = np.abs(errors["browser"] - errors["browser_py"])
    log_err = {k: np.log(np.maximum(e, 1e-3)) for k, e in errors.items()}
    corr = {k: float(np.corrcoef(log_err[k], log_err["browser"])[0, 1]) for k in ("blender_dr", "blender_nominal")}
    pose_meta = manifest.get("models", {}).get("pose", {})
    pixel_gap = float(np.abs(images["browser"].astype(np.float32) - images["blender_nominal"].astype(np.float32)).mean())
    notes = (f"The same {args.count} uniform random orientations (labels of `data render --seed {args.seed} --num-images {args.count}`, "
             f"a seed not used for training or validation data), the same `{rel(args.models / 'pose.onnx')}` "
             f"(trained on `{rel(Path(pose_meta.get('config', {}).get('dataset', '?')))}`; its JAX validation median "
             f"{pose_meta.get('metrics', {}).get('val_median_deg', float('nan')):.2f} deg). "
             f"The fair comparison is row 1 vs row 3: row 1 is the distribution the model was trained on (Cycles, "
             f"{args.samples} spp, default domain randomization: random sun, tint, background, material jitter, camera jitter, sensor noise); "
             f"the page renders the nominal scene (the dataset's nominal sun, grey world as ambient, flat background, no noise), "
             f"which row 2 renders in Blender (`--no-dr`), so row 2 vs row 3 isolates the renderer itself "
             f"(mean absolute pixel difference, page vs Blender nominal: {pixel_gap:.1f} / 255). "
             f"Domain gap, browser median / Blender-DR median: {gap:.2f}x "
             f"({'the page frames are easier than the training distribution' if gap < 1 else 'the page frames are harder'}); "
             f"browser / Blender-nominal median: {summary['browser']['median_deg'] / summary['blender_nominal']['median_deg']:.2f}x. "
             f"Correlation of per-orientation log errors with the browser's: Blender DR {corr['blender_dr']:.2f}, "
             f"Blender nominal {corr['blender_nominal']:.2f} (the same scene gives correlated errors; the per-image random DR scene decorrelates them). Row 4 predicts the page's own frames with Python onnxruntime: it differs from "
             f"the page's prediction by at most {diff.max():.3f} deg"
             f"{', so any gap is the renderer, not onnxruntime-web' if diff.max() < 0.1 else ''}. "
             f"Page: headless Chromium {browser_info['chromium']}, SwiftShader WebGL2, onnxruntime-web {browser_info['backend']} "
             f"({browser_info['predict_s']:.1f} s for {args.count} render+predict). "
             f"Figure: the same orientations from the three sources (top; columns from best to worst browser error, titles are "
             f"that image's error), per-orientation errors and CDFs (bottom). Total {time.perf_counter() - t0:.0f} s"
             f"{' (the Blender renders reused from an earlier identical run in ' + rel(args.workdir) + ')' if getattr(args, 'reused_renders', False) else ''}.")
    data = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "reused_renders"},
            "summary": {k: {"label": SOURCES[k], **s} for k, s in summary.items()},
            "gap_median_ratio": gap, "log_error_correlation_with_browser": corr, "page_vs_python_max_deg": float(diff.max()),
            "mean_abs_pixel_diff_browser_vs_nominal": pixel_gap, "browser": browser_info,
            "per_orientation": {"quat": quats.tolist(), **{f"error_{k}": e.round(4).tolist() for k, e in errors.items()}}}
    write_results(args.out, NAME, table, data, plot(images, errors, pick_strip(errors["browser"], args.strip)), notes)
    print(table)
    return 0



if __name__ == "__main__":
    run_cli(main)
