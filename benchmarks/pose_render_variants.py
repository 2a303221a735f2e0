"""The page's pose-camera render: cost and pose error of its quality options, in one run.

Each variant is the exported models folder with a `render` section in its manifest (the
page's `POSE_RENDER_DEFAULTS` overrides, web/src/renderer.js). For each: milliseconds per
`orientApp.debug.renderPose` (render + synchronous readback + conversion, the per-step cost
of the control loop; best of two rounds) and the pose model's median error on N page-rendered
random orientations (the same ones for every variant).

    .venv/bin/python benchmarks/pose_render_variants.py [--n 100] [--seed 11]

Writes benchmarks/results/pose_render_variants.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import web_helpers as wh  # noqa: E402
from browser_loop import geodesic_deg  # noqa: E402

VARIANTS = {
    "msaa + soft shadows": {"antialias": True, "shadow_type": "pcfsoft"},
    "no msaa + soft shadows": {"shadow_type": "pcfsoft"},
    "no msaa + basic shadows (default)": {},
    "no msaa, no shadows": {"shadows": False},
}
TIME_RENDERS = """() => { const t0 = performance.now();
  for (let i = 0; i < 40; i++) orientApp.debug.renderPose([Math.sin(i), 0.3, 0.1, 1]);
  return (performance.now() - t0) / 40; }"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=REPO / "web" / "public" / "models")
    p.add_argument("--n", type=int, default=100, help="orientations for the pose error (default 100)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "pose_render_variants.json")
    args = p.parse_args()
    why = wh.missing_prerequisites()
    if why or not (args.models / "pose.onnx").is_file():
        print(f"error: {why or f'no pose.onnx in {args.models}: run `orient-jax export` first'}", file=sys.stderr)
        return 2
    from orient_jax.web.server import serving

    rng = np.random.default_rng(args.seed)
    quats = rng.normal(size=(args.n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    results = {name: {"render": render, "ms_per_render": []} for name, render in VARIANTS.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, render) in enumerate(VARIANTS.items()):
            folder = Path(tmp) / f"v{i}"
            shutil.copytree(args.models, folder)
            manifest = json.loads((folder / "manifest.json").read_text())
            manifest["render"] = render
            (folder / "manifest.json").write_text(json.dumps(manifest))
        with serving(wh.WEB, Path(tmp)) as server, wh.browser() as ctx:
            port = server.server_address[1]
            for rnd in range(2):  # interleaved rounds: a load change hits every variant alike
                for i, name in enumerate(VARIANTS):
                    page, _ = wh.open_page(ctx, f"http://127.0.0.1:{port}/?models=/models/v{i}/&physics=paused")
                    page.evaluate("orientApp.debug.renderPose([0, 0, 0, 1])")  # shader compile
                    results[name]["ms_per_render"].append(page.evaluate(TIME_RENDERS))
                    if rnd == 0:
                        pred = np.array(page.evaluate(f"orientApp.debug.predict({json.dumps(quats.tolist())})"))
                        results[name]["pose_error_median_deg"] = float(np.median(geodesic_deg(pred, quats)))
                    page.close()
    for name, r in results.items():
        r["ms_per_render_best"] = min(r["ms_per_render"])
        print(f"{name:34s} {r['ms_per_render_best']:6.1f} ms/render   pose error median {r['pose_error_median_deg']:.2f} deg")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n": args.n, "seed": args.seed, "variants": results}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
