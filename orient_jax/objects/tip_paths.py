"""The easiest way from each rest to upright: the smallest torque a slow roll needs.

Leaving a rest is not the same as reaching upright. A can lying on its side leaves that rest for
almost nothing (it rolls about its axis), yet reaching either end needs its weight lifted over the
rim: m g times half its height, whichever way it goes. The torque limit must cover the steepest
step a rest cannot avoid on its way up, not only its easiest edge (`torque.torque_limit`).

The model (numpy, at import, no simulation), on the collision hull's faces (coplanar facets
merged; on the floor, a face stands on the convex polygon of the hull points in its plane):
- Standing on face F, tipping over an edge e of its polygon means pivoting on e, and the motors
  must hold the body against gravity's moment about e: m g times the horizontal distance from
  the centre of mass to e, largest at the start (the centre of mass rises towards e). When the
  centre of mass is already beyond e, gravity tips it for free. The body lands on the face
  across e.
- A rest's **path torque** is the smallest, over sequences of tips from its face to an upright
  face, of the largest tip along the way (Dijkstra's algorithm with max instead of sum; faces in
  between need not be stable: a policy may hold the body on them).
Exact on the hull, no sampling, but edges only: a roll that pivots on a vertex (as the straight
roll, `torque.roll_torque`, may) can need less on a rounded object, so the torque rule takes the
smaller of the two per rest.

Upright is modulo the object's symmetry: any face whose outward normal is within 8 deg of a
look-alike of the body's -Z (`upright_downs`). Friction, the walls and swings are left out on purpose: this is what a
slow, careful policy needs, and the margin on top is for everything else.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

UPRIGHT_DEG = 8.0
"""A face whose outward normal is this close to a look-alike of -Z is upright (the rests' test)."""


def upright_downs(symmetry, samples: int = 72) -> np.ndarray:
    """Body-frame directions (U, 3) that point down in an upright look-alike: -Z turned by every
    element of the object's symmetry group (`orient_jax.symmetry.Symmetry`; a continuous axis
    sampled every 360 / `samples` deg)."""
    from scipy.spatial.transform import Rotation

    turns = Rotation.from_quat(symmetry.elements())
    if symmetry.continuous:
        angles = np.linspace(0.0, 2 * np.pi, samples, endpoint=False)
        spins = Rotation.from_rotvec(np.outer(angles, np.asarray(symmetry.axis, np.float64)))
        turns = Rotation.concatenate([spin * turns for spin in spins])
    return turns.apply([0.0, 0.0, -1.0])


def hull_faces(points: np.ndarray, com: np.ndarray, tolerance: float) -> list[tuple[np.ndarray, frozenset, list]]:
    """The hull's faces, coplanar facets merged: (outward unit normal, indices of the hull points
    in its plane, [((i, j), lever)] per edge of its support polygon), the lever being the signed
    distance (m) from the centre of mass's projection to the edge, positive inside (to the edge
    segment when outside its span). `tolerance` (m): how far from a plane a point may be and
    still touch the floor."""
    from scipy.spatial import ConvexHull, QhullError

    faces, seen = [], set()
    for equation in ConvexHull(points).equations:
        normal, offset = equation[:3], equation[3]
        on_plane = np.flatnonzero(points @ normal + offset >= -tolerance)
        key = frozenset(on_plane.tolist())
        if key in seen or len(on_plane) < 3:
            continue
        seen.add(key)
        u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        flat = np.c_[(points[on_plane] - com) @ u, (points[on_plane] - com) @ np.cross(normal, u)]
        try:
            polygon = ConvexHull(flat)
        except QhullError:  # collinear: no area to stand on
            continue
        edges = []
        for (a, b), eq in zip(polygon.simplices, polygon.equations):
            line = float(-eq[2])  # eq: n . x + c <= 0 inside, the centre of mass at the origin
            lever = line if line <= 0.0 else _segment_distance(flat[a], flat[b])
            edges.append(((int(on_plane[a]), int(on_plane[b])), lever))
        faces.append((normal, key, edges))
    return faces


def _segment_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance from the origin to the segment a-b (2-D)."""
    ab = b - a
    t = float(np.clip(-(a @ ab) / (ab @ ab), 0.0, 1.0)) if ab.any() else 0.0
    return float(np.linalg.norm(a + t * ab))


def path_torques(points: np.ndarray, com: np.ndarray, mass: float, downs: np.ndarray, starts: np.ndarray,
                 tolerance: float, gravity: float = 9.81) -> np.ndarray:
    """Path torque (N m) from each start to upright, shape (S,); inf where no sequence of tips
    reaches upright.

    points (P, 3): the collision hull's points, body frame. com (3,): centre of mass, body frame.
    downs (U, 3): body-frame directions that point down when upright (`upright_downs`).
    starts (S, 3): the outward normals (body frame) of the faces the starts stand on (a rest's
    normal); each is matched to the nearest hull face. tolerance: as in `hull_faces`."""
    faces = hull_faces(points, com, tolerance)
    normals = np.stack([f[0] for f in faces])
    # holders[(i, j)]: the faces holding both ends of an edge; tipping over it from one lands on
    # the other whose normal is nearest (the smallest turn)
    holders: dict[tuple, list[int]] = {tuple(sorted(pair)): [] for _, _, edges in faces for pair, _ in edges}
    for k, (_, vertices, _) in enumerate(faces):
        for pair, owners in holders.items():
            if pair[0] in vertices and pair[1] in vertices:
                owners.append(k)
    links: list[list[tuple[int, float]]] = [[] for _ in faces]  # links[g]: (f, torque) to tip from f to g
    for f, (normal, _, edges) in enumerate(faces):
        for (i, j), lever in edges:
            others = [g for g in holders[tuple(sorted((i, j)))] if g != f]
            if others:
                g = max(others, key=lambda g: float(normals[g] @ normal))
                links[g].append((f, mass * gravity * max(lever, 0.0)))

    upright = (normals @ np.asarray(downs, np.float64).T).max(axis=1) >= math.cos(math.radians(UPRIGHT_DEG))
    cost = np.where(upright, 0.0, np.inf)
    heap = [(0.0, int(k)) for k in np.flatnonzero(upright)]
    heapq.heapify(heap)
    while heap:
        c, g = heapq.heappop(heap)
        if c > cost[g]:
            continue
        for f, torque in links[g]:
            through = max(c, torque)
            if through < cost[f]:
                cost[f] = through
                heapq.heappush(heap, (through, f))
    return cost[np.argmax(np.asarray(starts, np.float64) @ normals.T, axis=1)]
