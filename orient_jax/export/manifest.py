"""`manifest.json`: everything the page needs to use the exported models (docs/design.md's keys).

Paths are relative to the manifest. Physics values are read from the MJCF that is shipped
beside it (the file both MuJoCo builds load), never restated by hand; the success criteria
come from the policy's env config; the camera from the pose model's metadata (its dataset);
the `object` section (body name, mass, size, spawn, the page's grab spring and push) from the
MJCF and the env config, scaled to the object's mass and size (`object_from_mjcf`); `symmetry`
(only for a symmetric object) from the env config (`symmetry_from_env`).
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


# The page's object-sized constants, per unit of the object's mass and size, so another object
# feels the same (the same accelerations, the same tip-over): the values the page had hand-tuned
# for the engine (5.04 kg, 0.219 m), divided by its mass / size. Each result is rounded to two
# significant figures (they set a feel, not physics), which gives back exactly the engine's
# hand-tuned values: drag spring 150 N/m, 6 N s/m, at most 120 N; push 3 N m s over 0.1 s.
GRAVITY = 9.81
DRAG_STIFFNESS_PER_KG = 29.7
"""Grab spring, N/m per kg: the object follows the cursor at sqrt(29.7) = 5.45 rad/s."""
DRAG_DAMPING_PER_KG = 1.19
"""Grab spring damping, N s/m per kg: the cursor's pull settles in ~1/1.19 = 0.84 s."""
DRAG_MAX_ACCEL_G = 2.43
"""The grab force's cap, in the object's weights (m g)."""
PUSH_PER_TIP_IMPULSE = 1.85
"""A push (angular impulse, N m s) in units of m r sqrt(g r), the angular impulse of the body's
weight at its radius r over the time it takes to fall r: 1.85 throws the upright engine over."""
PUSH_DURATION_S = 0.1
"""The push's torque pulse (s): short against the fall time, long against the physics step."""
GHOST_LIFT_PER_RADIUS = 2.05
"""The predicted-pose ghost floats this many bounding radii above the body."""
AXES_PER_RADIUS = 1.0
"""Length of the drawn body axes, in bounding radii."""
TARGET_HEIGHT_PER_RADIUS = 1.14
"""Height of the goal-target ghost's origin, in bounding radii (it clears the floor)."""
LOOK_AT_HEIGHT_PER_RADIUS = 0.82
"""Height the main view's camera orbits about, in bounding radii."""


def _sig2(x: float) -> float:
    """x rounded to two significant figures."""
    return float(f"{x:.2g}")


def object_from_mjcf(mjcf_path: Path, env_config, goal_env_config=None) -> dict:
    """The `object` section: what the page needs to know about the simulated object, by name
    and size, read from the MJCF (the body with the free joint: its name, mass, collision
    mesh, bounding radius, placement), the policy's env config (spawn square) and the goal
    policy's (goal hold margin; without one, the goal env's default), with the page's
    interaction constants scaled to the object's mass and size."""
    import mujoco
    import numpy as np

    model = mujoco.MjModel.from_xml_path(str(mjcf_path))
    free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if len(free) != 1:
        raise ValueError(f"{mjcf_path}: expected one body with a free joint (the object), found {len(free)}")
    body_id = int(model.jnt_bodyid[free[0]])
    body = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body_id)
    mass = float(model.body_subtreemass[body_id])

    # Bounding radius about the body origin, from the collision geoms: a mesh's vertices exactly,
    # a primitive by its bounding sphere.
    radius, meshes = 0.0, []
    for g in range(model.ngeom):
        if model.geom_bodyid[g] != body_id or not (model.geom_contype[g] or model.geom_conaffinity[g]):
            continue
        pos = model.geom_pos[g]
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
            mesh = int(model.geom_dataid[g])
            meshes.append(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_MESH, mesh))
            start, n = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, model.geom_quat[g])
            verts = model.mesh_vert[start:start + n] @ rot.reshape(3, 3).T + pos
            radius = max(radius, float(np.linalg.norm(verts, axis=1).max()))
        else:
            radius = max(radius, float(np.linalg.norm(pos) + model.geom_rbound[g]))
    if radius <= 0:
        raise ValueError(f"{mjcf_path}: the body {body!r} has no collision geoms")

    margin = getattr(goal_env_config, "goal_hold_margin", None)
    if margin is None:  # no goal policy: the goal env's default
        from orient_jax import sim

        margin = sim.default_config("goal").goal_hold_margin
    tip = mass * radius * math.sqrt(GRAVITY * radius)  # N m s
    return {
        "name": body, "body": body, "collision_mesh": meshes[0] if meshes else None,
        "mass_kg": round(mass, 6), "bounding_radius_m": round(radius, 6),
        "spawn": {"xy": float(env_config.spawn_xy), "height": round(float(model.body_pos[body_id][2]), 6)},
        "drag": {"stiffness": _sig2(DRAG_STIFFNESS_PER_KG * mass), "damping": _sig2(DRAG_DAMPING_PER_KG * mass),
                 "max_force": _sig2(DRAG_MAX_ACCEL_G * GRAVITY * mass)},
        "push": {"impulse": _sig2(PUSH_PER_TIP_IMPULSE * tip), "duration": PUSH_DURATION_S},
        "goal_hold_margin": float(margin),
        "view": {"ghost_lift": _sig2(GHOST_LIFT_PER_RADIUS * radius), "axes": _sig2(AXES_PER_RADIUS * radius),
                 "target_height": _sig2(TARGET_HEIGHT_PER_RADIUS * radius),
                 "look_at_height": _sig2(LOOK_AT_HEIGHT_PER_RADIUS * radius)},
        "units": "kg, m; spawn.xy: half-width of the square of drop positions; spawn.height: body-origin "
                 "drop height; drag: the grab spring (N/m, N s/m, N); push: angular impulse (N m s) over "
                 "duration (s); goal_hold_margin: the share of the torque limit a goal target may need to hold",
    }


def success_from_env(env_config) -> dict:
    return {"tilt_deg": float(env_config.success_angle_deg), "ang_vel": float(env_config.success_ang_vel),
            "hold_s": float(env_config.success_hold_s), "within_s": float(env_config.episode_s)}


def symmetry_from_env(env_config) -> dict | None:
    """The manifest's top-level `symmetry`: the object's symmetry group (the env config's, in the
    object card's form, `Symmetry.to_card`), by which the page takes its errors and success; None
    for an asymmetric object, whose manifest then has no such key (unchanged byte for byte)."""
    from orient_jax.symmetry import TRIVIAL

    sym = getattr(env_config, "symmetry", TRIVIAL)  # env configs from before symmetry: trivial
    return None if sym is None or sym.trivial else sym.to_card()


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
                   glb: bool, object_section: dict | None = None, extra: dict | None = None,
                   mjcf_name: str = "engine.xml", glb_name: str = "engine.glb",
                   symmetry: dict | None = None) -> dict:
    """The manifest. The folder's MJCF and visual mesh are `mjcf_name` and `glb_name` (the
    engine's, or an imported object's: `asset`). `object_section` (see `object_from_mjcf`)
    defaults to the one read from the folder's MJCF with the default upright env config.
    `symmetry` (see `symmetry_from_env`): the object's symmetry group, written only when given."""
    folder = Path(folder)
    if object_section is None:
        from orient_jax import sim

        object_section = object_from_mjcf(folder / mjcf_name, sim.default_config("upright"))
    asset = {"mjcf": mjcf_name, "glb": glb_name if glb else None, "mjcf_sha256": sha256(folder / mjcf_name)}
    if glb:
        asset["glb_sha256"] = sha256(folder / glb_name)
    return {"version": MANIFEST_VERSION, "asset": asset, "physics": physics, "camera": camera, "success": success,
            "object": object_section, **({"symmetry": symmetry} if symmetry else {}),
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
