"""SHAC's actor gradient against its horizon: how noisy it is, how often it is not finite, and
what one costs, with and without the per-step cotangent damping.

From the same batch of envs (a fresh SHAC train state: random drops with staggered clocks, the
initial policy and critic, the `upright` env with the stand-in noise), the per-env gradients of
the window objective that `orient_jax/rl/shac.py` follows are taken for each horizon H and each
damping factor (`grad_decay`, 1 = the exact gradient). Reported per (H, decay):

- relative variance: E|g_i - mean g|^2 / |mean g|^2 over the envs (how many envs' worth of
  gradient one needs for a usable direction: higher is noisier);
- the median per-env gradient norm (the adjoint blowing up through contacts shows here);
- the share of envs whose gradient is not finite (SHAC masks them);
- seconds per batch gradient (forward and backward through MJX; the wall-clock price of H).

    .venv/bin/python experiments/shac_gradients.py [--horizons 8 16 32 64] [--envs 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import add_output_args, markdown_table, run_cli, write_results

NAME = "shac_gradients"


def measure(horizon: int, envs: int, decays: list[float], seed: int) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from orient_jax import sim
    from orient_jax.rl.presets import preset
    from orient_jax.rl.shac import SHAC
    from orient_jax.sim import trajopt

    env = sim.load("upright", sim.default_config("upright"))
    shac = SHAC(env, preset("quick", "shac", num_envs=envs, horizon=horizon))
    ts = shac.init(jax.random.PRNGKey(seed))
    eps = jax.random.normal(jax.random.PRNGKey(seed + 1), (envs, horizon, env.action_size))
    grad = jax.vmap(jax.grad(lambda *a: shac._env_objective(*a)[0]), in_axes=(None, None, 0, 0, 0, None))

    @jax.jit
    def per_env(decay):
        g = grad(ts.params.actor, ts.params, ts.env_state, eps, ts.episode_return, decay)
        return jnp.concatenate([x.reshape(envs, -1) for x in jax.tree.leaves(g)], axis=1)

    rows = []
    with trajopt.bounded_solver(int(env.mj_model.opt.iterations)):
        jax.block_until_ready(per_env(jnp.float32(1.0)))  # compile once for every decay
        for decay in decays:
            t = time.perf_counter()
            g = np.asarray(jax.block_until_ready(per_env(jnp.float32(decay))), np.float64)
            seconds = time.perf_counter() - t
            finite = np.all(np.isfinite(g), axis=1)
            ok = g[finite]
            mean = ok.mean(axis=0) if len(ok) else np.full(g.shape[1], np.nan)
            rel_var = float(np.mean(np.sum((ok - mean) ** 2, axis=1)) / max(np.sum(mean ** 2), 1e-30)) if len(ok) else np.nan
            rows.append({"horizon": horizon, "decay": decay, "relative_variance": rel_var,
                         "median_norm": float(np.median(np.linalg.norm(ok, axis=1))) if len(ok) else np.nan,
                         "non_finite": float(1 - finite.mean()), "seconds": seconds})
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--horizons", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--decays", type=float, nargs="+", default=[1.0, 0.9])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    add_output_args(parser)
    args = parser.parse_args(argv)
    rows = [r for h in args.horizons for r in measure(h, args.envs, args.decays, args.seed)]
    table = markdown_table(["horizon (control steps)", "grad_decay", "relative variance", "median per-env norm",
                            "non-finite envs", "s per batch gradient"],
                           [[r["horizon"], f"{r['decay']:g}", f"{r['relative_variance']:.3g}", f"{r['median_norm']:.3g}",
                             f"{100 * r['non_finite']:.0f} %", f"{r['seconds']:.2f}"] for r in rows], align="rrrrrr")
    fig = plot(rows)
    notes = (f"{args.envs} envs of a fresh SHAC train state (seed {args.seed}): the initial policy and critic, random "
             "drops with staggered clocks; one set of action noise per horizon. Relative variance = E|g_i - g|^2 / |g|^2 "
             "over the envs' finite gradients: the number of envs whose mean has a relative error of 1 (SHAC "
             "averages 64). Seconds on the 2-core CPU, after the compile, possibly shared with other work.")
    write_results(args.out, NAME, table, {"envs": args.envs, "seed": args.seed, "rows": rows}, fig, notes)
    return 0


def plot(rows: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for decay in sorted({r["decay"] for r in rows}, reverse=True):
        sel = [r for r in rows if r["decay"] == decay]
        h = [r["horizon"] for r in sel]
        label = "exact (decay 1)" if decay == 1.0 else f"damped (decay {decay:g})"
        axes[0].plot(h, [r["relative_variance"] for r in sel], "o-", label=label)
        axes[1].plot(h, [r["median_norm"] for r in sel], "o-", label=label)
        axes[2].plot(h, [r["seconds"] for r in sel], "o-", label=label)
    for ax, title in zip(axes, ("relative variance of the per-env gradient", "median per-env gradient norm",
                                "seconds per batch gradient")):
        ax.set(xscale="log", yscale="log", xlabel="horizon (control steps)", title=title)
        ax.set_xticks(sorted({r["horizon"] for r in rows}), [str(x) for x in sorted({r["horizon"] for r in rows})])
        ax.grid(alpha=0.3, which="both")
    axes[0].legend()
    fig.suptitle("SHAC's actor gradient through MJX vs its horizon")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    run_cli(main)
