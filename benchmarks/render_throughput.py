"""Render throughput per CPU core: Cycles (the dataset's renderer) vs Workbench.

    .venv/bin/python benchmarks/render_throughput.py --images 32

Each setting runs `blender/render_shard.py --limit N` as one single-threaded process (one
core) on a fresh dataset config and times the steady-state render loop from the worker's
per-image progress lines, which carry the process's CPU time: images/s per core is 1 / (CPU
seconds per image), which holds on a shared machine where wall time does not (wall numbers
are recorded too). Blender's ~2-4 s start-up is reported apart; a 256-image shard amortizes it. Writes benchmarks/results/render_throughput.json. On a shared machine
the numbers move with the load average, which is recorded too.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orient_jax.data import shards  # noqa: E402
from orient_jax.data.config import DatasetConfig, RendererConfig  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--images", type=int, default=32, help="images per setting")
parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "render_throughput.json")
parser.add_argument("--sample-png", type=Path, help="also save one image per setting side by side (a visual check)")
args = parser.parse_args()

SETTINGS = {
    "cycles-16spp": RendererConfig(engine="cycles", samples=16),
    "cycles-8spp": RendererConfig(engine="cycles", samples=8),
    "workbench": RendererConfig(engine="workbench"),
}

results, samples = {}, []
for name, renderer in SETTINGS.items():
    # 1. A throwaway dataset folder whose config selects this renderer (one thread: one core).
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        shards.write_config(data_dir, DatasetConfig(num_images=args.images, shard_size=args.images, seed=0, renderer=renderer))
        # 2. Run one worker, timestamping its per-image progress lines.
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(REPO / "blender" / "render_shard.py"), "--data-dir", str(data_dir),
                                 "--shard", "0"] + ([] if args.sample_png else ["--limit", str(args.images)]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        stamps, cpu = [], []
        for line in proc.stdout:
            if line.startswith("progress "):
                stamps.append(time.perf_counter())
                cpu.append(float(line.split()[2]))
        _, status, usage = os.wait4(proc.pid, 0)
        total = time.perf_counter() - t0
        if status != 0 or len(stamps) != args.images:
            sys.exit(f"{name}: worker failed (status {status}, {len(stamps)} images)")
        # 3. Steady state: images after the first, over the time since the first.
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        cpu_per_image = (cpu[-1] - cpu[0]) / (len(cpu) - 1)  # CPU seconds: what an idle core would take
        results[name] = {"images_per_s_per_core": round(1 / cpu_per_image, 2), "cpu_s_per_image": round(cpu_per_image, 4),
                         "wall_images_per_s_one_process": round(steady, 2),
                         "startup_s": round(stamps[0] - t0 - 1 / steady, 2), "process_wall_s": round(total, 2),
                         "process_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                         "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)}
        print(f"{name:14s} {1 / cpu_per_image:6.2f} img/s per core ({1000 * cpu_per_image:5.0f} ms CPU/image); "
              f"wall {steady:5.2f} img/s in one process under load {load_before:.1f}; start-up {results[name]['startup_s']:.1f} s",
              flush=True)
        if args.sample_png:
            import numpy as np

            samples.append(np.load(data_dir / shards.images_name(0))[:4])

# 4. Record the results with the machine and the comparison point.
report = {"benchmark": "render_throughput", "images_per_setting": args.images, "resolution": [128, 128],
          "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
          "results": results,
          "reference": {"blenderproc_published_s_per_image": [1, 4],
                        "note": "BlenderProc's docs/paper quote roughly 1-4 s per image (full scenes, higher resolution)"}}
args.json.parent.mkdir(parents=True, exist_ok=True)
args.json.write_text(json.dumps(report, indent=2) + "\n")
print(f"wrote {args.json}")
if args.sample_png:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.concatenate([np.concatenate(list(s), 1) for s in samples], 0)).save(args.sample_png)
