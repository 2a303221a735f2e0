"""Fault injection: SIGKILL the pipeline at random points, resume, and check the end result.

Each round starts `orient-jax pipeline` in its own process group, waits for the round's target
stage to start (targets are spread over every stage in order: render, pose training, its
evaluation, policy training, export, bundle) and kills the whole group (renderer workers
included) with SIGKILL at a random point within that stage; the next round reruns the same
command. After the last kill, a final run goes to completion. Then every artifact
is verified: each stage's recorded output hashes are recomputed, every dataset shard is
re-hashed by the loader, and the bundle's models match the sha256 in their manifest.

    .venv/bin/python benchmarks/pipeline_faults.py --kills 10 --preset tiny
writes benchmarks/results/pipeline_faults.json (kills per stage, rounds, verification).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "orient_jax.cli"]


STAGES = ["render_train", "render_val", "train_pose", "eval_pose", "train_policy", "export", "bundle"]
# How long after a stage starts its kill may land (s): within the stage's usual length on the
# tiny preset (render_train's window includes the process's start-up), so that short stages
# (eval, export, bundle) are hit too, not only long ones.
KILL_WINDOW_S = {"render_train": 10.0, "render_val": 5.0, "train_pose": 40.0, "eval_pose": 4.0,
                 "train_policy": 40.0, "export": 10.0, "bundle": 0.5}


def _running_stage(root: Path) -> str:
    try:
        stages = json.loads((root / "manifest.json").read_text())["stages"]
    except (OSError, ValueError, KeyError):
        return "render_train"  # no stage finished yet: the first one is starting or running
    done = {n for n, r in stages.items() if r.get("status") == "done"}
    return next((n for n in STAGES if n not in done), "finished")


def _reached(root: Path, target: str) -> bool:
    stage = _running_stage(root)
    return stage == "finished" or STAGES.index(stage) >= STAGES.index(target)


def kill_targets(kills: int) -> list[str]:
    """Spread `kills` over the stages in pipeline order (each stage hit once kills >= stages)."""
    return [STAGES[i * len(STAGES) // kills] for i in range(kills)]


def run_with_kills(root: Path, preset: str, kills: int, seed: int, max_delay_s: float, log=print,
                   object_dir: Path | None = None) -> dict:
    """SIGKILL the pipeline `kills` times, each inside a chosen stage at a random point, resume
    after each, then let it finish; returns a report with where every kill landed. With
    `object_dir`, the pipeline of that object folder (`--object`)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cmd = CLI + ["pipeline", "--preset", preset, "--root", str(root), "--no-serve", "--dist", str(root / "dist")]
    if object_dir is not None:
        cmd += ["--object", str(object_dir)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    landed: list[dict] = []
    rounds = 0
    for target in kill_targets(kills) + [None]:
        if target is not None and _running_stage(root) != target and _reached(root, target):
            log(f"skip a kill aimed at {target}: an earlier kill's resume already finished it")
            continue
        rounds += 1
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        if target is not None:
            t_start = time.time()
            while proc.poll() is None and not _reached(root, target):
                time.sleep(0.05)  # wait for the target stage to start
            delay = float(rng.uniform(0.2, min(max_delay_s, KILL_WINDOW_S[target])))
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                stage = _running_stage(root)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                landed.append({"round": rounds, "target": target, "stage": stage,
                               "after_s": round(time.time() - t_start, 1)})
                log(f"kill {len(landed)}/{kills}: SIGKILL {delay:.1f} s into {target}, landed in {stage}")
                continue
            log(f"round {rounds}: the pipeline finished before the kill aimed at {target}")
        proc.wait()
        stderr = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"pipeline failed after {len(landed)} kills (round {rounds}):\n{stderr[-3000:]}")
    return {"kills": landed, "missed": kills - len(landed), "rounds": rounds, "verification": verify(root)}


def verify(root: Path) -> dict:
    """Recompute every recorded hash; raise on any mismatch."""
    from orient_jax.data.loader import open_dataset
    from orient_jax.pipeline.deploy import check_bundle
    from orient_jax.pipeline.stages import sha256_file, sha256_tree

    manifest = json.loads((root / "manifest.json").read_text())
    checked = 0
    for name, record in manifest["stages"].items():
        if record.get("status") != "done":
            raise AssertionError(f"stage {name} is {record.get('status')}")
        for rel, digest in record["outputs"].items():
            path = root / name / rel
            actual = sha256_file(path / "manifest.json") if name.startswith("render_") else \
                sha256_tree(path, skip=lambda p: p.name.startswith("."))
            if actual != digest:
                raise AssertionError(f"{path}: hash {actual[:12]} != recorded {digest[:12]}")
            checked += 1
    images = 0
    for name in ("render_train", "render_val"):
        images += len(open_dataset(root / name / "data", verify_hashes=True))  # re-hashes every shard
    leftovers = [str(p) for p in root.rglob("*") if p.name.startswith(".tmp-shard") or p.name.endswith(".tmp")]
    if leftovers:
        raise AssertionError(f"temporary files left behind: {leftovers[:5]}")
    models = check_bundle(root / "dist")["models"]
    return {"stage_outputs_verified": checked, "images_verified": images, "models_verified": sorted(models)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay-s", type=float, default=60.0,
                        help="cap on how far into its stage a kill lands (each stage has its own window below this)")
    parser.add_argument("--root", default="runs/pipeline-faults")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pipeline_faults.json"))
    args = parser.parse_args()
    root = Path(args.root).resolve()
    import shutil
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.time()
    report = run_with_kills(root, args.preset, args.kills, args.seed, args.max_delay_s)
    report.update(preset=args.preset, seed=args.seed, wall_s=round(time.time() - t0, 1))
    Path(args.out).write_text(json.dumps(report, indent=2))
    stages = {}
    for k in report["kills"]:
        stages[k["stage"]] = stages.get(k["stage"], 0) + 1
    print(f"{len(report['kills'])} SIGKILLs ({', '.join(f'{s}: {n}' for s, n in stages.items())}), "
          f"{report['rounds']} rounds, {report['wall_s']:.0f} s; verified: {report['verification']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
