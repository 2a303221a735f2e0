"""Which look-alike orientation is the body's own: a bank of hypotheses checked by the gyro.

For a symmetric object the pose model can only name the class of look-alike orientations
(q ~ q * S, `orient_jax.symmetry`), yet the motors and the gyro are fixed to one body frame: a
torque meant to tip the object up tips it sideways when the policy assumes the wrong look-alike.
Views alone never tell them apart; motion does. Only the body's own orientation, turned by the
measured body-frame angular velocity, keeps agreeing with the next views: a wrong look-alike
q * S turned by the same rates drifts away whenever the body turns about an axis S moves.

So the policy's graph carries H hypotheses, started at the first view as its look-alikes (each
discrete element, times `TURNS` evenly spaced turns about a continuous axis). Each control step
every hypothesis is turned by the gyro, scored by how far it then lies from the view (modulo the
group: the part of the pose the view shows), and pulled part of the way (`GAIN`) to the
look-alike of the view nearest to it. The policy sees the hypothesis with the lowest running
score (`DECAY`) and how sure that is. Nothing is learned: `update` is part of the exported graph
(input `memory`, output `memory_out`); the page feeds back what the last call returned, zeros at
an episode's start.

Layout: memory (H + 1, 5): rows 0..H-1 one hypothesis each, [x, y, z, w, score] (score: a
running mean of squared residuals, rad^2); row H [the last angular velocity (3), started, 0].
An asymmetric object needs none of this (`needed`): its policy is unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.symmetry import Symmetry

TURNS = 16
"""Hypotheses per continuous axis: 22.5 deg apart, so the best is within 11.25 deg of the truth."""
GAIN = 0.3
"""Share of a hypothesis's visible error each view corrects (views are noisy; the gyro is not)."""
DECAY = 0.95
"""Per control step: the scores remember the last ~20 steps (0.4 s at 50 Hz)."""
WIDTH = 5
TIE_RAD2 = 1e-7
"""Scores closer than this (rad^2) to the lowest are a tie, won by the lowest index. At an
episode's start every hypothesis agrees with the views to within float32 rounding (scores of
1e-10): which of them an argmin picks is then decided by rounding, which XLA and onnxruntime
do differently, and the exported policy would act on another hypothesis than the trained one.
A wrong hypothesis that motion has exposed scores 1e-5 and more."""


def needed(sym: Symmetry) -> bool:
    """Whether a policy for an object with this symmetry needs the observer."""
    return not sym.trivial


def offsets(sym: Symmetry) -> np.ndarray:
    """The hypotheses' offsets E (H, 4) from the first view: q_k = view * E_k (identity first)."""
    elements = sym.elements().astype(np.float64)
    if not sym.continuous:
        return elements.astype(np.float32)
    axis = np.asarray(sym.axis, np.float64)
    angles = 2.0 * np.pi * np.arange(TURNS) / TURNS
    turns = np.concatenate([np.sin(angles / 2)[:, None] * axis, np.cos(angles / 2)[:, None]], axis=1)
    # Quaternion products E_k * T_j in numpy: a constant of the graph, never traced.
    x1, y1, z1, w1 = np.moveaxis(elements[:, None, :], -1, 0)
    x2, y2, z2, w2 = np.moveaxis(turns[None, :, :], -1, 0)
    out = np.stack([w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                    w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2], axis=-1)
    return out.reshape(-1, 4).astype(np.float32)


def shape(sym: Symmetry) -> tuple[int, int]:
    """(H + 1, 5): one memory's shape."""
    return len(offsets(sym)) + 1, WIDTH


def zeros(sym: Symmetry, batch: tuple[int, ...] = ()) -> jax.Array:
    """The memory of a fresh episode (*batch, H + 1, 5)."""
    return jnp.zeros((*batch, *shape(sym)), jnp.float32)


def _pull(hypotheses: jax.Array, view: jax.Array, sym: Symmetry, gain: float) -> jax.Array:
    """Each hypothesis (..., H, 4) turned (in the world frame) `gain` of the way to the look-alike
    of `view` (..., 4) nearest to it; with a continuous axis, only the axis is pulled."""
    elements = jnp.asarray(sym.elements())
    looks = rotations.multiply(view[..., None, :], elements)  # (..., K, 4)
    if sym.continuous:
        axis = jnp.asarray(sym.axis, jnp.float32)
        seen = rotations.rotate(hypotheses, axis)[..., :, None, :]  # (..., H, 1, 3)
        wanted = rotations.rotate(looks, axis)[..., None, :, :]  # (..., 1, K, 3)
        cos = jnp.sum(seen * wanted, axis=-1)  # (..., H, K)
        best = jnp.argmax(cos, axis=-1)
        target = jnp.take_along_axis(jnp.broadcast_to(wanted, cos.shape + (3,)), best[..., None, None], axis=-2)[..., 0, :]
        seen = seen[..., 0, :]
        cross = jnp.cross(seen, target)
        angle = jnp.arctan2(rotations._norm(cross), jnp.sum(seen * target, axis=-1))
        correction = rotations.from_rotvec(gain * angle[..., None] * rotations._unit(cross))
    else:
        angles = rotations.geodesic_angle(hypotheses[..., :, None, :], looks[..., None, :, :])  # (..., H, K)
        best = jnp.argmin(angles, axis=-1)
        looks_h = jnp.broadcast_to(looks[..., None, :, :], angles.shape + (4,))
        target = jnp.take_along_axis(looks_h, best[..., None, None], axis=-2)[..., 0, :]
        # The world-frame rotation from hypothesis to target, a `gain` share of it.
        correction = rotations.from_rotvec(gain * rotations.to_rotvec(rotations.multiply(target, rotations.conjugate(hypotheses))))
    return rotations.normalize(rotations.multiply(correction, hypotheses))


def update(memory: jax.Array, quat: jax.Array, ang_vel: jax.Array, sym: Symmetry, dt: float) -> jax.Array:
    """memory (..., H + 1, 5), this step's view quat (..., 4) (either sign) and body-frame angular
    velocity (..., 3) -> the memory including them (the policy's `memory_out`)."""
    view = rotations.normalize(quat)
    hypotheses, scores = memory[..., :-1, :4], memory[..., :-1, 4]
    last_ang_vel, started = memory[..., -1, :3], memory[..., -1, 3] > 0.5
    # Turn every hypothesis by the mean rate over the control period (body frame: on the right).
    turn = rotations.from_rotvec(0.5 * (last_ang_vel + ang_vel) * dt)
    turned = rotations.normalize(rotations.multiply(hypotheses, turn[..., None, :]))
    residual = symmetry_lib.error_angle(turned, view[..., None, :], sym)
    pulled = _pull(turned, view, sym, GAIN)
    first = rotations.multiply(view[..., None, :], jnp.asarray(offsets(sym)))
    hypotheses = jnp.where(started[..., None, None], pulled, first)
    scores = jnp.where(started[..., None], DECAY * scores + (1.0 - DECAY) * jnp.square(residual), 0.0)
    last = jnp.concatenate([ang_vel, jnp.ones_like(ang_vel[..., :1]), jnp.zeros_like(ang_vel[..., :1])], axis=-1)
    rows = jnp.concatenate([hypotheses, scores[..., None]], axis=-1)
    return jnp.concatenate([rows, last[..., None, :]], axis=-2)


def estimate(memory: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(the best hypothesis (..., 4), its confidence (..., 2)): the root scores (rad) of the best and
    the runner-up, so the policy can tell "identified" (a clear gap) from "not yet" (a tie)."""
    scores = memory[..., :-1, 4]
    first = jnp.min(scores, axis=-1)
    best = jnp.argmax(scores <= first[..., None] + TIE_RAD2, axis=-1)  # the first of the (near-)lowest
    quat = jnp.take_along_axis(memory[..., :-1, :4], best[..., None, None], axis=-2)[..., 0, :]
    index = jnp.arange(scores.shape[-1])
    second = jnp.min(jnp.where(index == best[..., None], jnp.inf, scores), axis=-1)
    return quat, jnp.sqrt(jnp.maximum(jnp.stack([first, second], axis=-1), 0.0))
