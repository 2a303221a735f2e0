"""Record where a goal policy stalls: a start bank for the `stall_start_fraction` curriculum.

Runs the policy (deterministic, noisy observations, randomized physics: as `orient-jax eval`)
from uniform random drops and keeps, from every episode that fails, the full simulator state at
a few random times late in the episode (between --from-s and the end), where a failing episode
is held up short of its target (`experiments/goal_failures.py`). Each row has the episode's
target and physics draw, so a training episode restarted from it meets the same stall.

The starts come from `--seed` (default 1000), not from an evaluation seed (0-2 in the README),
so a policy trained on the bank is not evaluated on its own training starts.

    .venv/bin/python experiments/collect_stall_starts.py [--policy models/checkpoints/goal]
        [--episodes 4096] [--per-failure 4] [--out runs/stall_starts/goal.npz]

`--replay POLICY` instead restarts POLICY from the bank's states (--restarts of them, at
random, each with the whole episode to go) and prints how many it then solves: how well a
policy escapes the stalls the bank recorded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common


def collect(policy_dir: Path, episodes: int, seed: int, per_failure: int, from_s: float, chunk: int = 1024) -> dict:
    """Bank arrays (see `orient_jax.sim.start_bank`) and counts."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import sim
    from orient_jax.errors import UserError
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import obs_policy_fn
    from orient_jax.sim import start_bank
    from rich.progress import track

    artifact = load_policy(policy_dir)
    if artifact.env_name != "goal":
        raise UserError(f"{policy_dir} is a {artifact.env_name!r} policy; stall starts are for 'goal'")
    env = sim.load("goal", ev.evaluation_config(artifact.env_config))
    policy = obs_policy_fn(artifact)
    stride = 5  # record every 5th control step (0.1 s): enough variety, 5x less memory
    first = int(round(from_s / env.config.control_dt)) // stride
    if not 0 <= first < env.episode_steps // stride:
        raise UserError(f"--from-s {from_s} is outside the {env.config.episode_s} s episode")

    @jax.jit
    def run(index):
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(seed), i))(index)
        state = jax.vmap(env.reset)(keys)

        def body(state, _):
            state = jax.vmap(env.step)(state, policy(state.obs))
            return state, (state.data.qpos, state.data.qvel, state.info["prev_action"])

        state, (qpos, qvel, prev) = jax.lax.scan(body, state, None, length=env.episode_steps)
        keep = lambda x: jnp.swapaxes(x[stride - 1::stride][first:], 0, 1)  # (B, S, ...)
        return state.info["success"], keep(qpos), keep(qvel), keep(prev), state.info["target"], state.info["dr"]

    rng = np.random.default_rng(seed)
    parts, failures = [], 0
    for start in track(range(0, episodes, chunk), description="rollouts"):
        index = jnp.arange(start, min(start + chunk, episodes))
        success, qpos, qvel, prev, target, dr = jax.device_get(run(index))
        fail = np.flatnonzero(~success)
        failures += fail.size
        kept = min(per_failure, qpos.shape[1])  # random snapshot times, distinct within an episode
        times = np.array([rng.choice(qpos.shape[1], size=kept, replace=False) for _ in fail], int).reshape(-1, kept)
        rows, episode = fail[:, None], lambda x: np.repeat(x[fail], kept, axis=0)
        parts.append({"qpos": qpos[rows, times].reshape(-1, 7), "qvel": qvel[rows, times].reshape(-1, 6),
                      "prev_action": prev[rows, times].reshape(-1, 3), "target": episode(target),
                      **{k: episode(dr[k]) for k in start_bank.PHYSICS}})
    if not failures:
        raise UserError(f"the policy failed none of {episodes} episodes: nothing to record")
    bank = {k: np.concatenate([part[k] for part in parts]).astype(np.float32) for k in start_bank.FIELDS}
    return {"bank": bank, "episodes": episodes, "failures": failures}


def replay(policy_dir: Path, bank_path: Path, restarts: int, seed: int) -> float:
    """Success rate of the policy over `restarts` episodes started from random bank rows."""
    import jax

    from orient_jax import sim
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import obs_policy_fn

    artifact = load_policy(policy_dir)
    env = sim.load("goal", config_overrides=["upright_start_fraction=0", "rest_start_fraction=0",
                                             "near_rest_start_fraction=0", "stall_start_fraction=1",
                                             f"stall_starts={bank_path}", f"memory={artifact.env_config.memory}"])
    policy = obs_policy_fn(artifact)

    @jax.jit
    def run(keys):
        state = jax.vmap(env.reset)(keys)
        state, _ = jax.lax.scan(lambda s, _: (jax.vmap(env.step)(s, policy(s.obs)), None), state, None,
                                length=env.episode_steps)
        return state.info["success"]

    return float(run(jax.random.split(jax.random.PRNGKey(seed), restarts)).mean())


def main(argv=None) -> int:
    from orient_jax.errors import UserError
    from orient_jax.sim import start_bank

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, default=common.REPO / "models" / "checkpoints" / "goal",
                   help="goal policy artifact (default models/checkpoints/goal)")
    p.add_argument("--episodes", type=int, default=4096, help="random drops to run (default 4096)")
    p.add_argument("--seed", type=int, default=1000, help="start seed, not an evaluation seed (default 1000)")
    p.add_argument("--per-failure", type=int, default=4, help="states kept per failed episode (default 4)")
    p.add_argument("--from-s", type=float, default=4.0,
                   help="keep states from this time (s) to the episode's end (default 4)")
    p.add_argument("--out", type=Path, default=common.REPO / "runs" / "stall_starts" / "goal.npz",
                   help="the bank (.npz) to write (default runs/stall_starts/goal.npz)")
    p.add_argument("--replay", type=Path, metavar="POLICY",
                   help="instead: restart POLICY from the bank (--bank) and print its success rate")
    p.add_argument("--bank", type=Path, default=common.REPO / "runs" / "stall_starts" / "goal.npz",
                   help="with --replay: the bank (default runs/stall_starts/goal.npz)")
    p.add_argument("--restarts", type=int, default=1024, help="with --replay: episodes (default 1024)")
    args = p.parse_args(argv)
    try:
        if args.replay:
            if args.restarts < 1:
                raise UserError("--restarts must be at least 1")
            rate = replay(args.replay, args.bank, args.restarts, seed=7)
            print(f"{args.replay}: {rate:.1%} of {args.restarts} restarts from {args.bank} succeed")
            return 0
        if args.episodes < 1 or args.per_failure < 1:
            raise UserError("--episodes and --per-failure must be at least 1")
        out = collect(args.policy, args.episodes, args.seed, args.per_failure, args.from_s)
        start_bank.save(args.out, out["bank"])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = out["bank"]["qpos"].shape[0]
    print(f"{out['failures']} of {out['episodes']} episodes failed ({out['failures'] / out['episodes']:.1%}); "
          f"{size} states -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
