"""Can a goal policy's stalls be escaped, and is there an escape to teach it?

Restarts the policy from random rows of a stall bank (`experiments/collect_stall_starts.py`),
each with the whole episode to go, `--pushes` times per row: once as it is, and otherwise
after a push (a constant random torque held for 0.1-1.5 s) before the policy takes over again.
The table gives the success after a push by its direction relative to the torque the policy
was stalled with, and by its duration. If some pushes worked much better than others, they
would be an escape to demonstrate; if all work about equally, a push is only a second try.

`--distill DIR` then tests the demonstration route directly: for each row that fails without
a push and succeeds after one, the fastest-succeeding push is a demonstration (observed
features -> its torque over the push), cloned into the policy's actor together with the
policy's own actions in successful episodes (drops at seed 2000, no evaluation's) so that the
rest of its behaviour stays. The cloned policy is written to DIR: `orient-jax eval --policy DIR`.

    .venv/bin/python experiments/stall_escape.py [--policy models/checkpoints/goal]
        [--bank runs/stall_starts/goal.npz] [--rows 128] [--pushes 32] [--distill DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import common

MIN_PUSH_STEPS, MAX_PUSH_STEPS = 5, 75  # 0.1-1.5 s at the 0.02 s control step


def load_goal_policy(policy_dir: Path):
    """The policy artifact, refused unless it is a goal policy (stall banks are goal states)."""
    from orient_jax.errors import UserError
    from orient_jax.rl.checkpoint import load_policy

    artifact = load_policy(policy_dir)
    if artifact.env_name != "goal":
        raise UserError(f"{policy_dir} is a {artifact.env_name!r} policy; stall banks are for 'goal'")
    return artifact


def pushed_restarts(artifact, bank: Path, rows: int, pushes: int, seed: int) -> dict:
    """(rows, pushes) outcomes of bank restarts; push 0 of every row is no push.

    Returns success, success_step, the push torque (rows, pushes, 3) and duration (steps), the
    torque the policy was stalled with (rows, 3) and the policy features over the first
    MAX_PUSH_STEPS steps, the longest push (rows, pushes, MAX_PUSH_STEPS, F).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import sim
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.policy import obs_policy_fn

    env = sim.load("goal", dataclasses.replace(ev.evaluation_config(artifact.env_config),
                                               stall_start_fraction=1.0, stall_starts=str(bank)))
    policy = obs_policy_fn(artifact)

    @jax.jit
    def restart(key):
        k_reset, k_torque, k_steps = jax.random.split(key, 3)
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (pushes,) + x.shape), env.reset(k_reset))
        u = jax.random.uniform(k_torque, (pushes, 3), minval=-1.0, maxval=1.0)
        torque = jnp.sign(u) * jnp.sqrt(jnp.abs(u))  # more of the pushes near the torque limit
        steps = jax.random.randint(k_steps, (pushes,), MIN_PUSH_STEPS, MAX_PUSH_STEPS + 1).at[0].set(0)

        def body(s, t):
            action = jnp.where((t < steps)[:, None], torque, policy(s.obs))
            return jax.vmap(env.step)(s, action), env.policy_features(s.obs)

        final, features = jax.lax.scan(body, state, jnp.arange(env.episode_steps))
        return dict(success=final.info["success"], success_step=final.info["success_step"], torque=torque,
                    steps=steps, stalled_torque=state.info["prev_action"][0],
                    features=jnp.swapaxes(features[:MAX_PUSH_STEPS], 0, 1))

    keys = jax.random.split(jax.random.PRNGKey(seed), rows)
    return jax.tree.map(np.asarray, jax.lax.map(restart, keys))


def summarize(r: dict) -> dict:
    import numpy as np

    success, torque, steps = r["success"][:, 1:], r["torque"][:, 1:], r["steps"][:, 1:]
    stalled = r["stalled_torque"][:, None, :]
    cosine = (torque * stalled).sum(-1) / (np.linalg.norm(torque, axis=-1) * np.linalg.norm(stalled, axis=-1) + 1e-9)
    by_direction = [(f"{lo:+.1f} to {hi:+.1f}", (cosine >= lo) & (cosine < hi))
                    for lo, hi in ((-1.0, -0.5), (-0.5, 0.0), (0.0, 0.5), (0.5, 1.01))]
    by_duration = [(f"{lo * 0.02:.1f}-{hi * 0.02:.1f} s", (steps >= lo) & (steps < hi))
                   for lo, hi in ((5, 20), (20, 40), (40, 60), (60, 76))]
    group = lambda groups: [{"group": name, "pushes": int(m.sum()),
                             "success_rate": float(success[m].mean()) if m.any() else None} for name, m in groups]
    per_row = success.mean(1)
    return {"rows": int(success.shape[0]), "pushes_per_row": int(success.shape[1]),
            "no_push_success_rate": float(r["success"][:, 0].mean()),
            "push_success_rate": float(success.mean()),
            "rows_escaped_by_some_push": float(success.any(1).mean()),
            "rows_by_push_success": {"under 20%": float((per_row < 0.2).mean()),
                                     "20-80%": float(((per_row >= 0.2) & (per_row <= 0.8)).mean()),
                                     "over 80%": float((per_row > 0.8).mean())},
            "by_direction": group(by_direction), "by_duration": group(by_duration)}


def demonstrations(r: dict):
    """(features, torque) over the fastest successful push of each row the policy fails unpushed."""
    import numpy as np

    success = r["success"].copy()
    success[:, 0] = False
    rows = np.flatnonzero(~r["success"][:, 0] & success.any(1))
    step = np.where(success, r["success_step"], np.iinfo(np.int32).max)[rows]
    best = step.argmin(1)
    steps = r["steps"][rows, best]
    mask = np.arange(MAX_PUSH_STEPS)[None, :] < steps[:, None]  # (D, MAX_PUSH_STEPS): the push's steps
    features = r["features"][rows, best][mask]
    torque = np.broadcast_to(r["torque"][rows, best][:, None, :], mask.shape + (3,))[mask]
    return features, torque


def own_actions(artifact, episodes: int, seed: int, stride: int = 5):
    """(features, action) every `stride` steps of the policy's successful episodes from drops."""
    import jax
    import numpy as np

    from orient_jax import sim
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.policy import obs_policy_fn

    env = sim.load("goal", ev.evaluation_config(artifact.env_config))
    policy = obs_policy_fn(artifact)

    @jax.jit
    def run(keys):
        state = jax.vmap(env.reset)(keys)

        def body(s, _):
            action = policy(s.obs)
            return jax.vmap(env.step)(s, action), (env.policy_features(s.obs), action)

        final, (features, actions) = jax.lax.scan(body, state, None, length=env.episode_steps)
        return final.info["success"], features[::stride], actions[::stride]

    success, features, actions = map(np.asarray, run(jax.random.split(jax.random.PRNGKey(seed), episodes)))
    return features[:, success].reshape(-1, features.shape[-1]), actions[:, success].reshape(-1, 3)


def distill(artifact, demos, anchors, escape_weight: float, steps: int, seed: int = 3):
    """Behaviour cloning from the policy's own parameters: mean squared action error on anchors
    plus `escape_weight` x that on the demonstrations. Returns the new artifact and last losses."""
    import jax
    import jax.numpy as jnp
    import optax

    from orient_jax.rl.networks import Actor

    actor = Actor(artifact.ppo_config.actor_hidden, 3, artifact.ppo_config.init_log_std)
    norm = artifact.obs_norm
    (xd, yd), (xa, ya) = [(jnp.asarray(x), jnp.asarray(y)) for x, y in (demos, anchors)]
    optimizer = optax.adam(1e-4)

    def loss(params, key):
        k_a, k_d = jax.random.split(key)
        ia, idx = jax.random.randint(k_a, (1024,), 0, xa.shape[0]), jax.random.randint(k_d, (256,), 0, xd.shape[0])
        err = lambda x, y: jnp.square(actor.apply(params, norm.normalize(x))[0] - y).sum(-1).mean()
        anchor, demo = err(xa[ia], ya[ia]), err(xd[idx], yd[idx])
        return anchor + escape_weight * demo, (anchor, demo)

    def step(carry, key):
        params, opt_state = carry
        (_, aux), grads = jax.value_and_grad(loss, has_aux=True)(params, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), aux

    params = artifact.actor_params
    (params, _), (anchor, demo) = jax.jit(lambda p: jax.lax.scan(
        step, (p, optimizer.init(p)), jax.random.split(jax.random.PRNGKey(seed), steps)))(params)
    return dataclasses.replace(artifact, actor_params=params, metrics={}), float(anchor[-1]), float(demo[-1])


def main(argv=None) -> int:
    from orient_jax.errors import UserError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, default=common.REPO / "models" / "checkpoints" / "goal",
                   help="goal policy artifact (default models/checkpoints/goal)")
    p.add_argument("--bank", type=Path, default=common.REPO / "runs" / "stall_starts" / "goal.npz",
                   help="stall bank from experiments/collect_stall_starts.py (default runs/stall_starts/goal.npz)")
    p.add_argument("--rows", type=int, default=128, help="bank restarts (random rows, default 128)")
    p.add_argument("--pushes", type=int, default=32, help="tries per restart, the first without a push (default 32)")
    p.add_argument("--seed", type=int, default=7, help="seed of the rows and pushes (default 7, as --replay)")
    p.add_argument("--distill", type=Path, metavar="DIR", help="also clone the escapes into the actor, write it here")
    p.add_argument("--escape-weight", type=float, default=0.1, help="with --distill: demonstrations' loss weight")
    p.add_argument("--bc-steps", type=int, default=3000, help="with --distill: Adam steps (default 3000)")
    common.add_output_args(p)
    args = p.parse_args(argv)
    try:
        if args.rows < 1 or args.pushes < 2 or args.bc_steps < 1 or args.escape_weight < 0:
            raise UserError("--rows and --bc-steps must be >= 1, --pushes >= 2, --escape-weight >= 0")
        artifact = load_goal_policy(args.policy)
        r = pushed_restarts(artifact, args.bank, args.rows, args.pushes, args.seed)
        data = summarize(r)
        if args.distill:
            demos = demonstrations(r)
            if not demos[0].size:
                raise UserError("no restart failed without a push and succeeded with one: nothing to clone")
            anchors = own_actions(artifact, episodes=512, seed=2000)
            clone, anchor_loss, demo_loss = distill(artifact, demos, anchors, args.escape_weight, args.bc_steps)
            from orient_jax.rl.checkpoint import save_policy
            save_policy(args.distill, clone)
            data["distill"] = {"out": common.rel(args.distill), "demonstration_samples": int(demos[0].shape[0]),
                               "anchor_samples": int(anchors[0].shape[0]), "escape_weight": args.escape_weight,
                               "steps": args.bc_steps, "anchor_loss": anchor_loss, "demonstration_loss": demo_loss}
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pct = lambda x: "-" if x is None else f"{x:.1%}"
    table = common.markdown_table(
        ["restarts from the bank", "success"],
        [["no push (the policy as it is)", pct(data["no_push_success_rate"])],
         [f"after a push (all {data['rows'] * (data['pushes_per_row'])} pushes)", pct(data["push_success_rate"])],
         [f"rows escaped by at least one of {data['pushes_per_row']} pushes", pct(data["rows_escaped_by_some_push"])]]
        + [[f"push direction, cosine with the stalled torque {g['group']} ({g['pushes']})", pct(g["success_rate"])]
           for g in data["by_direction"]]
        + [[f"push duration {g['group']} ({g['pushes']})", pct(g["success_rate"])] for g in data["by_duration"]]
        + [[f"rows whose pushes succeed {k}", pct(v)] for k, v in data["rows_by_push_success"].items()], align="lr")
    notes = ""
    if "distill" in data:
        d = data["distill"]
        notes = (f"Cloned into {d['out']}: {d['demonstration_samples']} demonstration samples (weight "
                 f"{d['escape_weight']}), {d['anchor_samples']} of the policy's own; final losses: own actions "
                 f"{d['anchor_loss']:.3f}, demonstrations {d['demonstration_loss']:.3f}. "
                 f"Evaluate: `orient-jax eval --policy {d['out']}`.")
    common.write_results(args.out, "stall_escape", table, {"policy": common.rel(args.policy),
                                                           "bank": common.rel(args.bank), **data}, notes=notes)
    print(table)
    if notes:
        print(notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
