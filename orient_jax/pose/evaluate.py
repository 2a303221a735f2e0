"""`eval-pose`: angular error of a pose model on a (held-out) dataset.

Writes `pose_eval.json` (median, mean, accuracy at 5/10/15 deg, worst cases, the commonest
confusion), `pose_errors.png`
(histogram + CDF), `pose_worst.png` (the worst images with true and predicted axes) and
`pose_error_model.json`: the measured error distribution, in the format the RL env's noise
model reads (`orient_jax.sim.noise`), so the policy trains against this model's real errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.data import augment as augment_lib
from orient_jax.data.loader import Dataset, open_dataset
from orient_jax.errors import UserError
from orient_jax.fileio import write_text_atomic
from orient_jax.pose.checkpoint import PoseArtifact, load_pose
from orient_jax.sim import noise as noise_lib


def predict(artifact: PoseArtifact, dataset: Dataset, batch: int = 128, limit: int | None = None):
    """(predicted quats (N, 4), true quats (N, 4)) over the first `limit` images."""
    from flax import nnx

    n = len(dataset) if limit is None else min(limit, len(dataset))
    forward = nnx.jit(lambda model, x: model(augment_lib.to_float(x)))
    preds, trues = [], []
    for start in range(0, n, batch):
        images, quats = dataset.get(np.arange(start, min(start + batch, n)))
        preds.append(np.asarray(forward(artifact.model, jnp.asarray(images))))
        trues.append(quats)
    return np.concatenate(preds), np.concatenate(trues)


def summarize(errors_deg: np.ndarray) -> dict:
    e = np.asarray(errors_deg)
    return {"images": int(e.size), "median_deg": float(np.median(e)), "mean_deg": float(e.mean()),
            "p90_deg": float(np.percentile(e, 90)), "max_deg": float(e.max()),
            "acc_5deg": float((e <= 5).mean()), "acc_10deg": float((e <= 10).mean()), "acc_15deg": float((e <= 15).mean())}


def commonest_confusion(pred: np.ndarray, true: np.ndarray, min_error_deg: float = 60.0, radius_deg: float = 20.0,
                        min_share: float = 0.02) -> dict | None:
    """The turn the model most often mistakes for the truth, or None when no turn explains
    `min_share` of the images.

    pred, true: (N, 4) quaternions [x, y, z, w] (body to world), N >= 1, of an object without
    symmetry. For each image off by more than `min_error_deg`, the error as a turn in the object's
    own frame, r = true^-1 * pred (so pred = true * r); the commonest confusion is the r that the
    most other such errors lie within `radius_deg` of, averaged over them. A plain object whose
    shape almost maps onto itself under some turn (what `object import` reports as the symmetry's
    "closest miss") can be mistaken for that turn of itself: its large errors then gather here, not
    spread over SO(3). The report gives the turn, its share of all images, and the error with
    that one confusion forgiven (per image the smaller of the error and the error against true * r).
    """
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    errors = np.degrees(np.asarray(rotations.geodesic_angle(jnp.asarray(pred), jnp.asarray(true))))
    large = np.flatnonzero(errors > min_error_deg)
    if large.size < max(2, min_share * len(errors)):
        return None
    turns = np.asarray(rotations.canonicalize(rotations.multiply(rotations.conjugate(jnp.asarray(true[large])),
                                                                 jnp.asarray(pred[large]))), np.float64)
    apart = 2.0 * np.degrees(np.arccos(np.clip(np.abs(turns @ turns.T), 0.0, 1.0)))  # (M, M) angle between turns
    near = apart <= radius_deg
    members = near[np.argmax(near.sum(axis=1))]
    if members.sum() < min_share * len(errors):
        return None
    group = turns[members]
    signs = np.where(group @ group[0] < 0, -1.0, 1.0)  # q and -q are one turn: average one sign
    turn = (group * signs[:, None]).mean(axis=0)
    turn = turn / np.linalg.norm(turn)
    turn = turn if turn[3] >= 0 else -turn
    angle = 2.0 * np.degrees(np.arctan2(np.linalg.norm(turn[:3]), turn[3]))
    axis = turn[:3] / max(np.linalg.norm(turn[:3]), 1e-12)
    confused = rotations.multiply(jnp.asarray(true), jnp.asarray(np.broadcast_to(turn, true.shape)))
    forgiven = np.minimum(errors, np.degrees(np.asarray(rotations.geodesic_angle(jnp.asarray(pred), confused))))
    return {"turn": f"turn by {angle:.0f} deg about {'/'.join(f'{c:.2f}' for c in axis)} (object frame)",
            "angle_deg": float(angle), "axis": axis.tolist(), "quat": turn.tolist(),
            "share": float(members.sum() / len(errors)), "images": int(members.sum()),
            "median_deg_forgiven": float(np.median(forgiven)), "acc_10deg_forgiven": float((forgiven <= 10).mean())}


def evaluate(model_dir: Path, data_dir: Path, out_dir: Path, limit: int | None = None, worst: int = 16) -> dict:
    artifact = load_pose(model_dir)
    dataset = open_dataset(data_dir)
    if dataset.image_shape[:2] != (artifact.model.config.image_size,) * 2:
        raise UserError(f"{data_dir}: images are {dataset.image_shape[:2]}, the model expects "
                        f"{artifact.model.config.image_size}x{artifact.model.config.image_size}")
    if artifact.camera and dataset.camera and _camera_key(artifact.camera) != _camera_key(dataset.camera):
        raise UserError(f"{data_dir}: rendered with a different camera than the model was trained on")
    pred, true = predict(artifact, dataset, limit=limit)
    symmetry = dataset.symmetry  # errors modulo it: a look-alike answer is a right answer
    errors = np.asarray(jnp.rad2deg(symmetry_lib.error_angle(jnp.asarray(pred), jnp.asarray(true), symmetry)))
    order = np.argsort(-errors)[:worst]
    report = {"model": str(model_dir), "dataset": str(data_dir), **summarize(errors),
              **({"symmetry": symmetry.to_card(), "modulo_symmetry": True} if not symmetry.trivial
                 else {"commonest_confusion": commonest_confusion(pred, true)}),
              "worst": [{"index": int(i), "error_deg": float(errors[i]), "true": true[i].tolist(), "pred": pred[i].tolist()}
                        for i in order]}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "pose_eval.json", json.dumps(report, indent=2))
    error_model = noise_lib.from_errors(errors, source=f"eval-pose {model_dir} on {data_dir}")
    write_text_atomic(out_dir / "pose_error_model.json", error_model.to_json(metrics=summarize(errors)))
    plot_errors(errors, out_dir / "pose_errors.png", f"pose error on {Path(data_dir).name} ({errors.size} images)")
    images, _ = dataset.get(order)  # worst first
    plot_worst(images, true[order], pred[order], errors[order], dataset.camera, out_dir / "pose_worst.png")
    return report


def _camera_key(camera: dict) -> tuple:
    return tuple(np.round(np.asarray(camera.get(k, 0), dtype=float), 6).tobytes() for k in ("position", "look_at", "fov_y_deg"))


def _save(fig, path: Path, dpi: int) -> Path:
    """Save a figure atomically and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_errors(errors_deg: np.ndarray, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    clipped = np.clip(errors_deg, 0, 30)
    ax0.hist(clipped, bins=60, color="#3a7bd5")
    ax0.set(xlabel="angular error (deg, clipped at 30)", ylabel="images", title=title)
    for v, c in ((5, "g"), (10, "orange"), (15, "r")):
        ax0.axvline(v, color=c, ls="--", lw=1)
    s = np.sort(errors_deg)
    ax1.plot(s, np.arange(1, s.size + 1) / s.size)
    ax1.set(xscale="log", xlabel="angular error (deg)", ylabel="fraction <= error", title="CDF")
    ax1.grid(alpha=0.3)
    return _save(fig, path, dpi=110)


def plot_worst(images: np.ndarray, true: np.ndarray, pred: np.ndarray, errors: np.ndarray, camera: dict, path: Path) -> Path:
    """Grid of the worst images; true axes solid, predicted axes dashed (X red, Y green, Z blue)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orient_jax.data.camera import project_axes

    n = len(images)
    cols = min(n, 8)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, qt, qp, err in zip(axes.flat, images, true, pred, errors):
        ax.imshow(img)
        for q, style in ((qt, "-"), (qp, "--")):
            origin, tips = project_axes(camera, np.asarray(q), length=0.15)
            for tip, color in zip(tips, ("r", "g", "b")):
                ax.plot([origin[0], tip[0]], [origin[1], tip[1]], style, color=color, lw=1.4)
        ax.set_title(f"{err:.1f} deg", fontsize=8)
    fig.suptitle("worst predictions: true axes solid, predicted dashed", fontsize=9)
    return _save(fig, path, dpi=100)
