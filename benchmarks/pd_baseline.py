"""Hand-written PD controller on the (noisy) orientation error: the bar the learned policy
must clear, on the same seeded starts, noise model and randomized physics.

  upright: a = clip(kp * theta * axis - kd * omega, -1, 1), where axis x theta is the rotation
           (body frame) that takes the body's +Z onto world up (yaw left free);
  goal:    the same with the full rotation still to go (rotation vector, body frame).

`--tune` grid-searches (kp, kd) on a separate seed first, so the baseline is a fair one.

    .venv/bin/python benchmarks/pd_baseline.py --policy models/checkpoints/upright --episodes 1000
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from pathlib import Path

import jax.numpy as jnp

from orient_jax import rotations

logging.getLogger("mujoco.mjx").setLevel(logging.ERROR)


def pd_controller(env_name: str, kp: float, kd: float):
    """obs dict (N, ...) -> action (N, 3), from the same raw signals the policy sees."""

    def control(obs):
        quat = rotations.normalize(obs["quat"])
        if env_name == "goal":
            error = rotations.to_rotvec(rotations.multiply(rotations.inverse(quat), rotations.normalize(obs["target"])))
        else:
            up = rotations.up_in_body(quat)
            axis = jnp.cross(jnp.array([0.0, 0.0, 1.0]), up)
            sin = jnp.linalg.norm(axis, axis=-1, keepdims=True)
            angle = jnp.arctan2(sin, up[..., 2:3])
            # Upside down the axis is undefined: pick body x, a fixed roll direction.
            axis = jnp.where(sin > 1e-6, axis / jnp.maximum(sin, 1e-12), jnp.array([1.0, 0.0, 0.0]))
            error = axis * angle
        return jnp.clip(kp * error - kd * obs["ang_vel"], -1.0, 1.0)

    return control


def tune(env_name, env_config, episodes: int, seed: int) -> tuple[float, float, list]:
    from orient_jax.rl import evaluate as ev

    grid = []
    for kp, kd in itertools.product([1.0, 2.0, 4.0, 8.0, 16.0], [0.02, 0.05, 0.1, 0.2, 0.4]):
        res = ev.rollout(env_name, env_config, pd_controller(env_name, kp, kd), episodes, seed)
        s = res.summary()
        score = (s["success_rate"], -(s["time_to_success_median_s"] or 1e9))
        grid.append({"kp": kp, "kd": kd, **s, "_score": score})
    best = max(grid, key=lambda g: g["_score"])
    for g in grid:
        g.pop("_score")
    return best["kp"], best["kd"], grid


def main() -> None:
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import obs_policy_fn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="models/checkpoints/upright")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="evaluation starts (the tuning uses seed + 1000)")
    parser.add_argument("--tune-episodes", type=int, default=200)
    parser.add_argument("--json", help="write the comparison here")
    args = parser.parse_args()
    artifact = load_policy(Path(args.policy))
    cfg = artifact.env_config
    kp, kd, grid = tune(artifact.env_name, cfg, args.tune_episodes, args.seed + 1000)
    rows = {}
    for name, controller in (("ppo", obs_policy_fn(artifact)), (f"pd(kp={kp},kd={kd})", pd_controller(artifact.env_name, kp, kd))):
        for setting, c in (("noisy", cfg), ("clean", ev.without_noise(cfg))):
            rows[f"{name} {setting}"] = ev.rollout(artifact.env_name, c, controller, args.episodes, args.seed).summary()
    print("| controller | success | median time to success (s) | p90 (s) | median final error (deg) |\n|---|---:|---:|---:|---:|")
    for name, s in rows.items():
        print(f"| {name} | {s['success_rate']:.1%} | {s['time_to_success_median_s']:.2f} | {s['time_to_success_p90_s']:.2f} | {s['final_error_median_deg']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"pd_gains": {"kp": kp, "kd": kd}, "tuning_grid": grid, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
