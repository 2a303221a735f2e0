"""Does training against the measured pose-error model matter? Success vs observation noise.

Two `upright` policies, trained the same way (same preset, same seed), differ only in the
pose-error model their observations are corrupted with during training:

  calibrated   the model measured from the shipped pose CNN (`orient-jax eval-pose` writes it:
               models/checkpoints/pose/eval/pose_error_model.json). The README's table used
               the CNN shipped before the `full` one (median 3.87 deg, gross errors up to
               77 deg), kept as experiments/results/noise_sweep_calibrated_model.json.
  hand-picked  what a person might plausibly guess without measuring: "the CNN is good to
               about a degree", an isotropic Gaussian rotation vector with sigma 1 deg per axis
               (error angle = sigma * chi(3): median 1.54 deg, 99th percentile 3.4 deg) and no
               gross errors. Written to <workdir>/hand_picked_model.json.

Both are then evaluated, on the same seeded starts, under the CALIBRATED model scaled by each
level (the calibrated model is what the policy meets in the browser), with the package's own
`orient_jax.rl.evaluate.rollout`. Level 0 = perfect pose estimates (the gyro noise, 0.05 rad/s,
stays on at every level, as in `orient-jax eval`'s sweep).

    .venv/bin/python experiments/noise_sweep.py                    # quick preset, 500 episodes
    .venv/bin/python experiments/noise_sweep.py --levels 0 1 2 4 --episodes 200

Training resumes (or is skipped) when <workdir>/<name>/ already holds the finished run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, markdown_table, write_results, rel, run_cli

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from orient_jax.errors import UserError

NAME = "noise_sweep"
CALIBRATED = REPO / "models" / "checkpoints" / "pose" / "eval" / "pose_error_model.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="quick", help="PPO preset both policies train with (default quick)")
    p.add_argument("--seed", type=int, default=0, help="training seed of both policies and seed of the evaluation starts")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "noise-sweep",
                   help="run folders <workdir>/calibrated and <workdir>/hand-picked (default runs/noise-sweep)")
    p.add_argument("--episodes", type=int, default=500, help="evaluation episodes per policy and level (default 500)")
    p.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 3.0, 4.0],
                   help="evaluation noise levels, x the calibrated model (default 0 0.5 1 2 3 4)")
    p.add_argument("--calibrated-model", type=Path, default=CALIBRATED,
                   help=f"measured pose-error model (default {CALIBRATED.relative_to(REPO)})")
    p.add_argument("--hand-sigma-deg", type=float, default=1.0,
                   help="per-axis sigma (deg) of the hand-picked isotropic Gaussian model (default 1)")
    add_output_args(p)
    return p.parse_args(argv)


def hand_picked_model(sigma_deg: float):
    """Isotropic Gaussian rotation vector, `sigma_deg` per axis, no gross errors: the error
    angle is sigma * chi(3). The 100% quantile (infinite) is capped at the 99.99% one."""
    import numpy as np
    from scipy import stats

    from orient_jax.sim import noise as noise_lib

    probs = np.minimum(np.linspace(0, 1, 101), 0.9999)
    q = np.minimum(sigma_deg * stats.chi(3).ppf(probs), 180.0)
    return noise_lib.PoseErrorModel(tuple(float(v) for v in q), source=f"hand-picked: isotropic Gaussian, sigma {sigma_deg:g} deg/axis")


def train_or_load(name: str, model_path: Path, args):
    """Train (or resume, or just load) one upright policy against `model_path` at scale 1."""
    from orient_jax import config as config_lib
    from orient_jax import sim
    from orient_jax.rl import checkpoint as ckpt_lib
    from orient_jax.rl import presets
    from orient_jax.rl.train import RunConfig, _run_record, train_and_evaluate

    env_config = sim.default_config("upright")
    env_config = dataclasses.replace(env_config, noise=dataclasses.replace(env_config.noise, model_path=str(model_path), scale=1.0))
    ppo_config = presets.preset(args.preset, seed=args.seed)
    run = RunConfig(env="upright")
    workdir = (args.workdir / name).resolve()
    policy_json = workdir / "policy" / "policy.json"
    if policy_json.is_file() and (workdir / "config.json").is_file():
        # A finished run: load it (calling train_and_evaluate again would rewrite the policy
        # with empty training metrics). check_run_record refuses a folder with another config.
        config_lib.check_run_record(workdir, _run_record(run, env_config, ppo_config))
        if json.loads(policy_json.read_text()).get("metrics", {}).get("update") == ppo_config.num_updates:
            print(f"[{name}] finished run found in {workdir}", flush=True)
            return ckpt_lib.load_policy(workdir / "policy"), None
    print(f"[{name}] training upright, preset {args.preset}, seed {args.seed}, noise model {model_path}", flush=True)
    t0 = time.perf_counter()
    artifact = train_and_evaluate(run, env_config, ppo_config, workdir, show_progress=False)
    return artifact, round(time.perf_counter() - t0, 1)


def evaluate(artifact, calibrated: Path, levels: list[float], episodes: int, seed: int, name: str) -> dict[float, dict]:
    """The package's rollout, under the calibrated model scaled by each level."""
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.policy import obs_policy_fn

    controller = obs_policy_fn(artifact)
    base = artifact.env_config
    base = dataclasses.replace(base, noise=dataclasses.replace(base.noise, model_path=str(calibrated)))
    out = {}
    for level in levels:
        t0 = time.perf_counter()
        res = ev.rollout(artifact.env_name, ev.with_noise_scale(base, level), controller, episodes, seed)
        out[level] = res.summary()
        print(f"[{name}] x{level:g}: success {out[level]['success_rate']:.1%}, median t "
              f"{out[level]['time_to_success_median_s']} s ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def plot(levels, median1, results, labels):
    """Success and median time vs level; the top axis reads the level as median pose error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, color in zip(results, ("tab:blue", "tab:orange")):
        succ = [100 * results[key][lv]["success_rate"] for lv in levels]
        tts = [results[key][lv]["time_to_success_median_s"] for lv in levels]
        axes[0].plot(levels, succ, "o-", color=color, label=labels[key])
        axes[1].plot(levels, [float("nan") if t is None else t for t in tts], "o-", color=color, label=labels[key])
    for ax in axes:
        ax.set_xlabel("observation noise (x calibrated pose-error model)")
        ax.grid(alpha=0.3)
        ax.legend()
        top = ax.secondary_xaxis("top", functions=(lambda x: x * median1, lambda x: x / median1))
        top.set_xlabel("median pose error (deg)")
    axes[0].set_ylabel("success rate (%)")
    axes[0].set_title("success vs pose noise", pad=12)
    axes[1].set_ylabel("median time to success (s)")
    axes[1].set_title("time to success vs pose noise", pad=12)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    from orient_jax.sim import noise as noise_lib

    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    if any(lv < 0 or lv > 20 for lv in args.levels):
        raise UserError("--levels must lie in [0, 20] (env.noise.scale's range)")
    calibrated_path = args.calibrated_model.resolve()
    calibrated = noise_lib.load(calibrated_path)  # UserError if missing or corrupt
    levels = sorted(set(args.levels))
    args.workdir.mkdir(parents=True, exist_ok=True)
    hand = hand_picked_model(args.hand_sigma_deg)
    hand_path = (args.workdir / "hand_picked_model.json").resolve()
    text = hand.to_json({"sigma_deg_per_axis": args.hand_sigma_deg, "gross_error_rate": 0.0})
    if not hand_path.is_file() or hand_path.read_text() != text:
        hand_path.write_text(text)
    print(f"calibrated model: median {calibrated.median_deg():.2f} deg; hand-picked: median {hand.median_deg():.2f} deg", flush=True)

    models = {"calibrated": calibrated_path, "hand-picked": hand_path}
    artifacts, train_s, results = {}, {}, {}
    for name, path in models.items():
        artifacts[name], train_s[name] = train_or_load(name, path, args)
    for name, artifact in artifacts.items():
        results[name] = evaluate(artifact, calibrated_path, levels, args.episodes, args.seed, name)

    import numpy as np

    # Median error angle at a level: angles are clip(q * level, 0, 180), so the median scales.
    medians = {lv: float(min(calibrated.median_deg() * lv, 180.0)) for lv in levels}
    pct = lambda v: f"{100 * v:.1f} %"
    sec = lambda v: "-" if v is None else f"{v:.2f}"
    rows = [[f"x{lv:g}", f"{medians[lv]:.2f}", pct(results["calibrated"][lv]["success_rate"]),
             pct(results["hand-picked"][lv]["success_rate"]), sec(results["calibrated"][lv]["time_to_success_median_s"]),
             sec(results["hand-picked"][lv]["time_to_success_median_s"])] for lv in levels]
    headers = ["noise (x calibrated)", "median pose error (deg)", "success, trained on calibrated",
               "success, trained on hand-picked", "median t (s), calibrated", "median t (s), hand-picked"]
    table = markdown_table(headers, rows, align="lrrrrr")
    half_ci = 100 * 1.96 * np.sqrt(0.25 / args.episodes)
    train_info = {name: {"training_success": artifacts[name].metrics.get("episode/success"),
                         "env_steps": artifacts[name].metrics.get("env_steps"), "train_wall_s": train_s[name]}
                  for name in artifacts}
    notes = (
        f"Two `upright` policies, preset `{args.preset}`, seed {args.seed}, identical except for the pose-error "
        f"model of their training observations: **calibrated** = `{rel(calibrated_path)}` (measured from the "
        f"shipped pose CNN, median {calibrated.median_deg():.2f} deg, max {calibrated.angle_deg_quantiles[-1]:.1f} deg) "
        f"vs **hand-picked** = an isotropic Gaussian rotation vector with sigma {args.hand_sigma_deg:g} deg per axis "
        f"and no gross errors (median {hand.median_deg():.2f} deg, max {hand.angle_deg_quantiles[-1]:.2f} deg), "
        f"a plausible unmeasured guess. Both evaluated with `orient_jax.rl.evaluate.rollout` on the same "
        f"{args.episodes} seeded starts (seed {args.seed}) per level, under the calibrated model scaled by the level "
        f"(gyro noise 0.05 rad/s at every level). Success = tilt <= 10 deg and |w| <= 0.5 rad/s held 1 s within 10 s. "
        f"95 % binomial interval at most +-{half_ci:.1f} points. Final training success (last update): "
        + ", ".join(f"{k} {_fmt_pct(v['training_success'])}" for k, v in train_info.items()) + "."
    )
    data = {"preset": args.preset, "seed": args.seed, "episodes": args.episodes, "levels": levels,
            "calibrated_model": rel(calibrated_path), "calibrated_median_deg": calibrated.median_deg(),
            "hand_picked_model": {"path": rel(hand_path), "sigma_deg_per_axis": args.hand_sigma_deg,
                                  "median_deg": hand.median_deg(), "quantiles_deg": list(hand.angle_deg_quantiles)},
            "median_pose_error_deg": {str(lv): medians[lv] for lv in levels}, "training": train_info,
            "results": {name: {str(lv): s for lv, s in res.items()} for name, res in results.items()}}
    labels = {"calibrated": "trained on calibrated model", "hand-picked": f"trained on hand-picked ({args.hand_sigma_deg:g} deg Gaussian)"}
    fig = plot(levels, calibrated.median_deg(), results, labels)
    write_results(args.out, NAME, table, data, fig, notes)
    print(table)
    return 0



def _fmt_pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


if __name__ == "__main__":
    run_cli(main)
