"""The collision shape MJX simulates: the object's convex hull, simplified to a vertex budget.

MJX collides a mesh geom as a convex polytope. Against the floor plane (`plane_convex`) it
projects every hull vertex on the plane normal and keeps 4 manifold points, so its cost grows
with the vertex count; against the walls only the bounding sphere collides. Measured on these
2 cores (MJX 3.17 on CPU, Euler at 5 ms, 50 steps per jit call; the machine was shared, so
+-15 % noise), microseconds per env-step, and the gap the simplified hull leaves on a 0.2 m
sphere (`experiments/hull_vertex_cost.py`, the last row; the first two: a bare hull on a plane):

    hull vertices                     32     64    128    192    256
    bare hull, batch 256            12.9   11.6   13.6      -   27.1
    bare hull, batch 512               -   21.7   25.3   27.8   30.1
    object MJCF, batch 512          15.1   18.2   18.1   20.7   19.6
    gap on a 0.2 m sphere (mm)      23.9   12.7    6.0    4.4    3.0

The contact solver dominates: up to 128 vertices the cost is flat within the noise, and past
it grows slowly (one run of three doubled at 256). Not measured on a GPU. One hull gives 4
floor contacts; a convex decomposition into k hulls gives 4k, and MJX's cost per step grows
with the contact count (the engine's MJCF is built around 8), which is why one hull is the
default and decomposition (CoACD) is for clearly non-convex objects only (not available yet:
`collision_hulls` says so).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from orient_jax.errors import UserError

MAX_HULL_VERTICES = 128
"""Vertex cap of a collision hull. 128: (1) MJX's step costs the same as at 64 (within the
noise of the table above) and no more than at 256; (2) it keeps the engine's own hull (85
vertices) exact, and halves the gap a curved object sinks into the floor by against 64 (6 mm
vs 13 mm on a 0.2 m sphere); 256 would halve it again, but that is where the one doubling of
the step cost was seen; (3) MJX
caps a hull face at 20 vertices, and a hull this small rarely has such a face. Larger hulls
are simplified by `simplify_hull`, which reports the gap it leaves."""
KINDS = ("hull", "decompose")
PREFILTER = 32
"""A hull with more than PREFILTER x the cap vertices is first thinned to its extremes along
PREFILTER x cap directions (4096 for 128), which keeps simplifying a 1 M-face scan to seconds."""


@dataclasses.dataclass(frozen=True)
class Hull:
    vertices: np.ndarray
    """(K, 3), K <= the cap, in the frame of the points given."""
    source_vertices: int
    """Vertices of the full convex hull before simplification."""
    max_deviation: float
    """Largest distance (m) of a full-hull vertex outside the simplified hull: how far the
    object can sink into the floor in the simulation (0 when nothing was simplified)."""

    def summary(self) -> dict:
        return {"vertices": int(len(self.vertices)), "source_vertices": int(self.source_vertices),
                "max_deviation_m": float(f"{self.max_deviation:.4g}")}


def collision_hulls(points: np.ndarray, kind: str = "hull", max_vertices: int = MAX_HULL_VERTICES) -> list[Hull]:
    """The collision hulls of an object whose surface points are `points` (N, 3)."""
    if kind == "decompose":
        raise UserError("--collision decompose is not available yet (convex decomposition needs CoACD and "
                        "multi-hull support in the sim and the page); use --collision hull")
    if kind != "hull":
        raise UserError(f"unknown --collision {kind!r}; use one of {', '.join(KINDS)}")
    return [simplify_hull(points, max_vertices)]


def _hull(points: np.ndarray):
    from scipy.spatial import ConvexHull, QhullError

    try:
        return ConvexHull(points)
    except QhullError as exc:
        raise UserError("the mesh has zero volume (all its points lie on a plane or a line)") from exc


def fibonacci_directions(n: int) -> np.ndarray:
    """`n` unit vectors spread evenly over the sphere (n, 3)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5 ** 0.5) * k
    r = np.sqrt(1 - z * z)
    return np.c_[r * np.cos(phi), r * np.sin(phi), z]


def _support_set(points: np.ndarray, n: int) -> np.ndarray:
    """Indices of the points extreme along `n` evenly spread directions (unique, sorted)."""
    dirs = fibonacci_directions(n).astype(np.float32)  # float32: ties within 1e-7 do not matter
    points_t = np.ascontiguousarray(points.T, dtype=np.float32)
    chunk = max(1, (1 << 24) // len(points))  # at most 16 M scores (128 MB) at a time
    idx = [np.argmax(dirs[i:i + chunk] @ points_t, axis=1) for i in range(0, n, chunk)]
    return np.unique(np.concatenate(idx))


def simplify_hull(points: np.ndarray, max_vertices: int = MAX_HULL_VERTICES) -> Hull:
    """The convex hull of `points` with at most `max_vertices` vertices.

    When the full hull has more, its vertices are chosen by the support function: the points
    extreme along n evenly spread directions, with n the largest that gives at most
    `max_vertices` distinct points (bisection). Every chosen point is a vertex of the true hull,
    so the result lies inside it, touches it where it sticks out most in every direction, and
    spreads its vertices where the surface curves (a box keeps its 8 corners, a sphere gets an
    even net). `max_deviation` reports the largest gap left.
    """
    points = np.asarray(points, np.float64)
    full = _hull(points)
    candidates = points[full.vertices]
    if len(candidates) <= max_vertices:
        return Hull(candidates, len(candidates), 0.0)
    all_candidates = candidates
    if len(candidates) > PREFILTER * max_vertices:  # a dense hull: keep the extremes of many directions
        candidates = candidates[_support_set(candidates, PREFILTER * max_vertices)]
    good, bad = np.arange(0), None
    n = max_vertices
    while bad is None and n <= 256 * max_vertices:  # grow n until it gives too many points
        chosen = _support_set(candidates, n)
        if len(chosen) > max_vertices:
            bad = n
        else:
            good, lo = chosen, n
            n *= 2
    if bad is not None:
        lo = max_vertices // 2 if len(good) == 0 else lo
        while bad - lo > max(1, lo // 64):  # bisect between a fitting n and one too many
            mid = (lo + bad) // 2
            chosen = _support_set(candidates, mid)
            if len(chosen) > max_vertices:
                bad = mid
            else:
                good, lo = chosen, mid
    if len(good) < 4:  # a degenerate start: the extremes along the axes
        good = _support_set(candidates, 6)
    hull = _hull(candidates[good])
    vertices = candidates[good][hull.vertices]
    deviation = 0.0
    for start in range(0, len(all_candidates), 1 << 16):  # > 0: outside
        dist = all_candidates[start:start + (1 << 16)] @ hull.equations[:, :3].T + hull.equations[:, 3]
        deviation = max(deviation, float(dist.max()))
    return Hull(vertices, len(all_candidates), deviation)
