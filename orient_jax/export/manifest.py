"""`manifest.json`: everything the page needs to use the exported models (DESIGN.md's keys).

Paths are relative to the manifest. Physics values are read from the MJCF that is shipped
beside it (the file both MuJoCo builds load), never restated by hand; the success criteria
come from the policy's env config; the camera from the pose model's metadata (its dataset).
No timestamps: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from orient_jax import fileio

MANIFEST_VERSION = 1

DEFAULT_CAMERA = {"position": [0.45, -0.45, 0.36], "look_at": [0.0, 0.0, 0.0], "up": [0.0, 0.0, 1.0],
                  "fov_y_deg": 40.0, "width": 128, "height": 128}
"""The dataset camera (world frame, Z up) when the pose model's metadata names none."""

_INTEGRATORS = {0: "Euler", 1: "RK4", 2: "implicit", 3: "implicitfast"}


sha256 = fileio.sha256_file


def physics_from_mjcf(mjcf_path: Path, control_dt: float) -> dict:
    """timestep, integrator and per-axis action scale (= the motors' ctrlrange) of the MJCF."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(mjcf_path))
    scale = [float(v) for v in model.actuator_ctrlrange[:, 1]]
    timestep = float(model.opt.timestep)
    return {"timestep": timestep, "control_dt": float(control_dt), "integrator": _INTEGRATORS.get(int(model.opt.integrator), str(model.opt.integrator)),
            "action_scale": scale, "n_substeps": round(control_dt / timestep),
            "torque": "body frame; the motors' ctrl = action * action_scale, action in [-1, 1]^3"}


def success_from_env(env_config) -> dict:
    return {"tilt_deg": float(env_config.success_angle_deg), "ang_vel": float(env_config.success_ang_vel),
            "hold_s": float(env_config.success_hold_s), "within_s": float(env_config.episode_s)}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("orient-jax", "jax", "jaxlib", "flax", "jax2onnx", "onnx", "onnxruntime", "mujoco"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def model_entry(path: Path, contract: dict, metrics: dict, config: dict, **extra) -> dict:
    """One `models.<name>` entry: file, sha256, the contract's inputs/outputs, metrics, config."""
    return {"file": Path(path).name, "sha256": sha256(path), "bytes": Path(path).stat().st_size,
            "inputs": contract["inputs"], "outputs": contract["outputs"], "opset": contract["opset"],
            "metrics": metrics, "config": config, **extra}


def build_manifest(folder: Path, *, physics: dict, camera: dict, success: dict, models: dict, parity: dict,
                   glb: bool, extra: dict | None = None) -> dict:
    folder = Path(folder)
    asset = {"mjcf": "engine.xml", "glb": "engine.glb" if glb else None, "mjcf_sha256": sha256(folder / "engine.xml")}
    if glb:
        asset["glb_sha256"] = sha256(folder / "engine.glb")
    return {"version": MANIFEST_VERSION, "asset": asset, "physics": physics, "camera": camera, "success": success,
            "models": models, "parity": parity, "versions": versions(),
            "conventions": {"quat": "[x, y, z, w], unit, w >= 0 from pose.onnx; policy.onnx accepts either sign",
                            "world": "right-handed, Z up, metres, seconds, radians",
                            "ang_vel": "body frame (MuJoCo free-joint qvel[3:6]), rad/s"},
            **(extra or {})}


def write_json(path: Path, data: dict) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def _finite(x):
    """JSON has no NaN/inf: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def read_manifest(folder: Path) -> dict:
    from orient_jax.errors import UserError

    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise UserError(f"no export at {folder} (missing manifest.json); run `orient-jax export` first")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: corrupt manifest ({exc})") from exc
    if manifest.get("version") != MANIFEST_VERSION:
        raise UserError(f"{path}: manifest version {manifest.get('version')!r}, expected {MANIFEST_VERSION}")
    return manifest
