"""The one source description of the engine object.

Every consumer derives from `PARTS`: the MJCF (collision, mass, inertia) in `mjcf.py`, the
Blender scene and the `.glb` the browser draws (`blender/build_asset.py`). Change the object
here and regenerate (`orient-jax asset`); tests fail if a generated file is stale.

Body frame (metres): +Z up through the cylinder heads (the "upright" axis), +X towards the
front (timing pulley), +Y towards the intake side. The object is asymmetric on purpose (the
intake manifold and oil filter sit on opposite sides, pulley at the front, flywheel at the
back) so that every orientation looks different.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Material:
    name: str
    rgba: tuple[float, float, float, float]
    metallic: float
    roughness: float


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("cast_iron", (0.42, 0.44, 0.47, 1.0), 0.6, 0.55),
        Material("valve_cover", (0.72, 0.10, 0.08, 1.0), 0.3, 0.35),
        Material("oil_pan", (0.12, 0.12, 0.13, 1.0), 0.4, 0.6),
        Material("aluminium", (0.78, 0.79, 0.80, 1.0), 0.8, 0.3),
        Material("rubber", (0.05, 0.05, 0.05, 1.0), 0.0, 0.9),
        Material("steel", (0.55, 0.56, 0.58, 1.0), 0.9, 0.25),
        Material("filter", (0.95, 0.55, 0.05, 1.0), 0.1, 0.5),
        Material("brass", (0.80, 0.62, 0.25, 1.0), 0.8, 0.35),
    )
}


@dataclasses.dataclass(frozen=True)
class Part:
    """A primitive of the engine, in the body frame.

    kind: "box" (size = half-extents x, y, z) or "cylinder" (size = radius, half-length).
    axis: for cylinders, the body axis the cylinder's length runs along ("x", "y" or "z").
    density: kg/m^3 of the solid primitive (mass and inertia are integrated from these).
    """

    name: str
    kind: str
    size: tuple[float, ...]
    pos: tuple[float, float, float]
    material: str
    density: float
    axis: str = "z"

    @property
    def volume(self) -> float:
        if self.kind == "box":
            hx, hy, hz = self.size
            return 8.0 * hx * hy * hz
        r, h = self.size
        return math.pi * r * r * 2.0 * h

    @property
    def mass(self) -> float:
        return self.density * self.volume

    def axis_quat_wxyz(self) -> tuple[float, float, float, float]:
        """Rotation taking the primitive's local +Z onto `axis` (MuJoCo's [w, x, y, z])."""
        s = math.sqrt(0.5)
        return {"z": (1.0, 0.0, 0.0, 0.0), "x": (s, 0.0, s, 0.0), "y": (s, -s, 0.0, 0.0)}[self.axis]

    def inertia_about_own_center(self) -> np.ndarray:
        """3x3 inertia tensor about the part's centre, in the body frame."""
        m = self.mass
        if self.kind == "box":
            a, b, c = (2 * s for s in self.size)
            return np.diag([m * (b * b + c * c), m * (a * a + c * c), m * (a * a + b * b)]) / 12.0
        r, h = self.size
        length = 2 * h
        radial = m * (3 * r * r + length * length) / 12.0
        axial = m * r * r / 2.0
        diag = {"x": (axial, radial, radial), "y": (radial, axial, radial), "z": (radial, radial, axial)}
        return np.diag(diag[self.axis])

    def half_extents(self) -> np.ndarray:
        """Axis-aligned half-extents in the body frame (for bounds and tests)."""
        if self.kind == "box":
            return np.array(self.size)
        r, h = self.size
        return np.array({"x": (h, r, r), "y": (r, h, r), "z": (r, r, h)}[self.axis])


# Effective densities of a hollow half-scale display engine (thin cast shells, not solid
# metal): ~5 kg in all, so that a few N*m of body torque can tip it over an edge.
PARTS: tuple[Part, ...] = (
    Part("block", "box", (0.14, 0.09, 0.08), (0.0, 0.0, 0.0), "cast_iron", 330.0),
    Part("head", "box", (0.13, 0.075, 0.03), (0.0, 0.0, 0.11), "valve_cover", 280.0),
    Part("oil_pan", "box", (0.12, 0.07, 0.03), (0.0, 0.0, -0.11), "oil_pan", 220.0),
    Part("intake", "box", (0.10, 0.03, 0.035), (0.0, 0.12, 0.06), "aluminium", 250.0),
    Part("throttle", "cylinder", (0.025, 0.02), (0.06, 0.17, 0.06), "aluminium", 300.0, axis="y"),
    Part("pulley", "cylinder", (0.055, 0.015), (0.155, 0.02, -0.03), "rubber", 500.0, axis="x"),
    Part("flywheel", "cylinder", (0.085, 0.012), (-0.152, 0.0, -0.02), "steel", 1300.0, axis="x"),
    Part("oil_filter", "cylinder", (0.03, 0.035), (0.05, -0.125, -0.04), "filter", 300.0, axis="y"),
    Part("alternator", "cylinder", (0.035, 0.04), (0.09, -0.11, 0.07), "aluminium", 400.0, axis="x"),
    Part("oil_cap", "cylinder", (0.018, 0.012), (-0.07, 0.03, 0.152), "brass", 700.0),
)


@dataclasses.dataclass(frozen=True)
class MassProperties:
    mass: float
    com: np.ndarray  # (3,) body frame
    inertia: np.ndarray  # (3, 3) about the COM, body frame


def mass_properties(parts: tuple[Part, ...] = PARTS) -> MassProperties:
    """Total mass, centre of mass and inertia tensor (parallel-axis theorem over parts)."""
    masses = np.array([p.mass for p in parts])
    centers = np.array([p.pos for p in parts])
    total = float(masses.sum())
    com = (masses[:, None] * centers).sum(0) / total
    inertia = np.zeros((3, 3))
    for p, m, c in zip(parts, masses, centers):
        d = c - com
        inertia += p.inertia_about_own_center() + m * (d @ d * np.eye(3) - np.outer(d, d))
    return MassProperties(total, com, inertia)


def part_vertices(part: Part, segments: int = 16) -> np.ndarray:
    """Surface points of a part (box corners, cylinder rims), body frame, shape (K, 3)."""
    if part.kind == "box":
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        local = signs * np.array(part.size)
    else:
        r, h = part.size
        phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
        ring = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
        local_z = np.concatenate([np.c_[ring, np.full(segments, -h)], np.c_[ring, np.full(segments, h)]])
        order = {"z": (0, 1, 2), "x": (2, 0, 1), "y": (1, 2, 0)}[part.axis]
        local = local_z[:, order]
    return local + np.array(part.pos)


def collision_hull(parts: tuple[Part, ...] = PARTS) -> np.ndarray:
    """Vertices of the convex hull of every part: the body's one collision shape, (K, 3).

    One convex hull (rather than a geom per part) bounds every visual part, so nothing sinks
    into the floor, and gives MJX 4 floor contacts instead of 4 per part: the contact count
    is what sets MJX's cost per step.
    """
    from scipy.spatial import ConvexHull

    points = np.concatenate([part_vertices(p, segments=12) for p in parts])
    return points[ConvexHull(points).vertices]
