"""The object's facts as the MJCF states them: which body it is, its mass, centre of mass,
collision hull and drop height, and the size of the arena around it.

Everything the envs need to know about the object is read here, by name and structure, from
the compiled `MjModel`, so the sim never imports the object's source description: any MJCF
with one free-jointed body whose collision geoms are meshes works the same way.

Frames: body frame (MuJoCo's), metres; the hull points are the collision meshes' vertices
placed by their geoms' pose in the body.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from orient_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class RigidBody:
    body_id: int
    """Index of the free-jointed body in the model (0 is the world)."""
    name: str
    mass: float
    """kg, as written in the MJCF's <inertial>."""
    com: np.ndarray
    """Centre of mass in the body frame (3,)."""
    hull_points: np.ndarray
    """Vertices of the collision meshes in the body frame (P, 3)."""
    collision_geoms: tuple[int, ...]
    """Geom ids of the collision meshes (the contact with the floor; their friction is randomized)."""
    drop_height: float
    """Height (m) of the body origin in the MJCF: where a drop starts, clear of the floor at any
    orientation."""

    @property
    def bounding_radius(self) -> float:
        """Radius about the body origin containing every hull point (m)."""
        return float(np.linalg.norm(self.hull_points, axis=1).max())


def _geom_points(model: mujoco.MjModel, geom: int) -> np.ndarray:
    """A mesh geom's vertices in its body's frame (P, 3)."""
    mesh = int(model.geom_dataid[geom])
    start, count = int(model.mesh_vertadr[mesh]), int(model.mesh_vertnum[mesh])
    local = np.asarray(model.mesh_vert[start:start + count], np.float64)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.geom_quat[geom])
    return local @ rot.reshape(3, 3).T + model.geom_pos[geom]


def from_model(model: mujoco.MjModel) -> RigidBody:
    """The object of `model`: its one body with a free joint, and that body's collision meshes
    (geoms of type mesh that take part in contacts). A model without exactly one such body, or
    whose body has no collision mesh, is a `UserError`."""
    free = [int(model.jnt_bodyid[j]) for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if len(free) != 1:
        raise UserError(f"the MJCF must have exactly one free-jointed body (the object), found {len(free)}")
    body = free[0]
    geoms = tuple(g for g in range(model.ngeom)
                  if model.geom_bodyid[g] == body and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
                  and (model.geom_contype[g] or model.geom_conaffinity[g]))
    if not geoms:
        raise UserError(f"the object's body {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body)!r} "
                        "has no collision mesh")
    return RigidBody(body_id=body, name=mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body) or "",
                     mass=float(model.body_mass[body]), com=np.asarray(model.body_ipos[body], np.float64).copy(),
                     hull_points=np.concatenate([_geom_points(model, g) for g in geoms]),
                     collision_geoms=geoms, drop_height=float(model.body_pos[body, 2]))


def load(mjcf_path: str) -> RigidBody:
    """`from_model` of the MJCF file at `mjcf_path`."""
    return from_model(mujoco.MjModel.from_xml_path(str(mjcf_path)))


def arena_half_size(model: mujoco.MjModel) -> float:
    """Half the side of the walled arena (m): the nearest wall's distance from the world origin,
    inf without walls. Walls are the world's plane geoms that are not horizontal (the floor is)."""
    distances = []
    for g in range(model.ngeom):
        if model.geom_bodyid[g] != 0 or model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE:
            continue
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, model.geom_quat[g])
        normal = rot.reshape(3, 3)[:, 2]
        if abs(normal[2]) > 0.5:  # the floor
            continue
        distances.append(abs(float(normal @ model.geom_pos[g])))
    return min(distances) if distances else float("inf")
