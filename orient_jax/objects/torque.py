"""The torque limit of an object's motors, from the rests it actually comes to.

Drop the object, motors off, from many seeded random orientations in C MuJoCo
(`orient_jax.sim.rest_poses`, the same drops that seed the training curriculum), group the
drops by the hull face they stop on, and for each distinct rest compute the torque that tips
it over its easiest edge: m g times the horizontal distance from the centre of mass to the
nearest edge of the support polygon (the hull vertices on the floor's plane). The limit is
`PhysicsConfig.torque_margin` times the largest of these, the hardest rest to leave, with the
upright rest left out as the engine's `orient_jax.assets.mjcf.max_tipping_torque` does (a
policy never needs to leave upright; the engine's number, 3.94 N m, is from the same rule).
Which face is the base is not assumed: "upright" is the rest whose support face's outward
normal is the body's -Z (within 8 deg: normal z <= -0.99, the engine's test).

Leaving every rest is not enough: the limit is also at least `PATH_FRACTION` times the hardest
rest's path torque (`tip_paths`: the least, over sequences of tips over hull edges from the rest
to upright modulo the object's symmetry, of the largest torque that holds the body against
gravity on the way; or the straight roll, when that needs less). A can lying on its side leaves
that rest for almost nothing but needs m g times half its height (0.351 N m) to stand on an end;
with the tip rule alone its limit (0.302 N m) was 0.86 of that, and its policy came upright from
22 % of starts. The engine and the box are above the path rule already (3.94 against 1.1 x 3.54
N m; 1.3 against 1.1 x 0.70): their limits do not change. Look-alikes of upright still count as
rests to leave for the tip rule (a goal may ask for a different face down).

Never enough to fly: the limit stays below m g r (r the bounding radius about the centre of
mass: the weight's largest moment about any point of contact), capped at `FLIGHT_FRACTION` of
it, and object.json then lists the rests the capped limit cannot leave. Measured (C MuJoCo, the
engine's MJCF settings): a 1:2:3 box pushed about its tipping axis at 1.0 m g r, and at
sqrt(3) x that (all three motors at their limit), rolls over its edge without its centre of
mass ever rising above r (it stays on the floor); at sqrt(3) x 1.5 m g r it hops 6-23 mm.
The engine's limit is 0.36 m g r. What no static limit prevents is a torque held for seconds: it spins the object
up without bound (about the vertical nothing resists it), which the policy's episodes, not
the limit, must keep in check; object.json reports limit / the smallest principal inertia
(the fastest spin-up, rad/s^2) so that can be watched.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

GRAVITY = 9.81
UPRIGHT_NORMAL_Z = -0.99
"""A rest is upright when its support face's outward normal (body frame) has z <= this."""
FLIGHT_FRACTION = 0.9
"""The limit is capped at this share of m g r."""
DIRECT_ROLL_FRACTION = 0.6
"""The limit is at least this share of the largest torque a quasi-static roll straight to upright
needs (`roll_torque`, over every rest). Leaving each rest is not enough: the gallery's duck, with
1.4 x its hardest rest's tip torque (0.36 of its straight roll from its side), came upright from
74 % of starts, its failures lying on a side (95-103 deg) with no edge towards upright within
reach. The engine, at 99 %, has 0.60 of its largest straight roll (3.94 of 6.52 N m): other
objects get at least the engine's share. Calibrated on the engine alone (an engine recipe, as the
margin is)."""
PATH_FRACTION = 1.1
"""The limit is at least this share of the hardest rest's path torque to upright (`tip_paths`, or
the straight roll where that is easier). The engine, at 99 %, has 1.11 x its own (3.94 against
3.54 N m): other objects get at least the engine's share (an engine recipe, as the margin is)."""
MIN_LIMIT_PER_MGR = 0.05
"""A floor under the limit, in m g r: an object with no rest worth the name (a ball, a
lens) still needs torque to roll to upright."""
SUPPORT_TOLERANCE = 2e-3
"""Hull vertices within this share of the bounding radius of the support plane count as
touching it (a scanned face is not perfectly flat)."""


@dataclasses.dataclass(frozen=True)
class Rest:
    normal: np.ndarray
    """Outward normal of the support face in the body frame (the floor's normal is -normal)."""
    lever: float
    """Horizontal distance (m) from the centre of mass to the support polygon's nearest edge."""
    tip_torque: float
    """m g lever (N m)."""
    edge_direction: np.ndarray
    """Unit vector (body frame, in the support plane) from the COM's projection towards the
    support polygon's nearest edge."""
    drops: int
    """How many of the drops ended here."""
    quat: np.ndarray
    """One drop's final orientation [x, y, z, w] (world from body)."""
    upright: bool

    @property
    def tip_axis(self) -> np.ndarray:
        """Body-frame unit torque axis that tips the object over its easiest edge: the world's
        up x the edge direction (with up = -normal in the body frame)."""
        return np.cross(-self.normal, self.edge_direction)

    def summary(self, drops_total: int) -> dict:
        return {"normal": _round(self.normal), "lever_m": round(self.lever, 5),
                "tip_torque_nm": round(self.tip_torque, 4), "tip_axis": _round(self.tip_axis),
                "share": round(self.drops / max(drops_total, 1), 4), "quat_xyzw": _round(self.quat),
                "upright": self.upright}


@dataclasses.dataclass(frozen=True)
class TorqueLimit:
    limit: float
    """N m per motor (each motor's ctrlrange is +-limit)."""
    hardest: float
    """The hardest rest's tip torque (N m), upright excluded (unless it is the only rest)."""
    rests: list[Rest]
    drops: int
    settled: int
    flight_bound: float
    """m g r (N m)."""
    rule: str
    spin_up: float
    """limit / the smallest principal moment of inertia (rad/s^2): the fastest angular
    acceleration the motors can give."""
    roll: float = 0.0
    """The largest `roll_torque` over the rests other than upright (N m)."""
    path: float = 0.0
    """The largest path torque to upright (modulo symmetry) over the rests other than upright (N m:
    `tip_paths.path_torques`, or the straight roll where that is less)."""

    def summary(self, margin: float) -> dict:
        return {"limit_nm": self.limit, "margin": margin, "hardest_rest_nm": round(self.hardest, 4),
                "straight_roll_nm": round(self.roll, 4), "path_to_upright_nm": round(self.path, 4),
                "flight_bound_nm": round(self.flight_bound, 4), "limit_per_mgr": round(self.limit / self.flight_bound, 4),
                "max_combined_nm": round(math.sqrt(3) * self.limit, 4), "rule": self.rule,
                "max_angular_accel_rad_s2": round(self.spin_up, 1),
                "drops": self.drops, "settled": self.settled,
                "unreachable_rests": [i for i, r in enumerate(self.rests) if r.tip_torque > self.limit and not r.upright]}


def _round(v, digits: int = 5) -> list[float]:
    return [round(float(x), digits) + 0.0 for x in np.ravel(v)]


def _rotation(quat_xyzw: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(quat_xyzw).as_matrix()


def support(points: np.ndarray, com: np.ndarray, down: np.ndarray, radius: float, normals: np.ndarray | None = None):
    """(outward normal, lever, edge direction) of the hull face nearest to `down` (body frame).

    The face is the hull facet whose outward normal is closest to `down` (`normals`: the hull's
    facet normals, computed when not given); its support polygon is the convex hull, in that
    plane, of the hull vertices within SUPPORT_TOLERANCE of it. The lever is negative when the
    COM's projection falls outside (an unstable face)."""
    from scipy.spatial import ConvexHull, QhullError

    if normals is None:
        normals = ConvexHull(points).equations[:, :3]
    normal = normals[np.argmax(normals @ down)]
    height = points @ normal
    touching = points[height >= height.max() - SUPPORT_TOLERANCE * radius]
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    flat = np.c_[(touching - com) @ u, (touching - com) @ v]
    try:
        polygon = ConvexHull(flat)
    except QhullError:  # on an edge or a point: no area to stand on
        return normal, 0.0, u
    # equations: a x + b y + c <= 0 inside; the COM's projection is the origin, at distance -c
    distances = -polygon.equations[:, 2]
    k = int(np.argmin(distances))
    edge = polygon.equations[k, 0] * u + polygon.equations[k, 1] * v
    return normal, float(distances[k]), edge / np.linalg.norm(edge)


def roll_torque(points: np.ndarray, com: np.ndarray, mass: float, quat: np.ndarray, steps: int = 90) -> float:
    """The largest motor torque (N m) a quasi-static roll from orientation `quat` ([x, y, z, w],
    world from body) straight to upright needs: the body turns about the horizontal axis that
    takes its +Z to the world's up, pivoting on its lowest hull point (`points`, body frame), and
    at each of `steps` angles the motor must cancel gravity's torque about that pivot along the
    axis (none where gravity helps)."""
    from scipy.spatial.transform import Rotation

    start = Rotation.from_quat(quat)
    up = start.apply([0.0, 0.0, 1.0])
    axis = np.cross(up, [0.0, 0.0, 1.0])
    sin = float(np.linalg.norm(axis))
    if sin < 1e-9:
        return 0.0  # upright, or upside down: any horizontal axis; a rest is never exactly that
    axis /= sin
    angle = float(np.arctan2(sin, up[2]))
    need = 0.0
    for t in np.linspace(0.0, 1.0, steps):
        offsets = (Rotation.from_rotvec(axis * angle * t) * start).apply(points - com)  # about the COM, world axes
        pivot = offsets[np.argmin(offsets[:, 2])]
        gravity = np.cross(-pivot, [0.0, 0.0, -mass * GRAVITY])  # about the pivot
        need = max(need, float(-gravity @ axis))
    return need


def find_rests(mjcf_path, drops: int = 128, seed: int = 0) -> tuple[list[Rest], int, "RigidBody"]:  # noqa: F821
    """The distinct rests of the object in `mjcf_path` (motors off), hardest first, the number
    of drops that settled, and the object's RigidBody."""
    from orient_jax.sim import rest_poses, rigid_body

    body = rigid_body.load(str(mjcf_path))
    # __wrapped__: no lru_cache, the file at this path may have changed since a cached call
    quats = rest_poses.settled_orientations.__wrapped__(str(mjcf_path), drops=drops, seed=seed)
    from scipy.spatial import ConvexHull

    radius = float(np.linalg.norm(body.hull_points - body.com, axis=1).max())
    normals = ConvexHull(body.hull_points).equations[:, :3]
    groups: dict[tuple, list] = {}
    for q in np.asarray(quats, np.float64):
        down = _rotation(q).T @ np.array([0.0, 0.0, -1.0])
        normal, lever, edge = support(body.hull_points, body.com, down, radius, normals)
        groups.setdefault(tuple(np.round(normal, 3)), []).append((normal, lever, edge, q))
    rests = []
    for members in groups.values():
        normal, lever, edge, q = members[0]
        rests.append(Rest(normal=normal, lever=max(lever, 0.0), tip_torque=body.mass * GRAVITY * max(lever, 0.0),
                          edge_direction=edge, drops=len(members), quat=q, upright=bool(normal[2] <= UPRIGHT_NORMAL_Z)))
    rests.sort(key=lambda r: -r.tip_torque)
    return rests, len(quats), body


def torque_limit(mjcf_path, margin: float, drops: int = 128, seed: int = 0, symmetry=None) -> TorqueLimit:
    """The motors' torque limit for the object in `mjcf_path` (see the module docstring); upright
    for the path rule is modulo `symmetry` (an `orient_jax.symmetry.Symmetry`, none by default)."""
    from orient_jax.objects import tip_paths
    from orient_jax.symmetry import TRIVIAL

    rests, settled, body = find_rests(mjcf_path, drops=drops, seed=seed)
    radius = float(np.linalg.norm(body.hull_points - body.com, axis=1).max())
    flight = body.mass * GRAVITY * radius
    others = [r.tip_torque for r in rests if not r.upright]
    if others:
        hardest, rule = max(others), f"{margin:g} x the hardest rest's tip torque (upright excluded)"
    elif rests:
        hardest, rule = max(r.tip_torque for r in rests), f"{margin:g} x the tip torque of upright, its only rest"
    else:
        hardest, rule = 0.0, "no drop came to rest"
    limit = margin * hardest
    rolls = [roll_torque(body.hull_points, body.com, body.mass, r.quat) for r in rests if not r.upright]
    roll = max(rolls, default=0.0)
    if DIRECT_ROLL_FRACTION * roll > limit:
        limit, rule = DIRECT_ROLL_FRACTION * roll, f"{DIRECT_ROLL_FRACTION:g} x the largest straight roll to upright ({rule} is less)"
    downs = tip_paths.upright_downs(symmetry or TRIVIAL)
    leaving = [r for r in rests if not r.upright]
    paths = tip_paths.path_torques(body.hull_points, body.com, body.mass, downs, np.array([r.normal for r in leaving]),
                                   tolerance=SUPPORT_TOLERANCE * radius) if leaving else np.zeros(0)
    # a rest's need: its easiest sequence of tips over edges, or its straight roll when that is easier
    needs = np.minimum(paths, np.asarray(rolls, np.float64)) if leaving else paths
    path = float(np.max(needs[np.isfinite(needs)], initial=0.0))
    if PATH_FRACTION * path > limit:
        limit, rule = PATH_FRACTION * path, f"{PATH_FRACTION:g} x the hardest rest's path torque to upright ({rule} is less)"
    if limit < MIN_LIMIT_PER_MGR * flight:
        limit, rule = MIN_LIMIT_PER_MGR * flight, f"{MIN_LIMIT_PER_MGR:g} m g r (floor: {rule} is less)"
    cap = FLIGHT_FRACTION * flight
    if limit > cap:
        limit, rule = cap, f"{FLIGHT_FRACTION:g} m g r (cap, never enough to fly: {rule} is more)"
    limit = float(f"{limit:.3g}")
    assert limit < flight, (limit, flight)
    inertia = np.linalg.eigvalsh(inertia_tensor(mjcf_path, body.body_id))
    return TorqueLimit(limit=limit, hardest=hardest, rests=rests, drops=drops, settled=settled,
                       flight_bound=flight, rule=rule, spin_up=limit / float(inertia.min()), roll=roll, path=path)


def inertia_tensor(mjcf_path, body_id: int) -> np.ndarray:
    """The body's (3, 3) inertia tensor about its centre of mass, in the body frame."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(mjcf_path))
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.body_iquat[body_id])
    rot = rot.reshape(3, 3)
    return rot @ np.diag(model.body_inertia[body_id]) @ rot.T
