"""Observation noise: the pose model's error distribution, as a file the RL env reads.

The pose evaluation (`orient-jax eval-pose`) writes the measured distribution of its angular
errors as quantiles; the env draws an error angle by inverse-CDF sampling and rotates the true
orientation by it about a uniformly random axis, so the policy trains against the errors the
vision model really makes. Until a pose model exists, `default_model()` stands in: an isotropic
Gaussian rotation vector (sigma 1.5 deg per axis, median ~2.3 deg) with 0.5% gross errors
spread uniformly over 20-180 deg (the near-symmetric views a CNN sometimes confuses).

File format (JSON):
    {"version": 1, "kind": "pose_error_model", "angle_deg_quantiles": [q_0, ..., q_100],
     "source": "...", "metrics": {...}}
where q_k is the error angle (deg) at probability k / (len - 1).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from orient_jax import rotations
from orient_jax.errors import UserError

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class PoseErrorModel:
    angle_deg_quantiles: tuple[float, ...]
    """Error angle (deg) at evenly spaced probabilities 0..1; non-decreasing."""
    source: str = "default"

    def __post_init__(self):
        q = np.asarray(self.angle_deg_quantiles, dtype=np.float64)
        if q.ndim != 1 or len(q) < 2 or not np.all(np.isfinite(q)):
            raise UserError(f"pose-error model ({self.source}): need >= 2 finite quantiles")
        if np.any(np.diff(q) < 0) or q[0] < 0 or q[-1] > 180:
            raise UserError(f"pose-error model ({self.source}): quantiles must rise within [0, 180] deg")

    def median_deg(self) -> float:
        return float(np.interp(0.5, np.linspace(0, 1, len(self.angle_deg_quantiles)), self.angle_deg_quantiles))

    def sample_angle(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Error angles in radians, shape `shape`, by inverse-CDF sampling."""
        quantiles = jnp.asarray(self.angle_deg_quantiles, dtype=jnp.float32)
        probs = jnp.linspace(0.0, 1.0, quantiles.shape[0])
        u = jax.random.uniform(key, shape)
        return jnp.deg2rad(jnp.interp(u, probs, quantiles))

    def sample_error(self, key: jax.Array, scale: float | jax.Array = 1.0, shape: tuple[int, ...] = ()) -> jax.Array:
        """Random error rotations [x, y, z, w], shape shape + (4,); angles multiplied by `scale`."""
        k_angle, k_axis = jax.random.split(key)
        angle = jnp.clip(self.sample_angle(k_angle, shape) * scale, 0.0, jnp.pi)
        return rotations.random_rotation_of_angle(k_axis, angle, shape)

    def to_json(self, metrics: dict | None = None) -> str:
        return json.dumps({"version": FORMAT_VERSION, "kind": "pose_error_model",
                           "angle_deg_quantiles": [round(float(v), 5) for v in self.angle_deg_quantiles],
                           "source": self.source, "metrics": metrics or {}}, indent=1)


def default_model() -> PoseErrorModel:
    """The documented stand-in until a measured model exists (see module docstring)."""
    from scipy import stats

    sigma, outlier_p, lo, hi = 1.5, 0.005, 20.0, 180.0
    grid = np.linspace(0.0, 180.0, 18001)
    cdf = (1 - outlier_p) * stats.chi(3).cdf(grid / sigma) + outlier_p * np.clip((grid - lo) / (hi - lo), 0, 1)
    probs = np.linspace(0, 1, 101)
    quantiles = np.interp(probs, cdf, grid)
    return PoseErrorModel(tuple(float(v) for v in quantiles), source="default")


def load(path: str | Path | None) -> PoseErrorModel:
    """Load a pose-error model file; None or "" gives the default model."""
    if not path:
        return default_model()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"pose-error model not found: {path}")
    try:
        data = json.loads(path.read_text())
        if data.get("version") != FORMAT_VERSION or data.get("kind") != "pose_error_model":
            raise UserError(f"{path}: not a version-{FORMAT_VERSION} pose-error model file")
        return PoseErrorModel(tuple(float(v) for v in data["angle_deg_quantiles"]), source=str(path))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: corrupt pose-error model ({exc})") from exc


def from_errors(errors_deg: np.ndarray, source: str, n_quantiles: int = 101) -> PoseErrorModel:
    """Build a model from measured angular errors (deg)."""
    errors = np.asarray(errors_deg, dtype=np.float64)
    if errors.size == 0 or not np.all(np.isfinite(errors)):
        raise UserError("cannot build a pose-error model from empty or non-finite errors")
    q = np.quantile(np.clip(errors, 0, 180), np.linspace(0, 1, n_quantiles))
    return PoseErrorModel(tuple(float(v) for v in np.maximum.accumulate(q)), source=source)
