"""The browser client's closed loop in headless Chromium (software WebGL, wasm ONNX Runtime):

- frame rate with the pose model run every control step (?physics=lockstep: one control step
  per animation frame, so FPS = control steps per second), and the per-stage times;
- success rate over N seeded starts with vision in the loop (obs = predicted), and with the
  true orientation (obs = truth) as the reference;
- pose error on page-rendered frames over 200 random orientations;
- push recovery: upright and still, a shove (angular impulse over 0.1 s), then success within 5 s.

    .venv/bin/python benchmarks/browser_loop.py [--models web/public/models] [--episodes 20]
    .venv/bin/python benchmarks/browser_loop.py --bundle dist --out /tmp/bundle_loop.json   # a built bundle

Writes benchmarks/results/browser_loop.json. Without an exported models folder it builds a
development one (shipped upright policy + an UNTRAINED pose net): vision numbers are then
meaningless; rerun once `orient-jax export --out web/public/models` has the trained pose model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import web_helpers as wh  # noqa: E402


def geodesic_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(np.sum(a * b, axis=-1)) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(2 * np.arccos(np.clip(d, -1, 1)))


def measure_fps(ctx, url: str, seconds: float, physics: str = "realtime", extra: str = "") -> dict:
    """Median frame rate over `seconds`. realtime: what a visitor sees (the clock drives 50 control
    steps/s, each with a pose render + pose model + policy; the main view adapts its resolution);
    lockstep: exactly one control step per frame, at full resolution (the whole loop's cost).
    `extra`: more URL parameters (e.g. "&readback=sync", "&proxy=1")."""
    quality = "auto" if physics == "realtime" else "high"
    page, errors = wh.open_page(ctx, url + f"&physics={physics}&quality={quality}{extra}")
    page.wait_for_timeout(8000 if physics == "realtime" else 3000)  # warm-up: wasm compile, first sessions, resolution settling
    samples = []
    t_end = time.time() + seconds
    while time.time() < t_end:
        page.wait_for_timeout(1000)
        s = page.evaluate("orientApp.state()")
        samples.append(s)
    page.close()
    med = lambda k: statistics.median(x[k] for x in samples)  # noqa: E731
    return {"fps_median": med("fps"), "control_steps_per_s_median": med("stepsPerSec"),
            "pose_render_ms": med("renderMs"), "pose_infer_ms": med("poseInferMs"), "policy_ms": med("policyMs"),
            "physics_ms": med("physicsMs"), "main_view_ms": med("viewMs"),
            "resolution_scale_median": med("resolutionScale"), "samples": len(samples),
            "console_errors": errors}


def pose_error(page, n: int, seed: int, symmetry_card: dict | None = None) -> dict:
    """The page's pose model on `n` seeded orientations, error modulo the object's symmetry."""
    from orient_jax import symmetry

    sym = symmetry.Symmetry.from_card(symmetry_card)
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 3] < 0] *= -1
    pred = np.array(page.evaluate("([qs]) => orientApp.debug.predict(qs)", [q.tolist()]))
    err = geodesic_deg(q, pred) if sym.trivial else np.degrees(np.asarray(symmetry.error_angle(q.astype(np.float32), pred.astype(np.float32), sym)))
    return {"orientations": n, "median_deg": float(np.median(err)), "mean_deg": float(err.mean()),
            "p90_deg": float(np.percentile(err, 90)), "within_10deg": float((err <= 10).mean())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, help="models folder (default: web/public/models, else a dev build)")
    p.add_argument("--bundle", type=Path, help="a built bundle (`orient-jax pipeline` / `bundle` output, e.g. dist/): "
                                                "serve it as it is, page and models, instead of web/")
    p.add_argument("--episodes", type=int, default=20, help="seeded starts per setting (default 20)")
    p.add_argument("--pushes", type=int, default=10, help="push-recovery trials (default 10)")
    p.add_argument("--push", type=float, default=None,
                   help="angular impulse of a push, N m s, over 0.1 s (default: the manifest's object.push.impulse, "
                        "3 N m s for the engine)")
    p.add_argument("--fps-seconds", type=float, default=10.0, help="frame-rate sampling window (default 10 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "browser_loop.json")
    args = p.parse_args()

    why = wh.missing_prerequisites()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    from orient_jax.web.server import serving

    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle is not None and not (args.bundle / "index.html").is_file():
            print(f"error: {args.bundle} is not a bundle (no index.html)", file=sys.stderr)
            return 2
        models = args.bundle / "public" / "models" if args.bundle else args.models or wh.exported_models()
        dev = models is None
        if dev:
            print("no exported models: building a development folder (untrained pose net)")
            models = wh.build_dev_models(Path(tmp) / "models")
        manifest = json.loads((models / "manifest.json").read_text())
        if args.push is None:
            args.push = float((manifest.get("object") or {}).get("push", {}).get("impulse", 3.0))
        root, mount, query = (args.bundle, None, "") if args.bundle else (wh.WEB, models, "models=/models/&")
        with serving(root, mount) as server, wh.browser() as ctx:
            url = f"http://127.0.0.1:{server.server_address[1]}/?{query}seed={args.seed}"
            t0 = time.time()
            result = {"models": str(models), "development_models": dev, "seed": args.seed,
                      "pose_model_metrics": manifest.get("models", {}).get("pose", {}).get("metrics")}
            print("frame rate …", flush=True)
            result["frame_rate"] = measure_fps(ctx, url, args.fps_seconds, "realtime")
            result["frame_rate_sync_readback"] = measure_fps(ctx, url, args.fps_seconds, "realtime", "&readback=sync")
            result["frame_rate_proxy"] = measure_fps(ctx, url, args.fps_seconds, "realtime", "&proxy=1")
            result["frame_rate_lockstep"] = measure_fps(ctx, url, args.fps_seconds, "lockstep")
            page, _ = wh.open_page(ctx, url + "&physics=paused")
            result["versions"] = {"chromium": ctx.browser.version if ctx.browser else None,
                                  "mujoco_wasm": page.evaluate("orientApp.debug.physicsVersion"),
                                  **json.loads((wh.WEB / "vendor" / "VERSIONS.json").read_text())}
            print("pose error …", flush=True)
            result["pose_error"] = pose_error(page, 200, args.seed, manifest.get("symmetry"))
            print("episodes …", flush=True)
            result["success_vision"] = wh.episodes(page, args.episodes, "predicted")
            result["success_truth"] = wh.episodes(page, args.episodes, "truth")
            print("pushes …", flush=True)
            result["push_recovery_vision"] = wh.push_recovery(page, args.pushes, args.push, args.seed, "predicted")
            result["push_recovery_truth"] = wh.push_recovery(page, args.pushes, args.push, args.seed, "truth")
            page.close()
            result["wall_s"] = time.time() - t0
    result["machine"] = {"cpus": __import__("os").cpu_count(), "platform": platform.platform(),
                         "note": "headless Chromium, SwiftShader WebGL2, wasm ONNX Runtime; CPU shared with other jobs"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(args.out)
    fr, sv, st = result["frame_rate"], result["success_vision"], result["success_truth"]
    fl, fp, fs = result["frame_rate_lockstep"], result["frame_rate_proxy"], result["frame_rate_sync_readback"]
    print(f"FPS (real time, ?readback=sync: render, wait, read every step): {fs['fps_median']:.1f} at "
          f"{fs['control_steps_per_s_median']:.0f} control steps/s, main view at {fs['resolution_scale_median']:.0%}")
    print(f"FPS (real time, ?proxy=1: ONNX Runtime in its worker): {fp['fps_median']:.1f} at "
          f"{fp['control_steps_per_s_median']:.0f} control steps/s, main view at {fp['resolution_scale_median']:.0%}")
    print(f"FPS (real time, pose every control step): {fr['fps_median']:.1f} at {fr['control_steps_per_s_median']:.0f} "
          f"control steps/s, main view at {fr['resolution_scale_median']:.0%} resolution")
    print(f"FPS (lockstep, one control step per frame, full resolution): {fl['fps_median']:.1f}  [pose render "
          f"{fl['pose_render_ms']:.1f} ms, pose {fl['pose_infer_ms']:.1f} ms, policy {fl['policy_ms']:.2f} ms, "
          f"physics {fl['physics_ms']:.2f} ms]")
    print(f"success: vision {sv['success_rate']:.0%}, truth {st['success_rate']:.0%} over {sv['episodes']} starts")
    print(f"pose error on page frames: median {result['pose_error']['median_deg']:.1f} deg")
    print(f"push recovery: vision {result['push_recovery_vision']['recovery_rate']:.0%}, "
          f"truth {result['push_recovery_truth']['recovery_rate']:.0%} (median peak tilt "
          f"{result['push_recovery_vision']['peak_tilt_median_deg']:.0f} deg)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
