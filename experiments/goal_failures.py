"""Where the goal policy fails: success by the share of the available torque the target needs,
and how the failing episodes end.

Holding a goal target balanced on its lowest hull point takes a body torque of
m * g * lever. Training (and `orient-jax eval` by default) randomizes mass and torque gain, so
the same target needs a different share of the torque in each episode. This groups the 1000
seeded evaluation starts (the same as `orient-jax eval`) by that share, with the physics
randomized as in training and nominal. A second table describes the failures: how close they
came, whether the policy was pushing at its torque limit (an action component at +-1) while
the engine stood still, and a probe of the last second: how far the engine moves with the
torque released (a pose held up by the push falls back), how well the push points along the
rotation still to go, and the lever that holding the pose takes against the target's.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import common


def torque_share(env, state):
    """(N,) share of the episode's torque limit that holding its target takes."""
    import jax.numpy as jnp

    mass = env.body.mass * state.info["dr"]["mass"]
    limit = jnp.min(env.action_scale) * state.info["dr"]["torque_gain"]
    return env.holding_lever(state.info["target"]) * mass * 9.81 / limit


def run(policy: Path, episodes: int, seed: int, randomized: bool) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import rotations, sim
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.networks import MLP, Actor
    from orient_jax.rl.policy import obs_policy_fn

    artifact = load_policy(policy)
    cfg = artifact.env_config
    if not randomized:
        cfg = dataclasses.replace(cfg, randomization=dataclasses.replace(cfg.randomization, enabled=False))
    policy = obs_policy_fn(artifact)
    actor = Actor(artifact.ppo_config.actor_hidden, 3, artifact.ppo_config.init_log_std)

    def preactivation(obs):
        """(N,) largest |pre-tanh output| of the actor: how deep in saturation its action is."""
        features = artifact.obs_norm.normalize(env.policy_features(obs))
        _, captured = actor.apply(artifact.actor_params, features,
                                  capture_intermediates=lambda module, _: isinstance(module, MLP))
        return jnp.abs(jax.tree.leaves(captured)[0]).max(-1)

    result = ev.rollout("goal", cfg, policy, episodes, seed)
    # The same starts' targets and physics draws (evaluation starts are uniform drops).
    env = sim.load("goal", ev.evaluation_config(cfg))
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(seed), i))(jnp.arange(episodes))

    true_quat = lambda state: jax.vmap(env._orientation)(state.data)[0]  # the env's own MuJoCo boundary
    degrees = rotations.geodesic_angle_deg

    @jax.jit
    def trace(keys):
        """Torque share of each start; per step: at the torque limit, |angular velocity|; and a
        probe of the last second: how far the engine moves with the policy on and with the
        torque released, the push's alignment with the rotation still to go, the holding lever."""
        state = jax.vmap(env.reset)(keys)

        def body(state, _):
            action = policy(state.obs)
            z = preactivation(state.obs)
            state = jax.vmap(env.step)(state, action)
            return state, (jnp.abs(action).max(-1) >= 0.98, state.metrics["ang_vel"], z)

        last_s = int(round(1.0 / env.config.control_dt))
        probe, (limit_a, ang_vel_a, z_a) = jax.lax.scan(body, state, None, length=env.episode_steps - last_s)
        final, (limit_b, ang_vel_b, z_b) = jax.lax.scan(body, probe, None, length=last_s)
        released, _ = jax.lax.scan(lambda s, _: (jax.vmap(env.step)(s, jnp.zeros_like(s.info["prev_action"])), None),
                                   probe, None, length=last_s)
        quat, target = true_quat(probe), probe.info["target"]
        to_go = rotations.multiply(rotations.inverse(quat), target)[..., :3]  # body-frame axis * sin(angle/2)
        push = policy(probe.obs)
        cosine = jnp.sum(push * to_go, -1) / (jnp.linalg.norm(push, axis=-1) * jnp.linalg.norm(to_go, axis=-1) + 1e-9)
        probes = {"moved_deg": degrees(quat, true_quat(final)), "released_moved_deg": degrees(quat, true_quat(released)),
                  "push_cosine": cosine, "lever_m": env.holding_lever(quat), "target_lever_m": env.holding_lever(target)}
        limit, ang_vel = jnp.concatenate([limit_a, limit_b]), jnp.concatenate([ang_vel_a, ang_vel_b])
        return torque_share(env, state), limit.T, ang_vel.T, jnp.concatenate([z_a, z_b]).T, probes

    share, at_limit, ang_vel, preact, probes = jax.device_get(trace(keys))
    return {"success": result.success, "share": share, "error_deg": result.error_deg, "at_limit": at_limit,
            "ang_vel": ang_vel, "preactivation": preact, **probes}


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
            "preactivation_last_2s_median": float(np.median(r["preactivation"][fail, last])),
            "successes_at_torque_limit_last_2s_median": float(np.median(r["at_limit"][~fail, last].mean(axis=1))),
            "last_second_moved_deg_median": float(np.median(r["moved_deg"][fail])),
            "last_second_released_moved_deg_median": float(np.median(r["released_moved_deg"][fail])),
            "push_cosine_quartiles": np.percentile(r["push_cosine"][fail], [25, 50, 75]).round(2).tolist(),
            "lever_cm_median": float(100 * np.median(r["lever_m"][fail])),
            "target_lever_cm_median": float(100 * np.median(r["target_lever_m"][fail]))}


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
             ("angular speed in the last 2 s (rad/s), median", "ang_vel_last_2s_median", "{:.2f}"),
             ("largest pre-tanh action output in the last 2 s, median (tanh' = 1 - tanh^2)",
              "preactivation_last_2s_median", "{:.2f}"),
             ("moved in the last 1 s (deg), median", "last_second_moved_deg_median", "{:.1f}"),
             ("... with the torque released instead (deg), median", "last_second_released_moved_deg_median", "{:.1f}"),
             ("cosine of the push with the rotation to go: quartiles", "push_cosine_quartiles", "{}"),
             ("lever to hold the pose 1 s before the end (cm), median", "lever_cm_median", "{:.1f}"),
             ("... to hold the target (cm), median", "target_lever_cm_median", "{:.1f}")]
    table += "\n\nHow the failing episodes end (a step is at the torque limit when an action component is at +-1):\n\n"
    table += common.markdown_table(["", "randomized", "nominal"],
                                   [[label] + [fmt.format(data[n]["failure_modes"][key]) for n in ("randomized", "nominal")]
                                    for label, key, fmt in modes], align="lrr")
    common.write_results(args.out, "goal_failures", table, {"policy": common.rel(args.policy), **data})
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
