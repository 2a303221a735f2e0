"""Where the goal policy fails: success by the share of the available torque the target needs,
and how the failing episodes end.

Holding a goal target balanced on its lowest hull point takes a body torque of
m * g * lever. Training (and `orient-jax eval` by default) randomizes mass and torque gain, so
the same target needs a different share of the torque in each episode. This groups the 1000
seeded evaluation starts (the same as `orient-jax eval`) by that share, with the physics
randomized as in training and nominal. A second table describes the failures: how close they
came, and whether the policy was pushing at its torque limit (an action component at +-1)
while the engine stood still.
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
    policy = obs_policy_fn(artifact)
    result = ev.rollout("goal", cfg, policy, episodes, seed)
    # The same starts' targets and physics draws (evaluation starts are uniform drops).
    env = sim.load("goal", ev.evaluation_config(cfg))
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(seed), i))(jnp.arange(episodes))

    @jax.jit
    def trace(keys):
        """Torque share of each start, and per step: at the torque limit, |angular velocity|."""
        state = jax.vmap(env.reset)(keys)

        def body(state, _):
            action = policy(state.obs)
            state = jax.vmap(env.step)(state, action)
            return state, (jnp.abs(action).max(-1) >= 0.98, state.metrics["ang_vel"])

        _, (limit, ang_vel) = jax.lax.scan(body, state, None, length=env.episode_steps)
        return torque_share(env, state), limit.T, ang_vel.T

    share, at_limit, ang_vel = (np.asarray(x) for x in trace(keys))
    return {"success": result.success, "share": share, "error_deg": result.error_deg, "at_limit": at_limit,
            "ang_vel": ang_vel}


def failure_modes(r: dict) -> dict:
    """How the failing episodes end: closest approach, and the last 2 s (100 control steps)."""
    import numpy as np

    fail = ~r["success"]
    closest = r["error_deg"][fail].min(axis=1)
    last = slice(-100, None)
    return {"failures": int(fail.sum()),
            "never_within_10deg": int((closest > 10).sum()),
            "closest_error_deg_quartiles": np.percentile(closest, [25, 50, 75]).round(1).tolist(),
            "final_error_deg_median": float(np.median(r["error_deg"][fail, -1])),
            "at_torque_limit_share_median": float(np.median(r["at_limit"][fail].mean(axis=1))),
            "at_torque_limit_last_2s_median": float(np.median(r["at_limit"][fail, last].mean(axis=1))),
            "ang_vel_last_2s_median": float(np.median(r["ang_vel"][fail, last].mean(axis=1))),
            "successes_at_torque_limit_last_2s_median": float(np.median(r["at_limit"][~fail, last].mean(axis=1)))}


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
        data[name] = {"success_rate": float(r["success"].mean()), "failure_modes": failure_modes(r),
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
    modes = [("failures", "failures", "{}"), ("never within 10 deg", "never_within_10deg", "{}"),
             ("closest approach (deg): quartiles", "closest_error_deg_quartiles", "{}"),
             ("final error (deg), median", "final_error_deg_median", "{:.1f}"),
             ("steps at the torque limit, median share", "at_torque_limit_share_median", "{:.0%}"),
             ("... in the last 2 s", "at_torque_limit_last_2s_median", "{:.0%}"),
             ("... in the last 2 s of successes", "successes_at_torque_limit_last_2s_median", "{:.0%}"),
             ("angular speed in the last 2 s (rad/s), median", "ang_vel_last_2s_median", "{:.2f}")]
    table += "\n\nHow the failing episodes end (a step is at the torque limit when an action component is at +-1):\n\n"
    table += common.markdown_table(["", "randomized", "nominal"],
                                   [[label] + [fmt.format(data[n]["failure_modes"][key]) for n in ("randomized", "nominal")]
                                    for label, key, fmt in modes], align="lrr")
    common.write_results(args.out, "goal_failures", table, {"policy": common.rel(args.policy), **data})
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
