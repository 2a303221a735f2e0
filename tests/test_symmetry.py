"""Symmetry groups: errors modulo the group, the pose loss, the look-alike observer, the env and the
exported policy graph (issue 26)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax import rotations
from orient_jax import symmetry as S
from orient_jax.sim import observer


def turn(axis, deg) -> tuple[float, ...]:
    return tuple(np.asarray(rotations.from_axis_angle(jnp.asarray(axis, jnp.float32), jnp.deg2rad(jnp.float32(deg)))).tolist())


BOX = S.Symmetry(discrete=(turn([0, 0, 1], 90), turn([0, 0, 1], 180), turn([0, 0, 1], 270), turn([1, 0, 0], 180),
                           turn([0, 1, 0], 180), turn([1, 1, 0], 180), turn([1, -1, 0], 180)))
CAN = S.Symmetry(axis=(0.0, 0.0, 1.0))
CAN_FLIP = S.Symmetry(discrete=(turn([1, 0, 0], 180),), axis=(0.0, 0.0, 1.0))
TILTED_AXIS = S.Symmetry(axis=tuple(np.array([1.0, 0.0, 1.0]) / np.sqrt(2)))
GROUPS = {"box": BOX, "can": CAN, "can_flip": CAN_FLIP, "tilted_axis": TILTED_AXIS}


def quats(n: int, seed: int) -> jax.Array:
    return rotations.sample_uniform(jax.random.PRNGKey(seed), (n,))


def test_trivial_group_is_exactly_the_old_arithmetic():
    a, b = quats(256, 0), quats(256, 1)
    assert S.TRIVIAL.trivial and S.Symmetry.from_card(None).trivial and S.Symmetry.from_card({"discrete": [], "continuous": []}).trivial
    np.testing.assert_array_equal(S.error_angle(a, b), rotations.geodesic_angle(a, b))
    np.testing.assert_array_equal(S.tilt(a), rotations.tilt(a))


@pytest.mark.parametrize("name", list(GROUPS))
def test_look_alikes_are_the_same_answer(name):
    sym = GROUPS[name]
    q = quats(256, 2)
    alike = S.random_equivalent(jax.random.PRNGKey(3), q, sym)
    assert float(jnp.max(rotations.geodesic_angle(q, alike))) > 0.5  # they are different rotations...
    assert float(jnp.max(S.error_angle(q, alike, sym))) < 1e-3  # ...and the same answer
    np.testing.assert_allclose(S.tilt(alike, sym), S.tilt(q, sym), atol=1e-3)
    # Canonical representatives agree (almost everywhere: not at the ties between representatives).
    same = S.error_angle(S.canonical(q, sym), S.canonical(alike, sym), sym)
    assert float(jnp.max(same)) < 1e-3
    assert float(jnp.mean(rotations.geodesic_angle(S.canonical(q, sym), S.canonical(alike, sym)) < 1e-3)) > 0.97


@pytest.mark.parametrize("name", list(GROUPS))
def test_error_modulo_the_group_is_a_minimum_and_a_distance(name):
    sym = GROUPS[name]
    a, b = quats(256, 4), quats(256, 5)
    err = S.error_angle(a, b, sym)
    assert bool(jnp.all(err <= rotations.geodesic_angle(a, b) + 1e-5))
    np.testing.assert_allclose(err, S.error_angle(b, a, sym), atol=1e-4)  # a group: symmetric
    # A known small error survives: turn a by 7 deg about an axis normal to the symmetry axis.
    normal = np.cross(np.asarray(sym.axis or (0.0, 0.0, 1.0)), [0.3, 0.5, 0.2])
    moved = rotations.multiply(a, rotations.from_axis_angle(jnp.asarray(normal, jnp.float32), jnp.deg2rad(7.0)))
    np.testing.assert_allclose(np.degrees(S.error_angle(a, moved, sym)), 7.0, atol=1e-3)


def test_tilt_modulo_the_group():
    upside_down = jnp.asarray(turn([1, 0, 0], 180))
    on_its_side = jnp.asarray(turn([1, 0, 0], 90))
    assert np.degrees(float(S.tilt(upside_down, BOX))) < 1e-3  # both square faces are "upright"
    np.testing.assert_allclose(np.degrees(float(S.tilt(on_its_side, BOX))), 90.0, atol=1e-3)
    assert np.degrees(float(S.tilt(upside_down, CAN))) == pytest.approx(180.0, abs=1e-3)  # a can's top is its top
    assert np.degrees(float(S.tilt(upside_down, CAN_FLIP))) < 1e-3
    # A continuous axis that is not +Z: upright is any turn about it that brings +Z up.
    q = quats(64, 6)
    looks = rotations.multiply(q[:, None, :], rotations.from_axis_angle(
        jnp.asarray(TILTED_AXIS.axis, jnp.float32), jnp.linspace(-jnp.pi, jnp.pi, 721))[None])
    np.testing.assert_allclose(S.tilt(q, TILTED_AXIS), jnp.min(rotations.tilt(looks), axis=-1), atol=2e-3)


def test_card_round_trip_and_refusals():
    for sym in GROUPS.values():
        assert S.Symmetry.from_card(sym.to_card()).to_card() == sym.to_card()
    from orient_jax.errors import UserError

    with pytest.raises(UserError, match="sphere"):
        S.Symmetry.from_card({"continuous": [{"axis": [0, 0, 1]}, {"axis": [1, 0, 0]}]})
    with pytest.raises(UserError, match="unit"):
        S.Symmetry(discrete=((0.0, 0.0, 0.5, 0.5),))


@pytest.mark.parametrize("mode", ["min", "canonical", "auto"])
@pytest.mark.parametrize("name", ["box", "can"])
def test_symmetric_pose_loss(name, mode):
    from orient_jax.pose.loss import resolve_symmetry_loss, symmetric_loss

    sym = GROUPS[name]
    q = quats(64, 7)
    raw = rotations.to_6d(S.random_equivalent(jax.random.PRNGKey(8), q, sym))  # a look-alike answer
    if resolve_symmetry_loss(mode, sym) == "min":  # any look-alike is right
        assert float(symmetric_loss(raw, q, "6d", sym, mode)) < 5e-3
    else:  # only the canonical one is, but it is, for every look-alike label
        assert float(symmetric_loss(raw, q, "6d", sym, mode)) > 0.1
        assert float(symmetric_loss(rotations.to_6d(S.canonical(q, sym)), S.random_equivalent(
            jax.random.PRNGKey(9), q, sym), "6d", sym, mode)) < 5e-3
    grads = jax.grad(lambda r: symmetric_loss(r, q, "6d", sym, mode))(raw + 0.01)
    assert bool(jnp.all(jnp.isfinite(grads)))
    # Asymmetric objects: the plain geodesic loss, unchanged.
    from orient_jax.pose.loss import geodesic_loss

    assert float(symmetric_loss(raw, q, "6d", S.TRIVIAL, mode)) == float(geodesic_loss(raw, q, "6d"))


def test_auto_loss_is_canonical_for_discrete_groups_and_min_with_an_axis():
    from orient_jax.pose.loss import resolve_symmetry_loss

    assert resolve_symmetry_loss("auto", GROUPS["box"]) == "canonical"
    assert resolve_symmetry_loss("auto", GROUPS["can"]) == "min"
    assert resolve_symmetry_loss("min", GROUPS["box"]) == "min"


def test_axis_loss_teaches_the_line_before_the_ends():
    """A can whose two ends the network cannot tell apart yet: one prediction fitted to both ends'
    labels. The signed axis angle alone is flat there (angle(d, a) + angle(d, -a) = 180 deg); the
    loss's line term still brings the prediction onto the axis's line."""
    from orient_jax.pose.loss import symmetric_loss

    q = quats(64, 10)
    flipped = rotations.multiply(q, jnp.asarray([1.0, 0.0, 0.0, 0.0]))
    both = lambda r: 0.5 * (symmetric_loss(r, q, "6d", CAN) + symmetric_loss(r, flipped, "6d", CAN))  # noqa: E731
    step = jax.jit(jax.value_and_grad(both))
    raw = jax.random.normal(jax.random.PRNGKey(11), (64, 6))

    def line_error_deg(r):
        angle = S.error_angle(rotations.from_6d(r), q, CAN)
        return float(jnp.degrees(jnp.mean(jnp.minimum(angle, jnp.pi - angle))))

    before = line_error_deg(raw)
    for _ in range(200):
        _, grad = step(raw)
        raw = raw - 0.5 * grad
    assert before > 45.0 and line_error_deg(raw) < 0.5 * before


def _observe_moving_bodies(sym, seeds, steps=120, noise_deg=3.0, dt=0.02):
    """Bodies turning at smoothly varying rates (one per seed, vmapped: one compile); the observer
    gets a random look-alike of each view (with a noise of `noise_deg`) and the true gyro.
    Returns the estimate's true error (deg), (seeds, steps)."""

    def one(seed):
        k0, k1, k2 = jax.random.split(jax.random.PRNGKey(seed), 3)
        rates = jnp.cumsum(jax.random.normal(k1, (steps, 3)) * 0.8, axis=0)

        def step(carry, inputs):
            q, memory = carry
            rate, key = inputs
            k_look, k_err = jax.random.split(key)
            view = rotations.multiply(rotations.random_rotation_of_angle(k_err, jnp.deg2rad(noise_deg)),
                                      S.random_equivalent(k_look, q, sym))
            memory = observer.update(memory, view, rate, sym, dt)
            estimate, _ = observer.estimate(memory)
            q_next = rotations.normalize(rotations.multiply(q, rotations.from_rotvec(rate * dt)))
            return (q_next, memory), rotations.geodesic_angle_deg(estimate, q)

        start = (rotations.sample_uniform(k0), observer.zeros(sym))
        return jax.lax.scan(step, start, (rates, jax.random.split(k2, steps)))[1]

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(seeds)))


def test_observer_breaks_near_ties_by_index_so_rounding_never_picks_the_hypothesis():
    """At an episode's start all hypotheses agree with the views to float32 rounding; an argmin
    there would pick by rounding (XLA and onnxruntime differ: the exported policy then acted on
    another hypothesis). Near ties go to the lowest index; a real lead still wins."""
    rows = np.zeros((5, observer.WIDTH), np.float32)
    rows[:4, :4] = np.eye(4)[[3, 0, 1, 2]]  # four distinct hypotheses: identity, x, y, z half-turns
    near_tie = rows.copy()
    near_tie[:4, 4] = [3e-10, 1e-10, 5e-10, 2e-3]
    quat, confidence = observer.estimate(jnp.asarray(near_tie))
    np.testing.assert_array_equal(quat, [0, 0, 0, 1])  # row 0, though row 1's score is lower
    np.testing.assert_allclose(confidence, np.sqrt([1e-10, 1e-10]), rtol=1e-5)  # the lowest score, then the next one
    lead = rows.copy()
    lead[:4, 4] = [2e-3, 1e-4, 5e-5, 3e-3]
    quat, confidence = observer.estimate(jnp.asarray(lead))
    np.testing.assert_array_equal(quat, [0, 1, 0, 0])  # row 2: ahead by far more than the tie width
    np.testing.assert_allclose(confidence, np.sqrt([5e-5, 1e-4]), rtol=1e-5)


@pytest.mark.parametrize("name", ["box", "can"])
def test_observer_finds_the_body_among_its_look_alikes(name):
    errors = _observe_moving_bodies(GROUPS[name], np.arange(8))
    # At the first view it can only guess (a look-alike); once the body has turned, the gyro has
    # told the look-alikes apart: within a few degrees of the body's own orientation (a can's
    # hypotheses are 22.5 deg apart in their turn about the axis, hence the wider bound).
    assert np.median(errors[:, 0]) > 20.0
    assert np.percentile(errors[:, 40:], 95) < (12.0 if name == "can" else 6.0)


def test_observer_memory_starts_from_zeros_and_has_the_contract_shape():
    memory = observer.zeros(BOX, (3,))
    assert memory.shape == (3, *observer.shape(BOX)) == (3, 9, 5)
    view = quats(3, 9)
    out = observer.update(memory, -view, jnp.zeros((3, 3)), BOX, 0.02)  # either sign
    estimate, confidence = observer.estimate(out)
    assert float(jnp.max(rotations.geodesic_angle(estimate, view))) < 1e-5  # a tie: the view itself
    assert bool(jnp.all(confidence == 0.0))
    assert observer.shape(CAN) == (observer.TURNS + 1, 5)


def test_symmetric_env_counts_either_square_face_as_upright_and_carries_the_observer(tmp_path):
    from object_helpers import import_box

    from orient_jax import sim

    folder = import_box(tmp_path / "box", symmetry=BOX)
    mjcf = str(folder / "object.xml")
    config = sim.default_config("upright", mjcf)
    assert config.symmetry.to_card() == BOX.to_card()  # from the object card
    env = sim.load("upright", config, mjcf_path=mjcf)
    assert env.obs_spec()["memory"] == observer.shape(BOX)
    assert env.error_angle(jnp.asarray(turn([1, 0, 0], 180)), rotations.identity(), config.symmetry) < 1e-4
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    assert state.obs["memory"].shape == observer.shape(BOX) and not bool(jnp.any(state.obs["memory"]))
    state = jax.jit(env.step)(state, jnp.zeros(3))
    assert float(state.obs["memory"][-1, 3]) == 1.0  # started
    assert env.policy_features(state.obs).shape == (9 + 2,)
    trivial = sim.load("upright", dataclasses.replace(config, symmetry=S.TRIVIAL), mjcf_path=mjcf)
    assert "memory" not in trivial.obs_spec()


@pytest.mark.parametrize("name", ["box", "can"])
def test_exported_policy_with_the_observer_matches_jax(tmp_path, name):
    from orient_jax.export import onnx_export, parity
    from orient_jax.export.contract import policy_contract_for
    from orient_jax.export.testing import random_policy_artifact

    artifact = random_policy_artifact("upright", symmetry=GROUPS[name])
    contract = policy_contract_for(artifact)
    assert contract.memory == observer.shape(GROUPS[name])
    path = onnx_export.export_policy(artifact, tmp_path / "policy.onnx")
    cases = parity.policy_cases(False, 64, 0, memory=contract.memory)
    report = parity.compare("policy", parity.jax_policy(artifact), path, cases, parity.BATCHES)
    assert report["pass"], report["failures"]
