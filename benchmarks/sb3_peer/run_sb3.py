"""Stable-Baselines3 PPO on orient_gym.OrientUprightEnv (C MuJoCo), timed to 95% success.

Runs in the peer venv (Python 3.11, CPU torch), normally started by
benchmarks/time_to_solve.py. Logs one JSON line per rollout to --log: wall-clock seconds
since the start (taken just before the envs are built, like time_to_solve.py's clock for
orient_jax, which starts just before `train_and_evaluate` builds its env), env steps, and the
success rate over the most recent --window completed episodes. Stops as soon as that rolling
success reaches --target with at least --window episodes (checked after every vector step
on which an episode ended), when --time-budget-s is spent, or after --total-steps. The last
line printed on stdout is a JSON summary with time_to_95_s (null if not reached) and steps.

Hyperparameters mirror orient_jax's PPO where SB3 allows: separate actor [128, 128] and
critic [256, 256] tanh MLPs, orthogonal init, log-std init -0.5, lr 1e-3 decaying linearly
to 10% over --total-steps, gamma 0.99, GAE 0.95, clip 0.2, 4 epochs, minibatch 2048,
max grad norm 1.0, no entropy bonus, per-minibatch advantage normalization, running
observation normalization (VecNormalize, obs only, clip 10), time-limit bootstrapping.
8 envs x 256 steps = 2048 samples per rollout at batch 2048 gives one gradient step per 512
samples, as orient_jax's `quick` preset (512 envs x 32 steps / 8 minibatches x 4 epochs).

    benchmarks/sb3_peer/.venv/bin/python benchmarks/sb3_peer/run_sb3.py --noise-model POSE.json \
        --time-budget-s 600 --log sb3.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--noise-model", required=True, help="pose-error model JSON (orient_jax.sim.noise format)")
    p.add_argument("--log", default=None, help="JSON-lines log file (default: none, summary on stdout only)")
    p.add_argument("--time-budget-s", type=float, default=1800.0, help="wall-clock budget (s), default 1800")
    p.add_argument("--total-steps", type=int, default=6_000_000,
                   help="env-step cap, also the horizon of the learning-rate decay (default 6e6 = orient_jax `quick`)")
    p.add_argument("--target", type=float, default=0.95, help="rolling success to reach (default 0.95)")
    p.add_argument("--window", type=int, default=200, help="episodes in the rolling success window (default 200)")
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument("--vec-env", choices=("dummy", "subproc"), default="dummy",
                   help="DummyVecEnv (default) or SubprocVecEnv. On 2 cores Dummy measured ~4,000 env steps/s vs "
                        "~1,000-2,000 for Subproc (+17 s to start 8 workers): one env step is ~140 us of C MuJoCo + "
                        "Python, less than the pipe round trip and pickling that Subproc adds per step, and 8 worker "
                        "processes on 2 cores mostly wait for each other")
    p.add_argument("--n-steps", type=int, default=256, help="rollout length per env")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--n-epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (decays linearly to --lr-final-frac of it)")
    p.add_argument("--lr-final-frac", type=float, default=0.1)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--log-std-init", type=float, default=-0.5)
    p.add_argument("--threads", type=int, default=2, help="torch threads for the gradient steps (default 2)")
    p.add_argument("--rollout-threads", type=int, default=1,
                   help="torch threads while collecting rollouts (default 1: an 8-row forward pass is slower on 2)")
    p.add_argument("--no-stagger", action="store_true",
                   help="do not start each env's first episode at a random step (orient_jax's PPO staggers)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Workers of SubprocVecEnv (forkserver) must find orient_gym.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    sys.path.insert(0, str(HERE))

    # OpenMP's default busy-wait makes a 2-thread torch forward pass ~1000x slower whenever the
    # 2 cores are shared (with the env workers or anything else): wait passively instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    import orient_gym

    torch.set_num_threads(args.threads)
    log_file = open(args.log, "a") if args.log else None

    def emit(record: dict) -> None:
        if log_file:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()

    class Tracker(BaseCallback):
        """Rolling success over the last `window` finished episodes; stops at target/budget."""

        def __init__(self, t0: float):
            super().__init__()
            self.t0 = t0
            self.success = collections.deque(maxlen=args.window)
            self.returns = collections.deque(maxlen=args.window)
            self.episodes = 0
            self.solved: dict | None = None
            self.timed_out = False

        def rolling(self):
            return float(np.mean(self.success)) if self.success else None

        def record(self) -> dict:
            elapsed = time.perf_counter() - self.t0
            logged = self.model.logger.name_to_value
            return {"time_s": round(elapsed, 3), "env_steps": int(self.num_timesteps), "episodes": self.episodes,
                    "rolling_success": self.rolling(), "window_episodes": len(self.success),
                    "return_mean": float(np.mean(self.returns)) if self.returns else None,
                    "steps_per_s": round(self.num_timesteps / max(elapsed, 1e-9), 1),
                    **{k.split("/")[-1]: float(v) for k, v in logged.items()
                       if k in ("train/approx_kl", "train/std", "train/explained_variance", "train/clip_fraction")}}

        def _on_step(self) -> bool:
            dones = self.locals["dones"]
            if dones.any():
                infos = self.locals["infos"]
                for i in np.flatnonzero(dones):
                    self.success.append(bool(infos[i].get("is_success", False)))
                    if "episode" in infos[i]:
                        self.returns.append(float(infos[i]["episode"]["r"]))
                    self.episodes += 1
                if len(self.success) >= args.window and self.rolling() >= args.target:
                    self.solved = self.record()
                    emit({**self.solved, "event": "solved"})
                    return False
            if time.perf_counter() - self.t0 > args.time_budget_s:
                self.timed_out = True
                return False
            return True

        def _on_rollout_start(self) -> None:
            torch.set_num_threads(args.rollout_threads)

        def _on_rollout_end(self) -> None:
            torch.set_num_threads(args.threads)
            emit(self.record())

    t0 = time.perf_counter()
    thunks = [(lambda i=i: Monitor(orient_gym.make_env(args.noise_model, seed=args.seed + i,
                                                       stagger_first_episode=not args.no_stagger)()))
              for i in range(args.n_envs)]
    venv = SubprocVecEnv(thunks) if args.vec_env == "subproc" else DummyVecEnv(thunks)
    venv = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=10.0, gamma=args.gamma)
    lr0, frac = args.lr, args.lr_final_frac
    model = PPO(
        "MlpPolicy", venv, learning_rate=lambda progress_remaining: lr0 * (frac + (1 - frac) * progress_remaining),
        n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs, gamma=args.gamma,
        gae_lambda=args.gae_lambda, clip_range=args.clip, ent_coef=0.0, vf_coef=0.5, max_grad_norm=args.max_grad_norm,
        stats_window_size=args.window, seed=args.seed, device="cpu", verbose=0,
        policy_kwargs=dict(net_arch=dict(pi=[128, 128], vf=[256, 256]), activation_fn=torch.nn.Tanh,
                           log_std_init=args.log_std_init, ortho_init=True))
    tracker = Tracker(t0)
    model.learn(total_timesteps=args.total_steps, callback=tracker, log_interval=None, progress_bar=False)
    elapsed = time.perf_counter() - t0
    venv.close()
    final = tracker.record()
    final["time_s"] = round(elapsed, 3)
    summary = {
        "final": True, "framework": "stable-baselines3", "time_to_95_s": tracker.solved["time_s"] if tracker.solved else None,
        "steps_to_95": tracker.solved["env_steps"] if tracker.solved else None,
        "env_steps": final["env_steps"], "elapsed_s": final["time_s"],
        "steps_per_s": round(final["env_steps"] / max(elapsed, 1e-9), 1), "episodes": final["episodes"],
        "rolling_success": final["rolling_success"], "stopped_by": "target" if tracker.solved else (
            "time_budget" if tracker.timed_out else "total_steps"),
        "config": {k: v for k, v in vars(args).items() if k not in ("log",)},
        "versions": {"torch": torch.__version__, "stable_baselines3": __import__("stable_baselines3").__version__,
                     "mujoco": __import__("mujoco").__version__, "python": sys.version.split()[0]},
    }
    emit(summary)
    if log_file:
        log_file.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
