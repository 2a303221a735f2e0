"""How far is the shipped upright policy from the fastest possible time to upright?

A near-optimal reference: for each of N seeded starts (the upright env's own reset
distribution, observation noise off, nominal physics), an open-loop torque sequence is optimized
by Adam through differentiable MJX (`orient_jax.sim.trajopt`: vmapped over starts and restarts,
scanned over time and over Adam steps, in one jit), one restart warm-started from the policy's
own torques. Each restart's best sequence is replayed in the same env with its success rule
(zero torque after the horizon); the earliest success is compared with the policy's, closed loop
from the same start.

    .venv/bin/python experiments/trajopt_reference.py [--starts 16] [--horizon-s 2] [--iters 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from common import REPO, add_output_args, markdown_table, write_results, run_cli

NAME = "trajopt_reference"


def main(argv=None) -> int:
    from orient_jax.sim.trajopt import TrajoptConfig

    d = TrajoptConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=16, help="seeded random starts")
    parser.add_argument("--horizon-s", type=float, default=d.horizon_s, help="optimized torque sequence length (s)")
    parser.add_argument("--iters", type=int, default=d.iters, help="Adam steps")
    parser.add_argument("--restarts", type=int, default=d.restarts, help="initial sequences per start (best kept)")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    parser.add_argument("--grad-decay", type=float, default=d.grad_decay,
                        help="per-control-step damping of the gradient through the state (1 = exact)")
    parser.add_argument("--seed", type=int, default=0, help="start i is env.reset(fold_in(PRNGKey(seed), i))")
    parser.add_argument("--policy", type=Path, default=REPO / "models" / "checkpoints" / "upright",
                        help="policy artifact folder (policy.json + params/)")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.starts < 1 or args.iters < 1 or args.restarts < 1 or not 0 < args.horizon_s <= 10:
        parser.error("--starts, --iters, --restarts must be >= 1 and 0 < --horizon-s <= 10")

    from orient_jax.errors import UserError
    from orient_jax.rl.checkpoint import load_policy

    artifact = load_policy(args.policy)
    if artifact.env_name != "upright":
        raise UserError(f"{args.policy} is a {artifact.env_name!r} policy; this experiment needs an upright one")
    config = dataclasses.replace(d, horizon_s=args.horizon_s, iters=args.iters, restarts=args.restarts,
                                 lr=args.lr, grad_decay=args.grad_decay)
    result = run(artifact, config, args.starts, args.seed)
    table, data, fig, notes = report(result, config, args)
    write_results(args.out, NAME, table, data, fig, notes)
    return 0


def run(artifact, config, n_starts: int, seed: int) -> dict:
    import jax
    import jax.numpy as jnp

    from orient_jax import sim
    from orient_jax.rl.evaluate import without_noise
    from orient_jax.rl.policy import obs_policy_fn
    from orient_jax.sim import trajopt

    env_config = without_noise(sim.default_config("upright"))
    env_config = dataclasses.replace(env_config, randomization=dataclasses.replace(env_config.randomization, enabled=False))
    env = sim.load("upright", env_config)
    base = jax.random.PRNGKey(seed)
    states = jax.vmap(env.reset)(jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n_starts)))
    dt = env_config.control_dt
    timings = {}

    t0 = time.time()
    ok, step, tilt_pol, policy_actions = jax.device_get(trajopt.make_closed_loop(env, obs_policy_fn(artifact))(states))
    policy_t = np.where(ok, step * dt, np.nan)
    timings["policy_s"] = time.time() - t0
    print(f"policy: {ok.sum()}/{n_starts} solved, median {np.nanmedian(policy_t) if ok.any() else float('nan'):.2f} s "
          f"({timings['policy_s']:.0f} s)", flush=True)

    t0 = time.time()
    steps = trajopt.horizon_steps(env, config)
    params0 = trajopt.initial_params(jax.random.fold_in(base, 10_000_019), n_starts, config.restarts, steps,
                                     config.init_std)
    if config.restarts > 1:  # restart 1 starts from the policy's own torques: a local improvement of it
        params0 = params0.at[:, 1].set(trajopt.actions_to_params(jnp.asarray(policy_actions[:, :steps])))
    out = jax.device_get(trajopt.make_optimizer(env, config)(states.data, params0))
    timings["optimize_s"] = time.time() - t0
    print(f"optimized {n_starts} x {config.restarts} sequences x {config.iters} steps ({timings['optimize_s']:.0f} s)",
          flush=True)

    # Replay every restart's best sequence; per start keep the one that succeeds first.
    t0 = time.time()
    R = config.restarts
    flat = jnp.tanh(jnp.asarray(out["restart_params"]).reshape((n_starts * R,) + out["restart_params"].shape[2:]))
    rep_states = jax.tree.map(lambda x: jnp.repeat(x, R, axis=0), states)
    ok_r, step_r, tilt_r = jax.device_get(trajopt.make_replay(env)(rep_states, flat))
    t_r = np.where(ok_r, step_r * dt, np.inf).reshape(n_starts, R)
    pick = np.argmin(t_r, axis=1)
    trajopt_t = np.take_along_axis(t_r, pick[:, None], axis=1)[:, 0]
    trajopt_t[~np.isfinite(trajopt_t)] = np.nan
    tilt_t = tilt_r.reshape((n_starts, R) + tilt_r.shape[1:])[np.arange(n_starts), pick]
    timings["replay_s"] = time.time() - t0
    return {"policy_t": policy_t, "trajopt_t": trajopt_t, "loss_curve": out["loss_curve"], "winning_restart": pick,
            "best_loss": out["best_loss"], "restart_loss": out["restart_loss"],
            "start_tilt_deg": np.degrees(jax.device_get(jax.vmap(lambda q: trajopt.rotations.tilt(trajopt.rotations.from_mujoco(q)))(states.data.qpos[:, 3:7]))),
            "tilt_policy": tilt_pol, "tilt_trajopt": tilt_t, "dt": dt, "timings": timings}


def _stats(t: np.ndarray) -> tuple[float, float]:
    s = t[np.isfinite(t)]
    return (float(np.median(s)), float(np.percentile(s, 90))) if s.size else (float("nan"), float("nan"))


def report(r: dict, config, args):
    pol, traj = r["policy_t"], r["trajopt_t"]
    both = np.isfinite(pol) & np.isfinite(traj)
    ratio = pol[both] / traj[both]
    tm, tp = _stats(traj)
    pm, pp = _stats(pol)
    n = len(pol)
    row = [n, f"{tm:.2f}", f"{tp:.2f}", f"{pm:.2f}", f"{pp:.2f}",
           f"{np.median(ratio):.2f}" if ratio.size else "n/a", f"{np.isfinite(traj).sum()}/{n}", f"{np.isfinite(pol).sum()}/{n}"]
    table = markdown_table(
        ["starts", "trajopt median (s)", "trajopt p90 (s)", "policy median (s)", "policy p90 (s)",
         "median ratio policy/trajopt", "trajopt solves", "policy solves"], [row], align="r" * 8)
    fig = plot(r)
    faster = int(np.sum(pol[both] < traj[both]))
    won = np.bincount(r["winning_restart"], minlength=config.restarts)
    wins = ", ".join(f"{name} {n}" for name, n in zip(["zero", "policy warm start"] + ["random"] * config.restarts, won)
                     if n) if config.restarts > 1 else f"zero {won[0]}"
    notes = NOTES.format(h=config.horizon_s, it=config.iters, R=config.restarts, lr=config.lr, g=config.grad_decay,
                         w=config.ang_vel_weight, sw=config.success_weight, both=int(both.sum()), faster=faster,
                         improved=int(np.sum(traj[both] < pol[both] - 1e-9)), wins=wins,
                         opt_min=r["timings"]["optimize_s"] / 60)
    data = {"config": dataclasses.asdict(config), "starts": n, "seed": args.seed,
            "trajopt_time_s": [None if not np.isfinite(x) else float(x) for x in traj],
            "policy_time_s": [None if not np.isfinite(x) else float(x) for x in pol],
            "start_tilt_deg": r["start_tilt_deg"].tolist(),
            "ratio_policy_over_trajopt": ratio.tolist(),
            "summary": {"trajopt_median_s": tm, "trajopt_p90_s": tp, "policy_median_s": pm, "policy_p90_s": pp,
                        "median_ratio": float(np.median(ratio)) if ratio.size else None,
                        "trajopt_solved": int(np.isfinite(traj).sum()), "policy_solved": int(np.isfinite(pol).sum()),
                        "policy_faster_starts": faster},
            "best_loss": r["best_loss"].tolist(), "restart_best_loss": r["restart_loss"].tolist(),
            "loss_curve_mean": r["loss_curve"].min(axis=2).mean(axis=1).tolist(),
            "timings_s": r["timings"]}
    return table, data, fig, notes


def plot(r: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pol, traj = r["policy_t"], r["trajopt_t"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax = axes[0]
    miss = 10.5  # where an unsolved start is drawn
    x, y = np.nan_to_num(traj, nan=miss), np.nan_to_num(pol, nan=miss)
    ax.scatter(x, y, c=r["start_tilt_deg"], cmap="viridis", vmin=0, vmax=180, edgecolor="k", zorder=3)
    hi = max(1.0, float(np.max(np.concatenate([x, y]))) * 1.08)
    ax.plot([0, hi], [0, hi], "k--", lw=1, label="y = x")
    ax.set(xlim=(0, hi), ylim=(0, hi), xlabel="trajopt time to success (s)", ylabel="policy time to success (s)",
           title=f"per start (unsolved drawn at {miss} s); colour: start tilt")
    fig.colorbar(ax.collections[0], ax=ax, label="start tilt (deg)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    ax = axes[1]
    curve = r["loss_curve"]  # (iters + 1, N, R)
    best_so_far = np.minimum.accumulate(curve, axis=0).min(axis=2)  # best over restarts, per start
    it = np.arange(curve.shape[0])
    for k in range(curve.shape[1]):
        ax.plot(it, curve[:, k].min(axis=1), color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(it, best_so_far.mean(axis=1), color="tab:red", lw=2.5, label="best so far, mean over starts")
    ax.set(yscale="log", xlabel="Adam step", ylabel="loss: mean per-step cost over the horizon",
           title="loss per start (best restart at each step)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


NOTES = """\
Starts: the upright env's reset (uniform random orientation dropped from the spawn height),
observation noise off, domain randomization off (nominal physics), the same starts for both.
Times are when the successful 1 s hold began (tilt <= 10 deg, |omega| <= 0.5 rad/s); medians and
p90 are over solved starts; the ratio is over the {both} starts both solve. The optimized
sequence succeeds earlier than the policy on {improved} of them; the policy is faster on {faster}.

Trajopt: {R} restarts per start (restart 0 all-zero torque, restart 1 the policy's own closed-loop
torques, others smooth random), horizon {h:g} s, {it} Adam steps (lr {lr:g}), loss = mean over the
horizon of 1 - cos(tilt) + {w:g}|omega|^2 + {sw:g}(1 - exp(-(tilt/10 deg)^2 - (|omega|/0.5)^2)) (the last
term: a soft "not yet succeeded"); each restart's best iterate is replayed open loop in the env
(zero torque after the horizon) and the one that succeeds first is kept (won: {wins}).
Optimization took {opt_min:.1f} min. What made the gradients usable: (1) MJX's constraint
solver loop, a `while_loop` that reverse mode refuses, is traced as MJX's own fixed-length scan,
so gradients are exact for the env's physics (`iterations=1`, the loop-free path, blows up on
landing); (2) gradient damping: the cotangent flowing back through the state is multiplied by
{g:g} per 20 ms control step (identity forward), so each step's cost credits mostly the last
~0.1 s of torques. Undamped (1.0), gradient norms jump by 1e3..1e4 between neighbouring
iterates and Adam does not settle (loss at 80 steps 0.8 vs 0.08 at 0.8 on a 6-start trial;
0.95 and 0.9 were in between); (3) per-(start, restart) clipping and Adam, keeping each restart's
best iterate. The reference is a local optimum, not a certificate: a ratio above 1 is time the
policy leaves on the table against gradient-based planning with the same physics.
"""


if __name__ == "__main__":
    run_cli(main)
