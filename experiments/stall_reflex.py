"""How the stall reflex's settings were chosen, and what it does to the goal policy's episodes.

Part 1 (tuning): the network alone and wrapped in reflexes of several settings (`sim/reflex.py`:
how long a stall lasts before the push, how long the push, below what speed a push at the
torque limit counts as stalled), each over 1000 noisy, randomized-physics starts per tuning
seed. The tuning seeds are not the seeds the README reports.
Part 2 (report): on the report seeds, the network alone and with the default reflex on the same
starts: success, the failures the reflex turns into successes, the successes it turns into
failures, and how often it pushes.

    .venv/bin/python experiments/stall_reflex.py [--policy models/checkpoints/goal]
        [--tune-seeds 100 101 102 103] [--report-seeds 0 1 2 3 4 5 6] [--episodes 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import common

# (stall_s, push_s, still_rad_s): the first is where the search started (a second of stall, half
# a second of push); the defaults are one of these.
GRID = [(1.0, 0.5, 0.5), (0.5, 0.5, 0.5), (0.3, 0.5, 0.5), (0.2, 0.5, 0.5), (0.1, 0.5, 0.5),
        (0.1, 0.5, 1.0), (0.2, 0.5, 1.0), (0.2, 0.5, 1.5),
        (0.2, 0.12, 1.0), (0.2, 0.2, 1.0), (0.2, 0.3, 1.0), (0.2, 0.7, 1.0), (0.3, 0.3, 1.0)]


def rollout(artifact, episodes: int, seed: int):
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.policy import obs_policy_fn

    return ev.rollout("goal", artifact.env_config, obs_policy_fn(artifact), episodes, seed)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", type=Path, default=common.REPO / "models" / "checkpoints" / "goal",
                   help="goal policy with memory (its own reflex, if any, is replaced)")
    p.add_argument("--tune-seeds", type=int, nargs="*", default=[100, 101, 102, 103])
    p.add_argument("--report-seeds", type=int, nargs="*", default=list(range(7)))
    p.add_argument("--episodes", type=int, default=1000, help="starts per seed (default 1000)")
    common.add_output_args(p)
    args = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from rich.progress import track

    from orient_jax.errors import UserError
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import with_reflex
    from orient_jax.sim.reflex import ReflexConfig

    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    art = load_policy(args.policy)
    if art.env_name != "goal":
        raise UserError(f"{args.policy} is a {art.env_name!r} policy; this experiment is about the goal policy")
    network = dataclasses.replace(art, env_config=dataclasses.replace(art.env_config, reflex=ReflexConfig()))
    default = with_reflex(network)  # raises the one-line error for a policy without memory
    wrap = lambda s, push, still: with_reflex(network, [f"reflex.stall_s={s}", f"reflex.push_s={push}",
                                                        f"reflex.still_rad_s={still}"])

    variants = [("network alone", network)] + [(f"stall {s} s, push {push} s, still < {still} rad/s", wrap(s, push, still))
                                               for s, push, still in GRID]
    tuning = []
    for name, policy in track(variants, description="tuning"):
        rates = [float(rollout(policy, args.episodes, seed).success.mean()) for seed in args.tune_seeds]
        tuning.append({"variant": name, "per_seed": rates, "mean": float(np.mean(rates)) if rates else None})

    report = []
    for seed in track(args.report_seeds, description="report seeds"):
        alone, helped = rollout(network, args.episodes, seed), rollout(default, args.episodes, seed)
        report.append({"seed": seed, "network": float(alone.success.mean()), "reflex": float(helped.success.mean()),
                       "rescued": int(np.sum(helped.success & ~alone.success)),
                       "broken": int(np.sum(alone.success & ~helped.success)),
                       "episodes_pushed": float((helped.reflex_pushes > 0).mean()),
                       "pushes_per_episode": float(helped.reflex_pushes.mean()),
                       "median_time_network_s": alone.summary()["time_to_success_median_s"],
                       "median_time_reflex_s": helped.summary()["time_to_success_median_s"]})

    pct = lambda x: "-" if x is None else f"{x:.1%}"
    seeds = " / ".join(map(str, args.tune_seeds))
    table = common.markdown_table([f"tuning: seeds {seeds}", "success per seed", "mean"],
                                  [[t["variant"], " / ".join(pct(r) for r in t["per_seed"]), pct(t["mean"])] for t in tuning],
                                  align="llr")
    d = default.env_config.reflex
    table += "\n\n" + common.markdown_table(
        [f"seed (default reflex: stall {d.stall_s} s, push {d.push_s} s, still < {d.still_rad_s} rad/s)", "network alone",
         "with the reflex", "failures rescued", "successes lost", "episodes with a push", "pushes per episode",
         "median time to success (s), alone / reflex"],
        [[r["seed"], pct(r["network"]), pct(r["reflex"]), r["rescued"], r["broken"], pct(r["episodes_pushed"]),
          f"{r['pushes_per_episode']:.2f}", f"{r['median_time_network_s']} / {r['median_time_reflex_s']}"] for r in report]
        + ([["mean", pct(np.mean([r["network"] for r in report])), pct(np.mean([r["reflex"] for r in report])),
             "", "", "", "", ""]] if report else []), align="lrrrrrrr")
    notes = (f"{args.episodes} noisy starts per seed (the pose-error model, physics randomized as in training), "
             "the same starts for every row of a seed (`orient-jax eval`'s rollout). A rescued failure fails "
             "with the network alone and succeeds with the reflex; a lost success the reverse.")
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(tuning) + 1))
    ax.barh([t["variant"] for t in tuning][::-1], [100 * (t["mean"] or 0) for t in tuning][::-1], color="tab:blue")
    ax.axvline(90, color="tab:red", lw=1, label="90 % bar")
    ax.set_xlim(80, 100)
    ax.set_xlabel(f"success over seeds {seeds} (%)")
    ax.legend(loc="lower right")
    common.write_results(args.out, "stall_reflex", table, {"policy": common.rel(args.policy), "episodes": args.episodes,
                                                           "tuning": tuning, "report": report,
                                                           "default": dataclasses.asdict(d)}, figure=fig, notes=notes)
    print(table)
    return 0


if __name__ == "__main__":
    common.run_cli(main)
