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
it grows slowly (one run of three doubled at 256). Not measured on a GPU.

`decompose` (CoACD, an approximate convex decomposition) gives k hulls instead of one, each
clipped to the object's hull. The single hull is the default, from measurements on the three
committed outside meshes (`experiments/collision_decompose.py`): the object only ever touches the
floor plane (the walls see its bounding sphere), and a rigid body on a plane touches it only at
points of its convex hull, so a decomposition buys no geometry there: the same rests and torque
limits (within 2.3 %). It costs 4-6x the MJX step time (8 hulls of up to 128 vertices), and
its extra, overlapping contacts change how drops bounce: 25-30 % of the duck's and bunny's drops
end on another face than with the hull (the hull against itself from starts 1e-6 rad apart: 0 %).
It is there for arenas with other shapes (a ledge, a cup, a second object), where concavities
can be touched.
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
DECOMPOSE_MAX_PARTS = 8
"""At most this many hulls from `decompose`: up to 32 floor contacts, 4x the engine's 8."""
DECOMPOSE_THRESHOLD = 0.05
"""CoACD's concavity threshold (its default): the largest concavity, relative to the object's
size, that a part may keep."""
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


def collision_hulls(points: np.ndarray, faces: np.ndarray | None = None, kind: str = "hull",
                    max_vertices: int = MAX_HULL_VERTICES) -> list[Hull]:
    """The collision hulls of an object whose surface is `points` (N, 3) with triangles `faces`
    (F, 3) (needed by `decompose` only): one convex hull, or a convex decomposition, each hull
    simplified to `max_vertices`."""
    if kind == "hull":
        return [simplify_hull(points, max_vertices)]
    if kind == "decompose":
        if faces is None:
            raise ValueError("decompose needs the mesh's faces")
        return decompose(points, faces, max_vertices)
    raise UserError(f"unknown --collision {kind!r}; use one of {', '.join(KINDS)}")


def decompose(points: np.ndarray, faces: np.ndarray, max_vertices: int = MAX_HULL_VERTICES,
              max_parts: int = DECOMPOSE_MAX_PARTS, seed: int = 0) -> list[Hull]:
    """CoACD's approximate convex decomposition of the mesh (`points` (N, 3), `faces` (F, 3)) into
    at most `max_parts` convex parts, each simplified to `max_vertices` like the single hull.
    Deterministic for a given `seed`. A mesh CoACD cannot cut (already convex) gives one part."""
    import coacd

    coacd.set_log_level("error")
    mesh = coacd.Mesh(np.asarray(points, np.float64), np.asarray(faces, np.int32))
    try:
        parts = coacd.run_coacd(mesh, threshold=DECOMPOSE_THRESHOLD, max_convex_hull=max_parts, seed=seed)
    except Exception as exc:  # noqa: BLE001 (CoACD raises plain RuntimeErrors on meshes it cannot process)
        raise UserError(f"the convex decomposition (CoACD) failed: {exc}; use --collision hull") from exc
    # CoACD's parts may bulge a millimetre or two past the surface; clipped to the object's own
    # hull, they touch the floor nowhere the single hull would not.
    bounds = _hull(np.asarray(points, np.float64)).equations
    clipped = [_clip(np.asarray(vertices, np.float64), bounds) for vertices, _ in parts if len(vertices) >= 4]
    hulls = [simplify_hull(v, max_vertices) for v in clipped if v is not None]
    if not hulls:
        raise UserError("the convex decomposition (CoACD) returned no usable part; use --collision hull")
    return hulls


def _clip(vertices: np.ndarray, bounds: np.ndarray) -> np.ndarray | None:
    """Vertices of conv(`vertices`) cut by the half-spaces `bounds` (M, 4) (n . x + d <= 0), or
    None when almost nothing (no interior) is left."""
    from scipy.optimize import linprog
    from scipy.spatial import HalfspaceIntersection, QhullError

    halfspaces = np.vstack([_hull(vertices).equations, bounds])
    # An interior point: the centre of the largest ball inside all the half-spaces (a linear program).
    norms = np.linalg.norm(halfspaces[:, :3], axis=1)
    lp = linprog(np.r_[0.0, 0.0, 0.0, -1.0], A_ub=np.c_[halfspaces[:, :3], norms], b_ub=-halfspaces[:, 3],
                 bounds=[(None, None)] * 3 + [(0, None)])
    if not lp.success or lp.x[3] < 1e-5:
        return None
    try:
        return HalfspaceIntersection(halfspaces, lp.x[:3]).intersections
    except QhullError:
        return None


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
