"""`train_and_evaluate`: train the pose CNN on rendered shards.

Functional NNX: the model is split into (graphdef, params, batch_stats) once; one jitted
`train_step` does augmentation, forward, geodesic loss, AdamW (cosine schedule) in one call.
Data-parallel over every local device: the batch is sharded along a "data" mesh axis and the
parameters replicated, so XLA inserts the gradient all-reduce (GSPMD); one device or eight is a
config change only. Batches are a pure function of (seed, step), so a run killed at any point
resumes from its last orbax checkpoint on exactly the batches it would have seen.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from orient_jax import config as config_lib
from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.data import augment as augment_lib
from orient_jax.data.loader import Dataset, open_dataset
from orient_jax.errors import UserError
from orient_jax.pose.checkpoint import PoseArtifact, load_pose, pose_fingerprint, save_pose
from orient_jax.pose.loss import SYMMETRY_LOSSES, resolve_symmetry_loss, symmetric_loss
from orient_jax.pose.model import PoseNet, PoseNetConfig
from orient_jax.symmetry import TRIVIAL, Symmetry


@dataclasses.dataclass(frozen=True)
class PoseTrainConfig:
    model: PoseNetConfig = PoseNetConfig()
    """Architecture (widths, head: 6d | quat)."""
    augment: augment_lib.AugmentConfig = augment_lib.AugmentConfig()
    """Photometric augmentation applied on device to every training batch."""
    batch_size: int = 64
    """Images per step, split over all local devices (must divide evenly)."""
    steps: int = 4000
    """Optimizer steps."""
    learning_rate: float = 2e-3
    """Peak AdamW learning rate (after warmup), cosine-decayed to 1% at the end."""
    warmup_steps: int = 200
    """Linear warmup steps."""
    weight_decay: float = 1e-4
    """AdamW decoupled weight decay."""
    seed: int = 0
    """Initialisation, shuffling and augmentation seed."""
    checkpoint_every: int = 500
    """Save the full training state every this many steps (and at the end)."""
    eval_every: int = 500
    """Measure the error on the validation set every this many steps."""
    eval_images: int = 512
    """Validation images used during training (the full set is for `eval-pose`)."""
    symmetry_loss: str = "auto"
    """For a symmetric object (its card's symmetry): "min", the angle to the nearest look-alike
    of the label, "canonical", to one fixed look-alike, or "auto", canonical for discrete groups
    and min with a continuous axis (`pose/loss.py`; no effect on an asymmetric object)."""

    def __post_init__(self):
        config_lib.check_range("batch_size", self.batch_size, 1)
        config_lib.check_range("steps", self.steps, 1)
        config_lib.check_range("learning_rate", self.learning_rate, 0.0)
        config_lib.check_range("weight_decay", self.weight_decay, 0.0)
        config_lib.check_range("checkpoint_every", self.checkpoint_every, 1)
        config_lib.check_range("eval_every", self.eval_every, 1)
        if self.symmetry_loss not in SYMMETRY_LOSSES:
            raise UserError(f"symmetry_loss={self.symmetry_loss!r}: choose one of {', '.join(SYMMETRY_LOSSES)}")


def batch_indices(num_items: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of batch `step`: epoch permutations seeded by (seed, epoch), drop remainder."""
    per_epoch = num_items // batch_size
    epoch, offset = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(num_items)
    return np.sort(perm[offset * batch_size:(offset + 1) * batch_size])  # sorted: memmap locality


def make_optimizer(config: PoseTrainConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, min(config.warmup_steps, config.steps - 1) or 1,
                                                  config.steps, end_value=config.learning_rate * 0.01)
    return optax.chain(optax.clip_by_global_norm(5.0), optax.adamw(schedule, weight_decay=config.weight_decay))


class PoseTrainer:
    """The jitted pieces of training, built once per config."""

    def __init__(self, config: PoseTrainConfig, mesh: Mesh | None = None, symmetry: Symmetry = TRIVIAL):
        self.config = config
        self.symmetry = symmetry
        self.mesh = mesh or Mesh(np.array(jax.devices()), ("data",))
        if config.batch_size % self.mesh.size:
            raise UserError(f"batch_size {config.batch_size} must divide evenly over {self.mesh.size} devices")
        self.batch_sharding = NamedSharding(self.mesh, P("data"))
        self.replicated = NamedSharding(self.mesh, P())
        model = PoseNet(config.model, rngs=nnx.Rngs(config.seed))
        model.train()
        self.graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
        self.initial = (params, batch_stats)
        self.tx = make_optimizer(config)
        self.train_step = jax.jit(self._train_step, donate_argnums=(0,))
        self.predict = jax.jit(self._predict)

    def init(self, start: PoseArtifact | None = None) -> dict:
        """The training state at step 0: fresh weights, or `start`'s (fine-tuning; same architecture)."""
        params, batch_stats = self.initial
        if start is not None:
            if start.model.config != self.config.model:
                raise UserError("the --init model's architecture differs from this preset's "
                                f"({config_lib.to_dict(start.model.config)} vs {config_lib.to_dict(self.config.model)})")
            _, params, batch_stats = nnx.split(start.model, nnx.Param, nnx.BatchStat)
        state = {"params": params, "batch_stats": batch_stats, "opt_state": self.tx.init(params),
                 "step": jnp.zeros((), jnp.int32), "key": jax.random.PRNGKey(self.config.seed)}
        return jax.device_put(state, self.replicated)

    def _train_step(self, state: dict, images_u8: jax.Array, quats: jax.Array):
        """images_u8 (B, H, W, 3) uint8, quats (B, 4) [x, y, z, w] -> (state, metrics)."""
        key, aug_key = jax.random.split(jax.random.fold_in(state["key"], state["step"]))
        images = augment_lib.augment(aug_key, images_u8, self.config.augment)
        head = self.config.model.head

        def loss_fn(params):
            model = nnx.merge(self.graphdef, params, state["batch_stats"], copy=True)
            raw = model.raw(images)
            _, _, new_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
            return symmetric_loss(raw, quats, head, self.symmetry, self.config.symmetry_loss), new_stats

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        new_state = {"params": optax.apply_updates(state["params"], updates), "batch_stats": batch_stats,
                     "opt_state": opt_state, "step": state["step"] + 1, "key": state["key"]}
        return new_state, {"loss_deg": jnp.degrees(loss), "grad_norm": optax.global_norm(grads)}

    def eval_model(self, state: dict) -> PoseNet:
        model = nnx.merge(self.graphdef, state["params"], state["batch_stats"])
        model.eval()
        return model

    def _predict(self, params, batch_stats, images_u8):
        model = nnx.merge(self.graphdef, params, batch_stats)
        model.eval()
        return model(augment_lib.to_float(images_u8))

    def errors_deg(self, state: dict, dataset: Dataset, indices: np.ndarray, batch: int = 64) -> np.ndarray:
        """Geodesic error (deg, modulo the object's symmetry) of the current model on `dataset[indices]`."""
        out = []
        for start in range(0, len(indices), batch):
            idx = indices[start:start + batch]
            images, quats = dataset.get(idx)
            pred = self.predict(state["params"], state["batch_stats"], jnp.asarray(images))
            out.append(np.asarray(jnp.rad2deg(symmetry_lib.error_angle(pred, jnp.asarray(quats), self.symmetry))))
        return np.concatenate(out) if out else np.zeros(0)


def train_and_evaluate(config: PoseTrainConfig, data_dir: Path, workdir: Path, val_dir: Path | None = None,
                       console: Console | None = None, show_progress: bool = True, symmetry: Symmetry | None = None,
                       init: Path | None = None) -> Path:
    """Train (or resume) in `workdir`; write `workdir/pose` (the artifact) and return its path.
    The loss is taken modulo the rendered object's symmetry (`symmetry`: another group, e.g. the
    trivial one to train as if the object had none). `init`: a pose model whose weights start the
    run (fine-tuning, e.g. the shipped model on new renders) instead of a fresh initialisation."""
    import orbax.checkpoint as ocp
    from tensorboardX import SummaryWriter

    console = console or Console(stderr=True)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    train_set = open_dataset(data_dir)
    val_set = open_dataset(val_dir) if val_dir else None
    if train_set.image_shape[:2] != (config.model.image_size, config.model.image_size):
        raise UserError(f"{data_dir}: images are {train_set.image_shape[:2]}, the model expects "
                        f"{config.model.image_size}x{config.model.image_size} (set model.image_size)")
    if len(train_set) < config.batch_size:
        raise UserError(f"{data_dir}: {len(train_set)} images, fewer than one batch of {config.batch_size}")
    symmetry = train_set.symmetry if symmetry is None else symmetry
    record = {"config": config_lib.to_dict(config), "data": str(Path(data_dir).resolve()), "data_sha256": train_set.fingerprint}
    init_model = load_pose(init) if init is not None else None
    if init_model is not None:
        record["init"] = {"model": str(Path(init).resolve()), "sha256": pose_fingerprint(init)}
    config_lib.check_run_record(workdir, record if symmetry.trivial else {**record, "symmetry": symmetry.to_card()})

    if not symmetry.trivial:
        loss = resolve_symmetry_loss(config.symmetry_loss, symmetry)
        console.print(f"object symmetry: {symmetry.describe()} (pose loss: {loss}"
                      + (", auto)" if config.symmetry_loss == "auto" else ")"))
    trainer = PoseTrainer(config, symmetry=symmetry)
    manager = ocp.CheckpointManager(workdir / "checkpoints", options=ocp.CheckpointManagerOptions(
        max_to_keep=2, save_interval_steps=config.checkpoint_every, create=True))
    state = trainer.init(init_model)
    if (latest := manager.latest_step()) is not None:
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
        try:
            state = manager.restore(latest, args=ocp.args.StandardRestore(abstract))
        except Exception as exc:
            raise UserError(f"cannot resume from {workdir / 'checkpoints' / str(latest)}: {type(exc).__name__}: {exc}") from exc
        console.print(f"[bold]resuming[/] pose training from step {latest} in {workdir}")

    eval_set = val_set or train_set
    eval_idx = np.random.default_rng(1234).permutation(len(eval_set))[:config.eval_images]
    writer = SummaryWriter(str(workdir / "tb"))
    start = int(state["step"])
    fetch = lambda step: train_set.get(batch_indices(len(train_set), config.batch_size, config.seed, step))
    progress = Progress(TextColumn("[bold]pose[/]"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                        TextColumn("{task.fields[ips]:>6,.0f} img/s"), TextColumn("loss {task.fields[loss]:6.2f} deg"),
                        TextColumn("val median {task.fields[val]:6.2f} deg"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=not show_progress)
    last: dict = {}
    with progress, (workdir / "metrics.jsonl").open("a") as log, concurrent.futures.ThreadPoolExecutor(1) as pool:
        task = progress.add_task("train", total=config.steps, completed=start, ips=0.0, loss=float("nan"), val=float("nan"))
        pending = pool.submit(fetch, start) if start < config.steps else None
        t_last, n_last = time.perf_counter(), start
        for step in range(start, config.steps):
            images, quats = pending.result()
            if step + 1 < config.steps:
                pending = pool.submit(fetch, step + 1)  # load the next batch while this one trains
            batch = jax.device_put((images, quats), trainer.batch_sharding)
            state, metrics = trainer.train_step(state, *batch)
            done = step + 1
            if done % 50 == 0 or done == config.steps or done % config.eval_every == 0:
                metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                if not np.isfinite(metrics["loss_deg"]):
                    raise RuntimeError(f"non-finite pose loss at step {done}")
                now = time.perf_counter()
                metrics.update(step=done, images_per_s=(done - n_last) * config.batch_size / max(now - t_last, 1e-9), time=time.time())
                t_last, n_last = now, done
                if done % config.eval_every == 0 or done == config.steps:
                    errors = trainer.errors_deg(state, eval_set, eval_idx)
                    metrics.update(val_median_deg=float(np.median(errors)), val_mean_deg=float(errors.mean()),
                                   val_acc10=float((errors <= 10).mean()))
                log.write(json.dumps(metrics) + "\n")
                log.flush()
                for k, v in metrics.items():
                    writer.add_scalar(k, v, done)
                progress.update(task, completed=done, ips=metrics["images_per_s"], loss=metrics["loss_deg"],
                                val=metrics.get("val_median_deg", last.get("val_median_deg", float("nan"))))
                last.update(metrics)
            else:
                progress.update(task, completed=done)
            manager.save(done, args=ocp.args.StandardSave(state), force=(done == config.steps))
        manager.wait_until_finished()
    writer.close()
    kept = {k: last[k] for k in ("val_median_deg", "val_mean_deg", "val_acc10", "loss_deg", "step") if k in last}
    info = {"train_config": config_lib.to_dict(config), "dataset": str(Path(data_dir).resolve()),
            "dataset_sha256": train_set.fingerprint, "validation": str(Path(val_dir).resolve()) if val_dir else None,
            "symmetry": symmetry.to_card(), **({"init": record["init"]} if init_model is not None else {})}
    return save_pose(workdir / "pose", trainer.eval_model(state), train_set.camera, kept, info)
