"""An object's symmetry group, and orientation errors taken modulo it.

A rotation S of the object frame is a symmetry when the object looks the same after it: the
object at orientation q (body -> world) and at q * S show the same picture, so q and q * S are
the same answer. The group is stored as BOP stores it (`models_info.json`'s
`symmetries_discrete` and `symmetries_continuous`), in the object frame:

- `discrete`: the group's finite elements other than the identity, [x, y, z, w] each (a box
  with a square cross-section: the turns by 90, 180, 270 deg about its axis and the four half
  turns about axes across it);
- `axis`: () or a unit 3-vector, a continuous symmetry (any turn about it: a can, a bottle).
  Only the direction of that axis can be seen, so errors compare the axis's directions.

The trivial group (no element, no axis) is every asymmetric object: each function then computes
exactly what it did before symmetry existed (the same ops), so asymmetric objects keep their
numbers bit for bit.

Everything is jit/vmap-safe and broadcasts over leading axes like `rotations`; the group is a
hashable, static value.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from orient_jax import rotations
from orient_jax.errors import UserError

EZ = (0.0, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """A symmetry group in the object frame (see the module doc); the default is trivial."""

    discrete: tuple[tuple[float, ...], ...] = ()
    """The group's discrete elements other than the identity, [x, y, z, w] each, w >= 0."""
    axis: tuple[float, ...] = ()
    """() or the unit axis (object frame) of a continuous symmetry."""

    def __post_init__(self):
        # JSON gives lists; a hashable (static) value needs tuples.
        discrete = tuple(tuple(float(v) for v in q) for q in self.discrete)
        axis = tuple(float(v) for v in self.axis)
        if any(len(q) != 4 or not np.all(np.isfinite(q)) for q in discrete):
            raise UserError("symmetry: each discrete element must be a finite quaternion [x, y, z, w]")
        if any(abs(np.linalg.norm(q) - 1.0) > 1e-3 for q in discrete):
            raise UserError("symmetry: discrete elements must be unit quaternions")
        if axis and (len(axis) != 3 or not np.all(np.isfinite(axis)) or abs(np.linalg.norm(axis) - 1.0) > 1e-3):
            raise UserError("symmetry: the continuous axis must be a unit 3-vector")
        object.__setattr__(self, "discrete", discrete)
        object.__setattr__(self, "axis", axis)

    @property
    def trivial(self) -> bool:
        """No symmetry: the identity alone."""
        return not self.discrete and not self.axis

    @property
    def continuous(self) -> bool:
        return bool(self.axis)

    def elements(self) -> np.ndarray:
        """The discrete elements with the identity first, (K, 4) float32."""
        return np.asarray([(0.0, 0.0, 0.0, 1.0), *self.discrete], np.float32)

    def order(self) -> int | float:
        """How many orientations look alike: K, or inf with a continuous symmetry."""
        return float("inf") if self.axis else 1 + len(self.discrete)

    def to_card(self) -> dict:
        """The object card's form: {"discrete": [[x, y, z, w], ...], "continuous": [{"axis": [...]}]}."""
        return {"discrete": [[round(v, 6) for v in q] for q in self.discrete],
                "continuous": [{"axis": [round(v, 6) for v in self.axis]}] if self.axis else []}

    @classmethod
    def from_card(cls, card: dict | None) -> "Symmetry":
        """From an object card's "symmetry" (absent: trivial). Several continuous axes would make
        every orientation look alike (a sphere): there is then nothing to learn, which is refused."""
        if not card:
            return cls()
        continuous = card.get("continuous") or []
        if len(continuous) > 1:
            raise UserError("symmetry: more than one continuous axis makes every orientation look the same "
                            "(a sphere): there is no orientation to learn")
        axis = tuple(continuous[0]["axis"]) if continuous else ()
        if axis:
            n = np.linalg.norm(axis)
            axis = tuple(np.asarray(axis, np.float64) / n) if n > 0 else axis
        return cls(discrete=tuple(tuple(q) for q in card.get("discrete") or []), axis=axis)

    def describe(self) -> str:
        """One line for people: "none", "8 orientations", "any turn about (0, 0, 1) x 2"."""
        if self.trivial:
            return "none"
        if self.axis:
            ax = ", ".join(f"{v:.3g}" for v in self.axis)
            extra = f", and {len(self.discrete)} more turn(s)" if self.discrete else ""
            return f"any turn about ({ax}){extra}"
        return f"{self.order()} look-alike orientations"


TRIVIAL = Symmetry()


def _axis(sym: Symmetry) -> jax.Array:
    return jnp.asarray(sym.axis, jnp.float32)


def _equivalents(q: jax.Array, sym: Symmetry) -> jax.Array:
    """q * S for every discrete element S (identity first), (..., K, 4)."""
    return rotations.multiply(q[..., None, :], jnp.asarray(sym.elements()))


def _vector_angle(u: jax.Array, v: jax.Array) -> jax.Array:
    """Angle (rad, (...)) between 3-vectors, accurate near 0 and pi."""
    return jnp.arctan2(rotations._norm(jnp.cross(u, v)), jnp.sum(u * v, axis=-1))


def error_angle(q_a: jax.Array, q_b: jax.Array, sym: Symmetry = TRIVIAL) -> jax.Array:
    """Angle (rad, (...)) between two orientations modulo the group: the smallest geodesic angle
    between q_a and any q_b * S; with a continuous symmetry, the smallest angle between the
    directions of its axis (q_a * a and q_b * S * a), the only part of the pose one can see."""
    if sym.trivial:
        return rotations.geodesic_angle(q_a, q_b)
    candidates = _equivalents(q_b, sym)
    if not sym.continuous:
        return jnp.min(rotations.geodesic_angle(q_a[..., None, :], candidates), axis=-1)
    axis = _axis(sym)
    seen_a = rotations.rotate(q_a, axis)[..., None, :]
    return jnp.min(_vector_angle(seen_a, rotations.rotate(candidates, axis)), axis=-1)


def tilt(q: jax.Array, sym: Symmetry = TRIVIAL) -> jax.Array:
    """Tilt (rad, (...)) modulo the group: the smallest angle between world +Z and the body's +Z
    of any look-alike orientation q * S (* a turn about the continuous axis). A box whose square
    faces are its +-Z is upright on either; a can is upright whatever its turn about its axis."""
    if sym.trivial:
        return rotations.tilt(q)
    up = jnp.asarray(EZ, jnp.float32)
    candidates = _equivalents(q, sym)
    if not sym.continuous:
        return jnp.min(rotations.tilt(candidates), axis=-1)
    # Turning about the axis a sweeps S * ez around a cone of half-angle beta = angle(a, S * ez)
    # (in the body frame); world +Z is |angle(q * a, +Z) - beta| from that cone.
    axis = _axis(sym)
    beta = _vector_angle(axis, rotations.rotate(jnp.asarray(sym.elements()), up))  # (K,)
    axis_world = rotations.rotate(q, axis)
    return jnp.min(jnp.abs(_vector_angle(axis_world, up)[..., None] - beta), axis=-1)


def random_equivalent(key: jax.Array, q: jax.Array, sym: Symmetry) -> jax.Array:
    """A uniformly random look-alike of q (..., 4): q * S * (a random turn about the axis). What a
    pose model may answer for a symmetric object: any of them, frame by frame."""
    k_elem, k_turn = jax.random.split(key)
    elements = jnp.asarray(sym.elements())
    pick = jax.random.randint(k_elem, q.shape[:-1], 0, elements.shape[0])
    out = rotations.multiply(q, elements[pick])
    if sym.continuous:
        angle = jax.random.uniform(k_turn, q.shape[:-1], minval=-jnp.pi, maxval=jnp.pi)
        out = rotations.multiply(out, rotations.from_axis_angle(jnp.broadcast_to(_axis(sym), q.shape[:-1] + (3,)), angle))
    return rotations.canonicalize(out)


def canonical(q: jax.Array, sym: Symmetry) -> jax.Array:
    """One representative of q's look-alikes (..., 4), the same for all of them: the one nearest
    the identity; with a continuous symmetry, first untwisted about the axis (the shortest turn
    taking the axis to where q puts it). Discontinuous where two representatives are equally
    near (the label the "canonical" pose loss trains against, see `pose/loss.py`)."""
    if sym.trivial:
        return rotations.canonicalize(q)
    candidates = _equivalents(q, sym)
    if sym.continuous:
        axis = _axis(sym)
        candidates = shortest_turn(jnp.broadcast_to(axis, candidates.shape[:-1] + (3,)),
                                   rotations.rotate(candidates, axis))
    best = jnp.argmin(rotations.geodesic_angle(candidates, rotations.identity()), axis=-1)
    return rotations.canonicalize(jnp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :])


def shortest_turn(u: jax.Array, v: jax.Array) -> jax.Array:
    """The smallest rotation (..., 4) taking unit vector u to unit vector v (a half turn about an
    axis normal to u when they are opposite)."""
    cross = jnp.cross(u, v)
    dot = jnp.sum(u * v, axis=-1, keepdims=True)
    # Opposite vectors: any normal to u; pick the one least aligned with u among x and y.
    normal = jnp.where(jnp.abs(u[..., :1]) < 0.9, jnp.cross(u, jnp.asarray([1.0, 0.0, 0.0])),
                       jnp.cross(u, jnp.asarray([0.0, 1.0, 0.0])))
    q = jnp.concatenate([cross, 1.0 + dot], axis=-1)
    opposite = (1.0 + dot) < 1e-6
    q = jnp.where(opposite, jnp.concatenate([normal, jnp.zeros_like(dot)], axis=-1), q)
    return rotations.canonicalize(rotations.normalize(q))
