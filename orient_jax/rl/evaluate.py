"""Evaluation over N seeded random starts: success, time to success, final error.

Any controller `obs dict -> action (N, 3)` can be evaluated (the learned policy, the PD
baseline), on the same starts: episode i always starts from `fold_in(seed, i)`. The object is
the MJCF at `mjcf_path` (a policy's own: `PolicyArtifact.mjcf_path`); None = the built-in engine.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from orient_jax import sim
from orient_jax.sim import reflex as reflex_lib
from orient_jax.sim.base import EnvConfig, NoiseConfig

Controller = Callable[[dict], jax.Array]


@dataclasses.dataclass
class EvalResult:
    success: np.ndarray  # (N,) bool
    time_to_success: np.ndarray  # (N,) s when the successful hold began; nan where none
    final_error_deg: np.ndarray  # (N,)
    error_deg: np.ndarray  # (N, T) error angle (tilt for upright) after each control step
    control_dt: float
    reflex_pushes: np.ndarray | None = None  # (N,) pushes of the stall reflex (`env.reflex`), None without it

    def summary(self) -> dict:
        t = self.time_to_success[self.success]
        return {
            "episodes": int(self.success.size),
            "success_rate": float(self.success.mean()),
            "time_to_success_median_s": float(np.median(t)) if t.size else None,
            "time_to_success_p90_s": float(np.percentile(t, 90)) if t.size else None,
            "final_error_median_deg": float(np.median(self.final_error_deg)),
            "final_error_p95_deg": float(np.percentile(self.final_error_deg, 95)),
            **({} if self.reflex_pushes is None else {
                "reflex_pushes_mean": float(self.reflex_pushes.mean()),
                "reflex_episodes": float((self.reflex_pushes > 0).mean())}),
        }


@dataclasses.dataclass(frozen=True)
class Setting:
    """One evaluated setting: `episodes` starts, observed at this noise level, with the physics
    randomized as in training (`randomization` in the env config) or nominal (the MJCF as it
    is: the object the browser simulates)."""

    episodes: int
    noise_scale: float  # multiplies the pose-error model's angles
    ang_vel_std: float  # gyro noise std (rad/s)
    randomized_physics: bool = True


def rollout(env_name: str, env_config: EnvConfig, controller: Controller, episodes: int, seed: int,
            batch: int = 1000, mjcf_path: str | None = None) -> EvalResult:
    """Run `episodes` full episodes at `env_config`'s noise level (see `rollouts`)."""
    setting = Setting(episodes, env_config.noise.scale, env_config.noise.ang_vel_std)
    return rollouts(env_name, env_config, controller, [setting], seed, batch, mjcf_path=mjcf_path)[0]


def rollouts(env_name: str, env_config: EnvConfig, controller: Controller, settings: Sequence[Setting],
             seed: int, batch: int = 1000, mjcf_path: str | None = None) -> list[EvalResult]:
    """Full episodes (vmapped, scanned over time) for each setting, one result each.

    Episode i of every setting starts from `fold_in(seed, i)` (same drop, target and physics
    draw): the settings differ only in the noise observed and whether the physics draw is used.
    Both are per-episode data (`state.info["noise"]`, `state.info["dr"]`), so all settings run as
    one stream of equal chunks of `batch` episodes through one compiled rollout.
    Starts are always the task's uniform random drops, and targets uniform among the holdable:
    a training curriculum's other starts (`upright_start_fraction`, `rest_start_fraction`,
    `near_rest_start_fraction`, `stall_start_fraction`) are not part of what is measured."""
    per_episode = lambda field, dtype: np.concatenate([np.full(s.episodes, getattr(s, field), dtype) for s in settings])
    columns = [np.concatenate([np.arange(s.episodes) for s in settings]), per_episode("noise_scale", np.float32),
               per_episode("ang_vel_std", np.float32), per_episode("randomized_physics", bool)]
    total = columns[0].size
    chunk = min(batch, total)
    pad = -total % chunk  # equal chunks: one compile; the padding episodes are dropped
    columns = [np.pad(c, (0, pad), mode="edge") for c in columns]
    run = _compiled_rollout(env_name, evaluation_config(env_config), controller, *_mjcf_key(mjcf_path))
    base = jax.random.PRNGKey(seed)
    outs = [jax.device_get(run(base, *(jnp.asarray(c[i:i + chunk]) for c in columns)))
            for i in range(0, total + pad, chunk)]  # host loop over memory-sized chunks only
    success, success_step, errors, pushes = (np.concatenate([o[k] for o in outs]) for k in range(4))
    dt = env_config.control_dt
    results, first = [], 0
    for s in settings:
        sl = slice(first, first + s.episodes)
        first += s.episodes
        results.append(EvalResult(success=success[sl], time_to_success=np.where(success[sl], success_step[sl] * dt, np.nan),
                                  final_error_deg=errors[sl, -1], error_deg=errors[sl], control_dt=dt,
                                  reflex_pushes=pushes[sl] if env_config.reflex.enabled else None))
    return results


def evaluation_config(config: EnvConfig) -> EnvConfig:
    """The env config every evaluation rollout is compiled for: `config` with the default noise
    levels (the levels are per-episode inputs), only the task's uniform random drops as starts and
    uniform targets."""
    noise = dataclasses.replace(config.noise, scale=NoiseConfig.scale, ang_vel_std=NoiseConfig.ang_vel_std)
    starts = {name: default for name, default in _TRAINING_STARTS.items()
              if name in {f.name for f in dataclasses.fields(config)}}
    return dataclasses.replace(config, noise=noise, **starts)


# A task's training-only starts (the goal curriculum), switched off for evaluation.
_TRAINING_STARTS = {"upright_start_fraction": 0.0, "rest_start_fraction": 0.0, "near_rest_start_fraction": 0.0,
                    "stall_start_fraction": 0.0, "stall_starts": ""}


def _mjcf_key(mjcf_path: str | None) -> tuple[str | None, str | None]:
    """(path, sha256 of its content): a compiled rollout is reused only for the same physics."""
    if not mjcf_path:
        return None, None
    from orient_jax.fileio import sha256_file

    return str(Path(mjcf_path).resolve()), sha256_file(Path(mjcf_path))


@functools.lru_cache(maxsize=8)
def _compiled_rollout(env_name: str, env_config: EnvConfig, controller: Controller, mjcf_path: str | None = None,
                      mjcf_sha256: str | None = None):
    """jit(key, episode index (B,), noise scale (B,), gyro std (B,), randomized physics (B,) bool)
    -> (success (B,), success step (B,), error angle in deg (B, T), stall-reflex pushes (B,), 0 without it)."""
    env = sim.load(env_name, env_config, mjcf_path=mjcf_path)
    reset, step = jax.vmap(env.reset), jax.vmap(env.step)

    @jax.jit
    def run(base, index, scale, gyro, randomized):
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(index)
        state = reset(keys, {"scale": scale, "ang_vel_std": gyro}, randomized)

        def body(state, _):
            state = step(state, controller(state.obs))
            return state, state.metrics["error_deg"]

        state, errors = jax.lax.scan(body, state, None, length=env.episode_steps)
        # The env keeps the policy's memory, the reflex's state (its last row) included.
        pushes = (state.obs["memory"][:, -1, reflex_lib.PUSHES] if env_config.reflex.enabled
                  else jnp.zeros_like(state.info["success_step"]))
        return state.info["success"], state.info["success_step"], errors.T, pushes

    return run


def without_noise(config: EnvConfig) -> EnvConfig:
    return dataclasses.replace(config, noise=dataclasses.replace(config.noise, scale=0.0, ang_vel_std=0.0))


def with_noise_scale(config: EnvConfig, scale: float) -> EnvConfig:
    return dataclasses.replace(config, noise=dataclasses.replace(config.noise, scale=scale))


def plot(results: dict[str, EvalResult], sweep: dict[float, float], path: Path, title: str) -> Path:
    """Error trajectories (a sample and the median) per setting, and success vs noise scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for (name, res), color in zip(results.items(), ("tab:blue", "tab:orange", "tab:green")):
        t = np.arange(1, res.error_deg.shape[1] + 1) * res.control_dt
        for row in res.error_deg[:40]:
            axes[0].plot(t, row, color=color, alpha=0.15, lw=0.8)
        axes[0].plot(t, np.median(res.error_deg, 0), color=color, lw=2.5, label=f"{name} (median)")
        tts = res.time_to_success[res.success]
        axes[1].hist(tts, bins=40, alpha=0.6, color=color, label=f"{name}: {res.success.mean():.1%} succeed")
    axes[0].set(xlabel="time (s)", ylabel="error angle (deg)", title="error over the episode", yscale="symlog")
    axes[0].legend()
    axes[1].set(xlabel="time to success (s)", ylabel="episodes", title="time to success")
    axes[1].legend()
    scales = sorted(sweep)
    axes[2].plot(scales, [sweep[s] for s in scales], "o-")
    axes[2].set(xlabel="observation noise (x pose-error model)", ylabel="success rate", ylim=(0, 1.02),
                title="success vs noise level")
    axes[2].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(path: Path, report: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)
