"""The poses a dropped, unpowered object comes to rest in: a training curriculum's starts.

A policy that has converged rarely explores the full-torque tip needed to leave a stable rest,
so the episodes that start there teach it. Which rests exist, and how often a drop ends in
each, is a property of the hull and the mass distribution; rather than enumerate hull faces,
this drops the nominal object from seeded random orientations in C MuJoCo (the training MJCF,
torques off) and keeps where it stops. Each result is one drop's final orientation, so a rest
appears as often as drops end in it.
"""

from __future__ import annotations

import functools

import mujoco
import numpy as np

from orient_jax import rotations


@functools.lru_cache(maxsize=4)
def settled_orientations(mjcf_path: str, drops: int = 128, seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Orientations [x, y, z, w] (world from body, canonical), shape (K, 4) with K <= `drops`,
    where the object came to rest after `seconds` of falling from a uniformly random orientation
    (and stayed within 0.5 deg for another quarter of that time, |angular velocity| < 0.05 rad/s
    at the end). Deterministic for a given MJCF and seed (~2 s)."""
    import jax

    from orient_jax.sim import rigid_body

    model = mujoco.MjModel.from_xml_path(mjcf_path)
    height = rigid_body.from_model(model).drop_height
    data = mujoco.MjData(model)
    starts = np.asarray(rotations.sample_uniform(jax.random.PRNGKey(seed), (drops,)), np.float64)
    steps = int(round(seconds / model.opt.timestep))
    settled = []
    for quat in starts:  # setup work, once per process: not on the training hot path
        mujoco.mj_resetData(model, data)
        data.qpos[:3] = (0.0, 0.0, height)
        data.qpos[3:7] = rotations.to_mujoco(quat)
        mujoco.mj_step(model, data, nstep=steps)
        rest = rotations.from_mujoco(data.qpos[3:7].copy())
        mujoco.mj_step(model, data, nstep=steps // 4)  # still there a while later: a rest, not a rock
        later = rotations.from_mujoco(data.qpos[3:7].copy())
        if np.linalg.norm(data.qvel[3:6]) < 0.05 and np.degrees(rotations.geodesic_angle(rest, later)) < 0.5:
            settled.append(np.asarray(rotations.canonicalize(rest)))
    return np.asarray(settled, np.float32).reshape(-1, 4)
