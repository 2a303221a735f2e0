"""The pose CNN: contract shapes, cost, heads, loss, learning, checkpoints."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.spatial.transform import Rotation

from orient_jax import rotations
from orient_jax.errors import UserError
from orient_jax.pose import checkpoint as pose_ckpt
from orient_jax.pose.loss import geodesic_from_matrices, geodesic_loss
from orient_jax.pose.model import PoseNet, PoseNetConfig, flops, quat_from_raw
from orient_jax.pose.train import PoseTrainConfig, train_and_evaluate

from data_helpers import write_fake_dataset

SMALL = PoseNetConfig(image_size=32, widths=(8, 8, 16, 16, 16), extra_convs=(1,), hidden=16)


def test_output_contract_any_batch():
    model = PoseNet(SMALL, rngs=nnx.Rngs(0))
    model.eval()
    for n in (1, 7):
        q = model(jax.random.uniform(jax.random.PRNGKey(n), (n, 32, 32, 3)))
        assert q.shape == (n, 4) and q.dtype == jnp.float32
        np.testing.assert_allclose(jnp.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
        assert bool(jnp.all(q[:, 3] >= 0))


def test_default_model_cost_within_browser_budget_and_counted_right():
    config = PoseNetConfig()
    assert flops(config) <= 90e6
    # Our multiply-add count agrees with XLA's own count (which counts 2 flops per multiply-add).
    model = PoseNet(config, rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model)
    fn = lambda s, x: nnx.merge(graphdef, s).raw(x)
    cost = jax.jit(fn).lower(state, jnp.zeros((1, 128, 128, 3))).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert abs(cost["flops"] / 2 - flops(config)) / flops(config) < 0.1


@pytest.mark.parametrize("head", ["6d", "quat"])
def test_heads_give_rotations_matching_scipy(head):
    raw = jax.random.normal(jax.random.PRNGKey(1), (64, 6 if head == "6d" else 4))
    q = np.asarray(quat_from_raw(raw, head))
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
    if head == "6d":  # Gram-Schmidt of the two columns, then the quaternion of that matrix
        a, b = np.asarray(raw[:, :3]), np.asarray(raw[:, 3:])
        c0 = a / np.linalg.norm(a, axis=-1, keepdims=True)
        c1 = b - np.sum(c0 * b, -1, keepdims=True) * c0
        c1 /= np.linalg.norm(c1, axis=-1, keepdims=True)
        expected = Rotation.from_matrix(np.stack([c0, c1, np.cross(c0, c1)], -1)).as_quat()
    else:
        expected = Rotation.from_quat(np.asarray(raw)).as_quat()
    expected *= np.where(expected[:, 3:] < 0, -1, 1)
    np.testing.assert_allclose(q, expected, atol=1e-5)


def test_geodesic_loss_is_the_rotation_angle():
    k1, k2 = jax.random.split(jax.random.PRNGKey(2))
    q1, q2 = rotations.sample_uniform(k1, (256,)), rotations.sample_uniform(k2, (256,))
    angle = geodesic_from_matrices(rotations.to_matrix(q1), rotations.to_matrix(q2))
    np.testing.assert_allclose(angle, rotations.geodesic_angle(q1, q2), atol=2e-3)
    # Exact prediction: zero loss with a finite gradient (the arccos clip at work).
    raw = rotations.to_6d(q1)
    grad = jax.grad(lambda r: geodesic_loss(r, q1, "6d"))(raw)
    assert float(geodesic_loss(raw, q1, "6d")) < 3e-3 and bool(jnp.all(jnp.isfinite(grad)))


def _tiny_trainer(head="6d", steps=40):
    from orient_jax.pose.train import PoseTrainConfig, PoseTrainer

    config = PoseTrainConfig(model=dataclasses.replace(SMALL, head=head), batch_size=8, steps=steps, learning_rate=3e-3,
                             warmup_steps=2)
    return PoseTrainer(config)


@pytest.mark.parametrize("head", ["6d", "quat"])
def test_training_steps_lower_the_loss_on_a_tiny_batch(head):
    trainer = _tiny_trainer(head)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    quats = np.asarray(rotations.sample_uniform(jax.random.PRNGKey(3), (8,)))
    state = trainer.init()
    losses = []
    for _ in range(40):
        state, metrics = trainer.train_step(state, jnp.asarray(images), jnp.asarray(quats))
        losses.append(float(metrics["loss_deg"]))
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


def test_pose_artifact_round_trip_and_corruption(tmp_path):
    model = PoseNet(SMALL, rngs=nnx.Rngs(4))
    model.eval()
    camera = {"position": [0.45, -0.45, 0.36], "look_at": [0, 0, 0], "fov_y_deg": 40, "width": 32, "height": 32}
    pose_ckpt.save_pose(tmp_path / "pose", model, camera, {"val_median_deg": 1.0}, {})
    loaded = pose_ckpt.load_pose(tmp_path / "pose")
    x = jax.random.uniform(jax.random.PRNGKey(5), (3, 32, 32, 3))
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded.model(x)))
    assert loaded.camera == camera and loaded.metrics == {"val_median_deg": 1.0}

    meta = tmp_path / "pose" / "pose.json"
    meta.write_text("{not json")
    with pytest.raises(UserError, match="pose.json"):
        pose_ckpt.load_pose(tmp_path / "pose")
    with pytest.raises(UserError, match="no pose model"):
        pose_ckpt.load_pose(tmp_path / "missing")
    meta.write_text(json.dumps({"kind": "orient_jax_pose", "format": 1, "model_config": dataclasses.asdict(SMALL)}))
    for leaf in (tmp_path / "pose" / "params").rglob("*"):
        if leaf.is_file() and leaf.stat().st_size > 64:
            leaf.write_bytes(b"\0" * 16)
    with pytest.raises(UserError, match="params"):
        pose_ckpt.load_pose(tmp_path / "pose")


def _params(path):
    return jax.tree.leaves(nnx.state(pose_ckpt.load_pose(path).model, nnx.Param))


def test_fine_tuning_starts_from_the_init_models_weights(tmp_path):
    """`train-pose --init MODEL`: at learning rate 0 the weights stay the init model's (a fresh run
    keeps its own initialisation); another architecture, or another init on resume, is refused."""
    write_fake_dataset(tmp_path / "data", num_images=16, shard_size=8, size=32)
    config = PoseTrainConfig(model=SMALL, batch_size=4, steps=3, warmup_steps=1, checkpoint_every=3, eval_every=3,
                             eval_images=4, seed=1)
    first = train_and_evaluate(config, tmp_path / "data", tmp_path / "first", show_progress=False)
    frozen = dataclasses.replace(config, learning_rate=0.0, seed=2)
    tuned = train_and_evaluate(frozen, tmp_path / "data", tmp_path / "tuned", show_progress=False, init=first)
    fresh = train_and_evaluate(frozen, tmp_path / "data", tmp_path / "fresh", show_progress=False)
    for a, b in zip(_params(first), _params(tuned), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(_params(first), _params(fresh), strict=True))
    assert json.loads((tuned / "pose.json").read_text())["info"]["init"]["sha256"] == pose_ckpt.pose_fingerprint(first)

    with pytest.raises(UserError, match="different config"):  # the same run folder, another starting model
        train_and_evaluate(frozen, tmp_path / "data", tmp_path / "tuned", show_progress=False, init=fresh)
    wider = dataclasses.replace(frozen, model=dataclasses.replace(SMALL, hidden=32))
    with pytest.raises(UserError, match="architecture"):
        train_and_evaluate(wider, tmp_path / "data", tmp_path / "wider", show_progress=False, init=first)


def test_commonest_confusion_finds_the_turn_a_model_mistakes_for_the_truth():
    """Predictions that are right but for a third of flips by a half turn about the object's y
    axis: the confusion is that turn, its share a third, and forgiving it leaves the small errors.
    Large errors spread at random over SO(3) make no confusion."""
    from orient_jax.pose.evaluate import commonest_confusion

    k_true, k_noise, k_wild = jax.random.split(jax.random.PRNGKey(3), 3)
    n = 900
    true = rotations.sample_uniform(k_true, (n,))
    jitter = rotations.from_rotvec(0.03 * jax.random.normal(k_noise, (n, 3)))  # ~3 deg each
    half_turn_y = jnp.array([0.0, 1.0, 0.0, 0.0])
    flipped = jnp.arange(n) % 3 == 0
    turn = jnp.where(flipped[:, None], half_turn_y, jnp.array([0.0, 0.0, 0.0, 1.0]))
    pred = rotations.multiply(rotations.multiply(true, turn), jitter)
    found = commonest_confusion(np.asarray(pred), np.asarray(true))
    assert found is not None and found["angle_deg"] > 170.0, found
    assert abs(abs(found["axis"][1]) - 1.0) < 0.01, found
    assert abs(found["share"] - 1 / 3) < 0.01 and found["median_deg_forgiven"] < 6.0, found
    assert found["acc_10deg_forgiven"] > 0.95 and "(object frame)" in found["turn"]

    wild = rotations.sample_uniform(k_wild, (n,))
    scattered = jnp.where(flipped[:, None], wild, pred)
    assert commonest_confusion(np.asarray(scattered), np.asarray(true)) is None
