"""Sanity checks of orient_gym.OrientUprightEnv (seconds, in the peer venv):

  1. upright start (identity orientation) + zero action -> the episode reports success;
  2. random starts + uniform random actions -> low success;
  3. the step reward of a body at rest upright > that of one upside down;
  4. gymnasium's env checker passes; control steps/s of one env (single thread).

    benchmarks/sb3_peer/.venv/bin/python benchmarks/sb3_peer/check_env.py --noise-model POSE.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orient_gym import OrientUprightEnv, UprightConfig  # noqa: E402


def run_episode(env, policy, options=None, seed=None):
    obs, _ = env.reset(seed=seed, options=options)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total += reward
        steps += 1
        if terminated or truncated:
            return info["is_success"], total, steps, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--noise-model", required=True, help="pose-error model JSON (orient_jax.sim.noise format)")
    parser.add_argument("--episodes", type=int, default=40, help="random-policy episodes")
    args = parser.parse_args()
    env = OrientUprightEnv(args.noise_model)
    results = {}
    ok = True

    zero = lambda obs: np.zeros(3, np.float32)  # noqa: E731
    ups = [run_episode(env, zero, {"quat_xyzw": [0, 0, 0, 1]}, seed=s) for s in range(5)]
    results["upright_zero_action_success"] = [bool(u[0]) for u in ups]
    results["upright_zero_action_return"] = round(float(np.mean([u[1] for u in ups])), 3)
    ok &= all(results["upright_zero_action_success"])

    rng = np.random.default_rng(0)
    rand = lambda obs: rng.uniform(-1, 1, 3).astype(np.float32)  # noqa: E731
    t = time.perf_counter()
    eps = [run_episode(env, rand, seed=100 + s) for s in range(args.episodes)]
    dt = time.perf_counter() - t
    steps = sum(e[2] for e in eps)
    results["random_policy_success"] = float(np.mean([e[0] for e in eps]))
    results["random_policy_return"] = round(float(np.mean([e[1] for e in eps])), 3)
    results["single_env_steps_per_s"] = round(steps / dt, 1)
    ok &= results["random_policy_success"] < 0.2

    # Upside-down start (180 deg about x), zero action: lies on its head, never succeeds.
    downs = [run_episode(env, zero, {"quat_xyzw": [1, 0, 0, 0]}, seed=s) for s in range(3)]
    results["upside_down_zero_action_success"] = [bool(d[0]) for d in downs]
    results["upside_down_zero_action_return"] = round(float(np.mean([d[1] for d in downs])), 3)
    ok &= results["upright_zero_action_return"] > results["upside_down_zero_action_return"]
    # Per-step reward at rest: upright vs upside down (zero action, zero velocity).
    r_up = sum(env.reward_terms(0.0, 0.0, np.zeros(3), np.zeros(3), True).values()) * env.config.control_dt
    r_down = sum(env.reward_terms(math.pi, 0.0, np.zeros(3), np.zeros(3), False).values()) * env.config.control_dt
    results["step_reward_upright_at_rest"] = r_up
    results["step_reward_upside_down_at_rest"] = r_down
    ok &= r_up > r_down

    # No pose noise, no randomization: identical episodes from identical seeds (determinism).
    quiet = OrientUprightEnv(None, UprightConfig(noise_scale=0.0, randomize=False))
    a = run_episode(quiet, zero, seed=7)
    b = run_episode(quiet, zero, seed=7)
    results["deterministic"] = a[1] == b[1]
    ok &= results["deterministic"]

    from gymnasium.utils.env_checker import check_env
    check_env(OrientUprightEnv(args.noise_model), skip_render_check=True)
    results["gymnasium_check_env"] = "passed"
    results["ok"] = bool(ok)
    print(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
