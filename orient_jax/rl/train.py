"""`train_and_evaluate`: the training loop around `PPO.update` (or `SHAC.update`: `--algo shac`).

The loop itself is thin: one jitted update per iteration (rollout + learning, no Python loop
over envs or time steps), then host-side bookkeeping: metrics to JSON lines and TensorBoard,
a progress bar with env-steps/s, orbax checkpoints every N updates, and resume from the
latest checkpoint when the same run is started again in the same workdir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from orient_jax import config as config_lib
from orient_jax import sim
from orient_jax.errors import UserError
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl.networks import RunningStats, grow_mlp_inputs
from orient_jax.rl.ppo import PPO, Params, PPOConfig
from orient_jax.rl.presets import algo_of
from orient_jax.rl.shac import SHAC, SHACConfig
from orient_jax.sim.base import EnvConfig


@dataclasses.dataclass(frozen=True)
class RunConfig:
    env: str = "upright"
    """Task to train: one of the registered envs (upright, goal)."""
    checkpoint_every: int = 20
    """Save the full training state every this many updates (and at the end)."""
    log_every: int = 1
    """Write metrics every this many updates."""
    init_from: str = ""
    """Warm start: another run folder of the same task and network sizes whose latest
    checkpoint gives the starting parameters and normalizers (a curriculum's next stage),
    or a policy artifact (e.g. models/checkpoints/goal: actor and normalizer only, the critic
    starts fresh; pair it with ppo.actor_frozen_updates; a policy without memory given
    env.memory=true starts as the same function, its new inputs disconnected); the optimizer,
    envs and counters start fresh. "" = random initialization."""
    warm_start_std: float = 0.0
    """On a warm start, raise the policy's action std to at least this (0 = keep it): a
    converged policy explores too little to learn what the new stage adds."""
    object_dir: str = ""
    """The object to train on: an object folder (`orient-jax object import`), whose object.xml
    the envs simulate and the policy artifact carries; "" = the built-in engine. The env config
    should be that object's (`sim.default_config(env, mjcf_path)`: object-relative defaults)."""

    def __post_init__(self):
        config_lib.check_range("warm_start_std", self.warm_start_std, 0.0, 10.0)
        config_lib.check_range("checkpoint_every", self.checkpoint_every, 1, 1 << 30)


def _run_record(run: RunConfig, env_config: EnvConfig, trainer: PPOConfig | SHACConfig, obj=None) -> dict:
    """config.json of a run: its configs (the trainer's under "ppo" or "shac") and, training on
    an imported object, the object's folder, name and content hash (resuming on a changed object
    is refused). An engine PPO run's record is as it always was, so older run folders resume."""
    record = {"run": config_lib.to_dict(run), "env": config_lib.to_dict(env_config),
              algo_of(trainer): config_lib.to_dict(trainer)}
    if obj is None:
        del record["run"]["object_dir"]
    else:
        record["object"] = obj.record()
    return record


def train_and_evaluate(run: RunConfig, env_config: EnvConfig, ppo_config: PPOConfig | SHACConfig, workdir: Path,
                       console: Console | None = None, show_progress: bool = True) -> ckpt_lib.PolicyArtifact:
    """Train (or resume) in `workdir` with PPO, or SHAC when `ppo_config` is a SHACConfig;
    write `workdir/policy` and return the artifact."""
    if env_config.reflex.enabled:  # the policy's actions would not be the actions the env applied
        raise UserError("env.reflex is put around a trained policy (orient-jax reflex), not trained with; drop "
                        "--set env.reflex.enabled=true")
    console = console or Console(stderr=True)
    workdir = Path(workdir).resolve()
    obj = None
    if run.object_dir:
        from orient_jax import object_ref

        obj = object_ref.resolve(run.object_dir)
    mjcf_path = str(obj.mjcf) if obj else None
    workdir.mkdir(parents=True, exist_ok=True)
    record = _run_record(run, env_config, ppo_config, obj)
    # Multi-process runs (jax.distributed) share `workdir`: every process takes part in the
    # collective checkpoint saves; only process 0 writes logs, metrics and policies.
    primary = jax.process_index() == 0
    if primary:
        config_lib.check_run_record(workdir, record)

    env = sim.load(run.env, env_config, mjcf_path=mjcf_path)
    ppo = SHAC(env, ppo_config) if algo_of(ppo_config) == "shac" else PPO(env, ppo_config)
    if run.init_from and algo_of(ppo_config) == "shac":
        raise UserError("--init-from warm-starts PPO runs only")
    manager = ckpt_lib.checkpoint_manager(workdir, run.checkpoint_every)
    latest = manager.latest_step()
    if latest is not None:
        try:
            state = ckpt_lib.restore_train_state(manager, latest, ppo.abstract_state())
        except Exception as exc:
            raise UserError(f"cannot resume from {workdir / 'checkpoints' / str(latest)}: {_first_line(exc)} "
                            f"(saved by another version or config? continue it in a new --workdir with --init-from)") from exc
        console.print(f"[bold]resuming[/] {run.env} from update {latest} in {workdir}")
    else:
        state = ppo.init(jax.random.PRNGKey(ppo_config.seed))
        if run.init_from:
            params = warm_start_params(Path(run.init_from), run.env, ppo_config, min_std=run.warm_start_std,
                                       fresh=state.params)
            state = state.replace(params=params)
            console.print(f"[bold]warm start[/] from {run.init_from}")

    if primary:
        processes = f" in {jax.process_count()} processes" if jax.process_count() > 1 else ""
        console.print(f"{algo_of(ppo_config).upper()}: {ppo_config.num_envs} envs on {jax.device_count()} device(s){processes}")

    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(workdir / "tb")) if primary else None
    total = ppo_config.num_updates
    start = int(state.update)
    metrics_path = workdir / "metrics.jsonl" if primary else Path(os.devnull)
    last_metrics: dict = {}
    progress = Progress(TextColumn(f"[bold]{run.env}[/]"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                        TextColumn("{task.fields[sps]:>8,.0f} steps/s"), TextColumn("success {task.fields[success]:5.1%}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not (show_progress and primary))
    steps_per_update = ppo_config.steps_per_update
    with progress, metrics_path.open("a") as log:
        task = progress.add_task("train", total=total * steps_per_update, completed=start * steps_per_update, sps=0.0, success=0.0)
        t_last = time.perf_counter()
        for update in range(start, total):
            state, metrics = ppo.update(state)
            step = update + 1
            if step % run.log_every == 0 or step == total:
                metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                now = time.perf_counter()
                sps = steps_per_update * run.log_every / max(now - t_last, 1e-9)
                t_last = now
                metrics.update({"update": step, "env_steps": step * steps_per_update, "steps_per_s": sps,
                                "time": time.time()})
                if not all(np.isfinite(v) for v in metrics.values()):
                    raise RuntimeError(f"non-finite training metrics at update {step}: {metrics}")
                log.write(json.dumps(metrics) + "\n")
                log.flush()
                for k, v in metrics.items() if writer else ():
                    writer.add_scalar(k, v, step * steps_per_update)
                progress.update(task, completed=step * steps_per_update, sps=sps, success=metrics["episode/success"])
                last_metrics = metrics
            if ckpt_lib.save_train_state(manager, step, state, force=(step == total)) and step < total and primary:
                # The latest policy is usable while training goes on (or after a kill).
                ckpt_lib.save_policy(workdir / "policy_latest", _artifact(run, env_config, ppo_config, state, last_metrics))
        manager.wait_until_finished()
    artifact = _artifact(run, env_config, ppo_config, state, last_metrics)
    if primary:
        writer.close()
        ckpt_lib.save_policy(workdir / "policy", artifact)
    return artifact


def _first_line(exc: Exception) -> str:
    """`Type: first line` of an exception: orbax appends a multi-line tree diff to its messages."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def warm_start_params(source: Path, env_name: str, ppo_config: PPOConfig, min_std: float = 0.0,
                      fresh: Params | None = None) -> Params:
    """The `Params` to start from: a run folder's latest checkpoint (same task, same networks),
    or a policy artifact's actor and normalizer over `fresh` (its critic, newly initialized);
    the actor's action std raised to at least `min_std` (0 = as trained)."""
    source = Path(source).resolve()
    if (source / "policy.json").is_file() and not (source / "config.json").is_file():
        params = _params_from_policy(source, env_name, ppo_config, fresh)
    else:
        params = _params_from_run(source, env_name, ppo_config)
    if min_std > 0:
        actor = params.actor["params"]
        actor = {**actor, "log_std": jax.numpy.maximum(actor["log_std"], np.log(min_std))}
        params = params.replace(actor={**params.actor, "params": actor})
    return params


def _check_source(source: Path, src_task: str, src_ppo: PPOConfig, env_name: str, ppo_config: PPOConfig,
                  fields: tuple[str, ...]) -> None:
    if src_task != env_name:
        raise UserError(f"--init-from {source}: a {src_task!r} run cannot start a {env_name!r} run")
    for field in fields:
        if getattr(src_ppo, field) != getattr(ppo_config, field):
            raise UserError(f"--init-from {source}: {field} {getattr(src_ppo, field)} differs from {getattr(ppo_config, field)}")


def _params_from_run(source: Path, env_name: str, ppo_config: PPOConfig) -> Params:
    try:
        record = json.loads((source / "config.json").read_text())
        src_task = record["run"]["env"]
        src_env = config_lib.from_dict(sim.config_class(src_task), record["env"])
        src_ppo = config_lib.from_dict(PPOConfig, record["ppo"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"--init-from {source}: not a training run folder or policy ({type(exc).__name__}: {exc})") from exc
    _check_source(source, src_task, src_ppo, env_name, ppo_config, ("actor_hidden", "critic_hidden"))
    manager = ckpt_lib.checkpoint_manager(source, 1)
    latest = manager.latest_step()
    if latest is None:
        raise UserError(f"--init-from {source}: no checkpoint in {source / 'checkpoints'}")
    # The source's networks (their shapes do not depend on the object; its env is built on the
    # object it trained on when that folder is still there, else with a spawn square any arena holds).
    src_mjcf = Path(record["object"]["dir"]) / "object.xml" if record.get("object") else None
    if src_mjcf is not None and not src_mjcf.is_file():
        src_mjcf, src_env = None, dataclasses.replace(src_env, spawn_xy=0.0)
    src = PPO(sim.load(env_name, src_env, mjcf_path=src_mjcf), src_ppo)
    try:
        return ckpt_lib.restore_params(manager, latest, src.abstract_state().params)
    except Exception as exc:
        raise UserError(f"--init-from {source}: cannot restore checkpoint {latest}: {_first_line(exc)}") from exc


def _params_from_policy(source: Path, env_name: str, ppo_config: PPOConfig, fresh: Params | None) -> Params:
    if fresh is None:
        raise ValueError("a warm start from a policy artifact needs fresh params for the critic")
    artifact = ckpt_lib.load_policy(source)
    _check_source(source, artifact.env_name, artifact.ppo_config, env_name, ppo_config, ("actor_hidden",))
    # More inputs (a memory) start disconnected: the actor is the same function, then learns to
    # use them. (The fresh actor is replicated: its first local copy is the whole array.)
    try:
        actor = grow_mlp_inputs(artifact.actor_params, jax.tree.map(lambda x: x.addressable_data(0), fresh.actor))
    except ValueError as exc:  # fewer features than the source was trained on
        hint = " (it was trained with a memory: add --set env.memory=true)" if artifact.env_config.memory else ""
        raise UserError(f"--init-from {source}: its actor does not fit this run's: {exc}{hint}") from exc
    obs_norm = _grow_normalizer(artifact.obs_norm, jax.tree.map(lambda x: x.addressable_data(0), fresh.obs_norm))
    # Same placement as the fresh parameters (replicated over the mesh).
    place = lambda new, old: jax.device_put(jax.numpy.asarray(new, old.dtype), old.sharding)
    return fresh.replace(actor=jax.tree.map(place, actor, fresh.actor),
                         obs_norm=jax.tree.map(place, obs_norm, fresh.obs_norm))


# The normalizer's weight of the past when features are added: about 10 updates' worth of the
# goal preset's samples, so the new features' statistics settle within the frozen-actor updates.
_GROWN_NORMALIZER_COUNT = 300_000.0


def _grow_normalizer(trained: RunningStats, fresh: RunningStats) -> RunningStats:
    """The trained feature statistics over the first features of a longer feature vector (the
    policy gained inputs, e.g. `env.memory`; the actor's rows for them start at zero, so the
    policy starts as the same function); the new ones start at (0, 1) and, with the count cut
    to `_GROWN_NORMALIZER_COUNT`, learn their statistics from the first updates' data."""
    n = trained.mean.shape[0]
    if n == fresh.mean.shape[0]:
        return trained
    return RunningStats(mean=fresh.mean.at[:n].set(trained.mean), var=fresh.var.at[:n].set(trained.var),
                        count=jax.numpy.minimum(trained.count, _GROWN_NORMALIZER_COUNT))


def _artifact(run, env_config, ppo_config, state, metrics) -> ckpt_lib.PolicyArtifact:
    kept = {k: metrics[k] for k in ("episode/success", "episode/return", "env_steps", "update") if k in metrics}
    from orient_jax.object_ref import FILES

    mjcf_path = str(Path(run.object_dir) / FILES[1]) if run.object_dir else ""
    return ckpt_lib.PolicyArtifact(run.env, env_config, ppo_config, state.params.actor, state.params.obs_norm, kept,
                                   mjcf_path=mjcf_path, object_dir=run.object_dir)
