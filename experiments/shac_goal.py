"""Does SHAC lift the goal task? A SHAC run on `goal` (no memory, no stall reflex), evaluated
like the shipped goal network, beside PPO's figures for the same task.

    .venv/bin/python experiments/shac_goal.py [--preset quick] [--workdir runs/goal-shac-quick]

The run is `orient-jax train --env goal --algo shac --preset PRESET` (the goal env's defaults:
its training curriculum, the stand-in noise), then `orient-jax eval` over 1000 seeded targets.
PPO's reference figures are those the goal task's history measured (docs/goal_task.md): the
network with memory alone, 89.9 % over seeds 0-6; with the stall reflex, the shipped policy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import REPO, add_output_args, markdown_table, run_cli, write_results

NAME = "shac_goal"
PPO_REFERENCE = [
    ("PPO, network with memory alone (the plateau; docs/goal_task.md)", "89.9 % (seeds 0-6)", "`orient-jax eval --policy models/checkpoints/goal --set env.reflex.enabled=false`"),
    ("PPO, network with memory + stall reflex (shipped)", "96.2 % (seed 0, MuJoCo 3.14)", "`orient-jax eval --policy models/checkpoints/goal`"),
]


def main(argv=None) -> int:
    from orient_jax import cli

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", help="SHAC preset (default quick: 1 M env steps)")
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "goal-shac-quick")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation's targets")
    add_output_args(parser)
    args = parser.parse_args(argv)

    code = cli.main(["train", "--env", "goal", "--algo", "shac", "--preset", args.preset, "--workdir", str(args.workdir),
                     "--no-progress"])
    if code != 0:
        raise SystemExit(f"training failed (exit code {code})")
    out = args.workdir / "eval"
    code = cli.main(["eval", "--policy", str(args.workdir / "policy"), "--seed", str(args.seed), "--out", str(out)])
    if code != 0:
        raise SystemExit(f"evaluation failed (exit code {code})")
    report = json.loads((out / "eval.json").read_text())
    noisy, nominal = report["noisy"], report["nominal"]
    metrics = [json.loads(line) for line in (args.workdir / "metrics.jsonl").read_text().splitlines()]
    rows = [[f"SHAC, network without memory (`--preset {args.preset}`, {metrics[-1]['env_steps']:,} env steps)",
             f"{100 * noisy['success_rate']:.1f} % (nominal physics {100 * nominal['success_rate']:.1f} %)",
             f"this script ({args.workdir.relative_to(REPO) if args.workdir.is_relative_to(REPO) else args.workdir})"]]
    rows += [list(r) for r in PPO_REFERENCE]
    table = markdown_table(["goal policy", "success, 1000 targets (stand-in noise)", "measured by"], rows, align="lll")
    notes = (f"SHAC trained {len(metrics)} updates, {metrics[-1]['env_steps']:,} env steps, "
             f"{(metrics[-1]['time'] - metrics[0]['time']) / 60:.1f} min after its first update; its final training "
             f"success (episodes of the curriculum) {100 * metrics[-1]['episode/success']:.0f} %. Median time to "
             f"success {noisy.get('time_to_success_median_s')} s, median final error {noisy.get('final_error_median_deg')} deg.")
    write_results(args.out, NAME, table, {"preset": args.preset, "eval": report, "updates": len(metrics)}, notes=notes)
    return 0


if __name__ == "__main__":
    run_cli(main)
