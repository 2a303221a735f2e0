"""Cold vs warm compilation: the same training command twice against one fresh cache folder.

Each run is a fresh `orient-jax` process (what a user reruns, resumes or chains), timed from
start to exit; the first compiles every program and writes the persistent cache
(orient_jax/compile_cache.py), the second loads them. A third run with the cache off is the
peer that shows the first run did not pay for writing the cache.

    .venv/bin/python benchmarks/compile_cache.py [--preset tiny] [--env upright]

Writes benchmarks/results/compile_cache.json.
"""

from __future__ import annotations

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


def timed_train(workdir: Path, cache: str, preset: str, env: str) -> float:
    environ = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    environ["ORIENT_JAX_COMPILE_CACHE"] = cache
    cmd = [sys.executable, "-m", "orient_jax.cli", "train", "--env", env, "--preset", preset,
           "--workdir", str(workdir), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=environ, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", help="PPO preset (default tiny)")
    parser.add_argument("--env", default="upright", help="task (default upright)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "compile_cache.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "xla"
        off = timed_train(tmp / "off", "off", args.preset, args.env)
        cold = timed_train(tmp / "cold", str(cache), args.preset, args.env)
        warm = timed_train(tmp / "warm", str(cache), args.preset, args.env)
        entries = sum(1 for p in cache.iterdir() if p.name.endswith("-cache"))
        size = sum(p.stat().st_size for p in cache.iterdir())
    result = {"command": f"orient-jax train --env {args.env} --preset {args.preset}", "cache_off_s": round(off, 2),
              "cold_s": round(cold, 2), "warm_s": round(warm, 2), "cold_over_warm": round(cold / warm, 2),
              "cache_entries": entries, "cache_bytes": size,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['command']}: cache off {off:.1f} s, cold {cold:.1f} s, warm {warm:.1f} s "
          f"({cold / warm:.1f}x), {entries} entries, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
