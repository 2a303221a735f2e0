"""Checkpoints: the full training state (resume after a kill) and the small policy artifact.

Training state: an orbax `CheckpointManager` under `<workdir>/checkpoints`, saved every N
updates and restored onto the same shardings, so a resumed run continues bit-exactly.
Policy artifact (`<dir>/policy.json` + `<dir>/params/`): what inference and export need, the
actor's parameters and its feature normalizer, with the env name and configs it came from.
A policy trained against a measured pose-error model carries a copy of it
(`<dir>/pose_error_model.json`, named relative to the folder in `policy.json`), so evaluating
it elsewhere draws the same observation noise. Likewise a policy trained on an imported object
carries a copy of the object's MJCF (`<dir>/object.xml`, `policy.json` "mjcf", with its sha256
and the object folder it came from, "object_dir"), so evaluation and export simulate the physics
it was trained on anywhere; a policy without one (every engine policy) uses the built-in
orient_jax/assets/engine.xml.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from orient_jax import config as config_lib
from orient_jax import fileio
from orient_jax.errors import UserError
from orient_jax.rl.networks import RunningStats

POLICY_FORMAT = 1
NOISE_MODEL_FILE = "pose_error_model.json"
MJCF_FILE = "object.xml"


def checkpoint_manager(workdir: Path, save_every: int, keep: int = 2) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, save_interval_steps=save_every, create=True)
    return ocp.CheckpointManager(Path(workdir).resolve() / "checkpoints", options=options)


def _empty(x) -> bool:
    return 0 in x.shape


def pack(tree: Any) -> Any:
    """Drop zero-size arrays (orbax refuses them; MJX data has some, e.g. `act`)."""
    return jax.tree.map(lambda x: None if _empty(x) else x, tree)


def unpack(restored: Any, abstract: Any) -> Any:
    """Inverse of `pack`: rebuild the full tree, zero-size leaves from `abstract`."""
    leaves = iter(jax.tree.leaves(restored))
    full, treedef = jax.tree.flatten(abstract)
    out = []
    for a in full:
        if _empty(a):
            out.append(jax.device_put(jnp.zeros(a.shape, a.dtype), a.sharding) if getattr(a, "sharding", None) else jnp.zeros(a.shape, a.dtype))
        else:
            out.append(next(leaves))
    return jax.tree.unflatten(treedef, out)


def save_train_state(manager: ocp.CheckpointManager, step: int, state: Any, force: bool = False) -> bool:
    return manager.save(step, args=ocp.args.StandardSave(pack(state)), force=force)


def restore_train_state(manager: ocp.CheckpointManager, step: int, abstract: Any) -> Any:
    restored = manager.restore(step, args=ocp.args.StandardRestore(pack(abstract)))
    return unpack(restored, abstract)


def restore_params(manager: ocp.CheckpointManager, step: int, abstract_params: Any) -> Any:
    """Only the `params` of a saved train state: what a warm start needs. The rest of the state
    (optimizer, env states) may have another structure, e.g. from an older version."""
    item = {"params": pack(abstract_params)}
    restore_args = jax.tree.map(lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding) if getattr(x, "sharding", None)
                                else ocp.RestoreArgs(), item)
    path = Path(manager.directory) / str(step) / "default"
    restored = ocp.PyTreeCheckpointer().restore(path, args=ocp.args.PyTreeRestore(
        item=item, restore_args=restore_args, partial_restore=True))
    return unpack(restored["params"], abstract_params)


@dataclasses.dataclass
class PolicyArtifact:
    env_name: str
    env_config: Any
    ppo_config: Any
    """The training config (PPOConfig, or SHACConfig for `--algo shac`): its actor_hidden and
    init_log_std describe the actor."""
    actor_params: Any
    obs_norm: RunningStats
    metrics: dict
    mjcf_path: str = ""
    """The MJCF the policy was trained on; "" = the built-in engine (orient_jax/assets/engine.xml)."""
    object_dir: str = ""
    """The object folder the MJCF came from (a record: the folder may have moved since); "" = the engine."""


def _carry(source: str | Path, folder: Path, name: str, what: str) -> str:
    """Copy `source` into the artifact `folder` as `name` (what the policy was trained with
    travels with it); returns `name`, the path policy.json records, relative to the folder."""
    source = Path(source)
    if not source.is_file():
        raise UserError(f"{what} not found: {source}")
    shutil.copyfile(source, folder / name)
    return name


def save_policy(path: Path, artifact: PolicyArtifact) -> Path:
    """Write the policy artifact atomically: a temp folder, then a rename over the old one."""
    path = Path(path).resolve()
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tree = {"actor": jax.device_get(artifact.actor_params),
            "obs_norm": {"mean": np.asarray(artifact.obs_norm.mean), "var": np.asarray(artifact.obs_norm.var),
                         "count": np.asarray(artifact.obs_norm.count)}}
    with fileio.local_checkpointer() as ckptr:
        ckptr.save(tmp / "params", tree)
    env_config = config_lib.to_dict(artifact.env_config)
    noise = env_config["noise"]
    if noise["model_path"]:  # the policy carries the noise it was trained with
        noise["model_path"] = _carry(noise["model_path"], tmp, NOISE_MODEL_FILE, "pose-error model")
    from orient_jax.rl.presets import trainer_record

    meta = {"format": POLICY_FORMAT, "kind": "orient_jax_policy", "env": artifact.env_name,
            "env_config": env_config,
            "metrics": artifact.metrics, **trainer_record(artifact.ppo_config)}
    if artifact.mjcf_path:  # the policy carries the physics it was trained on (none: the engine's)
        name = _carry(artifact.mjcf_path, tmp, MJCF_FILE, "the policy's MJCF")
        meta.update(mjcf=name, mjcf_sha256=fileio.sha256_file(tmp / name), object_dir=artifact.object_dir)
    (tmp / "policy.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return fileio.publish_dir(tmp, path)


def load_policy(path: Path) -> PolicyArtifact:
    """Load a policy artifact; a missing or corrupt one is a UserError naming the file."""
    from orient_jax import sim
    from orient_jax.rl.presets import CONFIG_CLASSES

    path = Path(path).resolve()
    meta_path = path / "policy.json"
    if not meta_path.is_file():
        raise UserError(f"no policy checkpoint at {path} (missing {meta_path.name})")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "orient_jax_policy" or meta.get("format") != POLICY_FORMAT:
            raise UserError(f"{meta_path}: not a format-{POLICY_FORMAT} orient-jax policy")
        env_name = meta["env"]
        env_config = meta["env_config"]
        if env_config.get("noise", {}).get("model_path"):  # named relative to the policy folder
            env_config["noise"]["model_path"] = str(path / env_config["noise"]["model_path"])
        env_config = config_lib.from_dict(sim.config_class(env_name), env_config)
        algo = meta.get("algo", "ppo")
        ppo_config = config_lib.from_dict(CONFIG_CLASSES[algo], meta[f"{algo}_config"])
        mjcf_path = str(path / meta["mjcf"]) if meta.get("mjcf") else ""  # named relative to the policy folder
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{meta_path}: corrupt policy metadata ({exc})") from exc
    if mjcf_path:
        if not Path(mjcf_path).is_file():
            raise UserError(f"{meta_path} names its MJCF {meta['mjcf']}, which is missing from {path}")
        if meta.get("mjcf_sha256") and fileio.sha256_file(Path(mjcf_path)) != meta["mjcf_sha256"]:
            raise UserError(f"{mjcf_path} differs from the MJCF the policy was trained on (sha256 in {meta_path.name})")
    try:
        with fileio.local_checkpointer() as ckptr:
            tree = ckptr.restore(path / "params")
        norm = RunningStats(mean=jnp.asarray(tree["obs_norm"]["mean"]), var=jnp.asarray(tree["obs_norm"]["var"]),
                            count=jnp.asarray(tree["obs_norm"]["count"]))
        actor = jax.tree.map(jnp.asarray, tree["actor"])
    except UserError:
        raise
    except Exception as exc:  # orbax raises many types for a damaged folder
        raise UserError(f"{path / 'params'}: corrupt or unreadable policy parameters ({type(exc).__name__}: {exc})") from exc
    return PolicyArtifact(env_name, env_config, ppo_config, actor, norm, meta.get("metrics", {}),
                          mjcf_path=mjcf_path, object_dir=str(meta.get("object_dir") or ""))
