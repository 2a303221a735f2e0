"""Where the goal policy fails: success by the share of the available torque the target needs.

Holding a goal target balanced on its lowest hull point takes a body torque of
m * g * lever. Training (and `orient-jax eval` by default) randomizes mass and torque gain, so
the same target needs a different share of the torque in each episode. This groups the 1000
seeded evaluation starts (the same as `orient-jax eval`) by that share, with the physics
randomized as in training and nominal.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import common


def torque_share(env, state):
    """(N,) share of the episode's torque limit that holding its target takes."""
    import jax.numpy as jnp

    from orient_jax.assets import engine_spec

    mass = engine_spec.mass_properties().mass * state.info["dr"]["mass"]
    limit = jnp.min(env.action_scale) * state.info["dr"]["torque_gain"]
    return env.holding_lever(state.info["target"]) * mass * 9.81 / limit


def run(policy: Path, episodes: int, seed: int, randomized: bool) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import sim
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import obs_policy_fn

    artifact = load_policy(policy)
    cfg = artifact.env_config
    if not randomized:
        cfg = dataclasses.replace(cfg, randomization=dataclasses.replace(cfg.randomization, enabled=False))
    result = ev.rollout("goal", cfg, obs_policy_fn(artifact), episodes, seed)
    # The same starts' targets and physics draws (evaluation starts are uniform drops).
    env = sim.load("goal", ev.evaluation_config(cfg))
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(seed), i))(jnp.arange(episodes))
    share = np.asarray(jax.jit(lambda k: torque_share(env, jax.vmap(env.reset)(k)))(keys))
    return {"success": result.success, "share": share}


def main(argv=None) -> int:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, default=common.REPO / "models" / "checkpoints" / "goal")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    common.add_output_args(p)
    args = p.parse_args(argv)
    bins = [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 1.0]
    data, rows = {}, []
    for name, randomized in (("randomized", True), ("nominal", False)):
        r = run(args.policy, args.episodes, args.seed, randomized)
        idx = np.digitize(r["share"], bins[1:-1])
        data[name] = {"success_rate": float(r["success"].mean()),
                      "bins": [{"share": [bins[i], bins[i + 1]], "episodes": int((idx == i).sum()),
                                "success_rate": float(r["success"][idx == i].mean()) if (idx == i).any() else None}
                               for i in range(len(bins) - 1)]}
    for i in range(len(bins) - 1):
        row = [f"{bins[i]:.1f}-{bins[i + 1]:.1f}"]
        for name in ("randomized", "nominal"):
            b = data[name]["bins"][i]
            row += [b["episodes"], "-" if b["success_rate"] is None else f"{b['success_rate']:.1%}"]
        rows.append(row)
    rows.append(["all", args.episodes, f"{data['randomized']['success_rate']:.1%}", args.episodes,
                 f"{data['nominal']['success_rate']:.1%}"])
    table = common.markdown_table(["torque share to hold the target", "starts (randomized)", "success",
                                   "starts (nominal)", "success"], rows, align="lrrrr")
    common.write_results(args.out, "goal_failures", table, {"policy": common.rel(args.policy), **data})
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
