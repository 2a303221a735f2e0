"""Generate the engine's MJCF from `engine_spec` (one source of geometry, mass, inertia).

The file is loaded unchanged by MJX in training, by C MuJoCo in the benchmarks and by the
browser's MuJoCo WebAssembly build (npm `@mujoco/mujoco`), the same MuJoCo release as the
Python side (pyproject.toml).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from orient_jax.assets import engine_spec

ASSET_DIR = Path(__file__).resolve().parent
MJCF_PATH = ASSET_DIR / "engine.xml"


@dataclasses.dataclass(frozen=True)
class PhysicsConfig:
    """Physics settings shared by training and the browser (written to the manifest)."""

    timestep: float = 0.005
    """Physics step (s), with the integrator below."""
    control_dt: float = 0.02
    """Control period (s): one policy action is held for control_dt / timestep steps."""
    integrator: str = "Euler"
    """Semi-implicit Euler: 3.8x the MJX throughput of RK4 here (8 contacts, batch 1024), and
    as close to the WebAssembly build as RK4 (docs/design.md); its energy drift in free tumbling
    (+2% over 10 s at 15 rad/s, +48% at 30) is offset by `angular_damping` and the floor's friction."""
    angular_damping: float = 0.001
    """Free-joint damping (N*m*s/rad; N*s/m on the linear dofs): light air drag, integrated
    implicitly by Euler, which keeps long tumbles from gaining energy."""
    solver_iterations: int = 4
    """Newton iterations; few are enough for one body on a plane and keep MJX fast."""
    ls_iterations: int = 8
    friction: float = 0.8
    """Sliding friction of floor and walls (the body's geoms use the same)."""
    arena_half_size: float = 0.5
    """Half the side of the square walled arena (m)."""
    wall_height: float = 0.12
    """Visual height of the walls (m); for collision the walls are planes."""
    torque_margin: float = 1.4
    """Max body torque = margin x the torque that tips the body off its hardest face."""

    @property
    def n_substeps(self) -> int:
        return int(round(self.control_dt / self.timestep))


def resting_faces(parts=engine_spec.PARTS) -> list[tuple[np.ndarray, float]]:
    """Faces of the collision hull the body can rest on: (outward normal, lever arm).

    The lever arm is the distance, in the face's plane, from the COM's projection to the
    nearest edge of the face: tipping off that face over its easiest edge needs a body torque
    of at least m * g * lever arm. Faces whose COM projection falls outside are not stable.
    """
    from scipy.spatial import ConvexHull, QhullError

    com = engine_spec.mass_properties(parts).com
    points = engine_spec.collision_hull(parts)
    hull = ConvexHull(points)
    planes: dict[tuple, set] = {}
    for eq, simplex in zip(hull.equations, hull.simplices):  # merge coplanar triangles
        planes.setdefault(tuple(np.round(eq, 4)), set()).update(simplex)
    faces = []
    for key, idx in planes.items():
        normal, offset = np.array(key[:3]), key[3]
        center = com - (normal @ com + offset) * normal
        u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        flat = np.c_[(points[list(idx)] - center) @ u, (points[list(idx)] - center) @ v]
        try:
            polygon = ConvexHull(flat)
        except QhullError:
            continue
        if np.all(polygon.equations[:, 2] < 0):  # COM projection strictly inside: stable
            faces.append((normal, float(np.min(-polygon.equations[:, 2]))))
    return faces


def max_tipping_torque(parts=engine_spec.PARTS) -> float:
    """Torque (N*m) that tips the body off its hardest resting face, upright excepted.

    With a little more than this, the body can roll off any face it lands on, one edge at a
    time, but it cannot swing over a far edge in one go: reaching upright takes a choice of
    edges (or rocking), which is where a learned policy can beat a PD controller.
    """
    mass = engine_spec.mass_properties(parts).mass
    levers = [lever for normal, lever in resting_faces(parts) if normal[2] > -0.99]  # skip the bottom face
    return mass * 9.81 * max(levers)


def action_scale(config: PhysicsConfig = PhysicsConfig()) -> float:
    return round(config.torque_margin * max_tipping_torque(), 2)


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.atleast_1d(values))


DROP_CLEARANCE = 0.01
"""A body starts this far (m) above the floor at any orientation: pos z = bounding radius + 1 cm."""


def scene_mjcf(*, model: str, body: str, hulls: list[tuple[str, np.ndarray]], mass: float, com, inertia: np.ndarray,
               bounding_radius: float, torque_limit: float, config: PhysicsConfig,
               materials: list[dict] = (), visual_geoms: list[dict] = (), header: str = "") -> str:
    """The MJCF of one rigid body in the walled arena: the one scene every object lives in.

    `hulls`: (mesh name, vertices (K, 3) in the body frame) of each collision hull; `com` and
    `inertia` (3, 3, about the COM) are written explicitly in `<inertial>` (the geoms have mass
    0); `materials` / `visual_geoms`: attribute dicts of extra `<material>`s and of visual-class
    geoms (the engine's parts; an imported object draws its own glb instead). Collision
    classes: the floor (bit 1) touches the hulls (4 contacts each); the walls (bit 2) touch only
    a bounding sphere (1 contact each): MJX's cost per step grows with the potential contacts.
    Three motors on the free joint's rotational dofs apply body-frame torques, ctrl = action x
    `torque_limit`."""
    root = ET.Element("mujoco", model=model)
    ET.SubElement(root, "compiler", angle="radian", autolimits="true")
    ET.SubElement(
        root, "option",
        timestep=f"{config.timestep:g}", integrator=config.integrator,
        iterations=str(config.solver_iterations), ls_iterations=str(config.ls_iterations),
        gravity="0 0 -9.81",
    )
    default = ET.SubElement(root, "default")
    ET.SubElement(default, "geom", friction=f"{config.friction:g} 0.005 0.0001", condim="3")
    for cls, (bits, group) in {"visual": ("0", "1"), "collision": ("1", "3"), "wall_bound": ("2", "4")}.items():
        ET.SubElement(ET.SubElement(default, "default", {"class": cls}), "geom",
                      contype=bits, conaffinity=bits, group=group, mass="0")

    asset = ET.SubElement(root, "asset")
    for mesh_name, vertices in hulls:
        ET.SubElement(asset, "mesh", name=mesh_name, vertex=_fmt(np.asarray(vertices).ravel()))
    for attrs in materials:
        ET.SubElement(asset, "material", attrs)
    ET.SubElement(asset, "material", name="floor", rgba="0.82 0.80 0.76 1")
    ET.SubElement(asset, "material", name="wall", rgba="0.55 0.60 0.66 1")

    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", name="sun", pos="0.5 -0.5 2.0", dir="-0.25 0.25 -1", directional="true")
    h = config.arena_half_size
    ET.SubElement(world, "geom", name="floor", type="plane", size=f"{h:g} {h:g} 0.05",
                  material="floor", contype="1", conaffinity="1")
    walls = {"wall_px": ((h, 0), (-1, 0)), "wall_nx": ((-h, 0), (1, 0)),
             "wall_py": ((0, h), (0, -1)), "wall_ny": ((0, -h), (0, 1))}
    for name, ((x, y), (nx, ny)) in walls.items():
        ET.SubElement(world, "geom", name=name, type="plane",
                      pos=_fmt([x, y, config.wall_height / 2]), zaxis=_fmt([nx, ny, 0]),
                      size=f"{h:g} {config.wall_height / 2:g} 0.05",
                      material="wall", contype="2", conaffinity="2")

    element = ET.SubElement(world, "body", name=body, pos=_fmt([0, 0, bounding_radius + DROP_CLEARANCE]))
    ET.SubElement(element, "joint", name="root", type="free", damping=f"{config.angular_damping:g}")
    i = np.asarray(inertia)
    ET.SubElement(element, "inertial", pos=_fmt(com), mass=f"{mass:.6g}",
                  fullinertia=_fmt([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]]))
    for attrs in visual_geoms:
        ET.SubElement(element, "geom", {"class": "visual", **attrs})
    for mesh_name, _ in hulls:
        ET.SubElement(element, "geom", {"class": "collision", "name": mesh_name, "type": "mesh", "mesh": mesh_name})
    ET.SubElement(element, "geom", {"class": "wall_bound", "name": "wall_bound", "type": "sphere",
                                    "size": f"{bounding_radius:.4g}"})
    actuator = ET.SubElement(root, "actuator")
    for k, axis in enumerate("xyz"):
        gear = [0.0] * 6
        gear[3 + k] = 1.0
        ET.SubElement(actuator, "motor", name=f"torque_{axis}", joint="root",
                      gear=_fmt(gear), ctrlrange=f"{-torque_limit:g} {torque_limit:g}")
    ET.indent(root)
    return header + ET.tostring(root, encoding="unicode") + "\n"


def build_mjcf(config: PhysicsConfig = PhysicsConfig()) -> str:
    """The MJCF text for the engine in its arena."""
    mp = engine_spec.mass_properties()
    materials = [dict(name=m.name, rgba=_fmt(m.rgba), specular=f"{m.metallic * 0.5:.3g}", shininess=f"{1 - m.roughness:.3g}")
                 for m in engine_spec.MATERIALS.values()]
    parts = [dict(name=part.name, type=part.kind, pos=_fmt(part.pos), material=part.material,
                  size=_fmt(part.size), quat=_fmt(part.axis_quat_wxyz())) for part in engine_spec.PARTS]
    return scene_mjcf(model="orient_engine", body="engine", hulls=[("hull", engine_spec.collision_hull())],
                      mass=mp.mass, com=mp.com, inertia=mp.inertia, bounding_radius=bounding_radius(),
                      torque_limit=action_scale(config), config=config, materials=materials, visual_geoms=parts,
                      header="<!-- Generated by orient_jax.assets.mjcf from engine_spec.py: do not edit. -->\n")


def write_mjcf(path: Path = MJCF_PATH, config: PhysicsConfig = PhysicsConfig()) -> Path:
    """Write the MJCF atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(build_mjcf(config))
    tmp.replace(path)
    return path


def bounding_radius() -> float:
    """Radius about the body origin that contains the whole object (m)."""
    return float(np.linalg.norm(engine_spec.collision_hull(), axis=1).max())


def initial_height() -> float:
    """Body-origin height at which any orientation clears the floor (m)."""
    return bounding_radius() + DROP_CLEARANCE


if __name__ == "__main__":
    print(write_mjcf())
