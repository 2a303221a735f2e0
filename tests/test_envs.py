"""Every registered env: jits, resets, steps, keeps shapes, stays finite; reward terms behave."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax import rotations, sim
from orient_jax.assets import mjcf
from orient_jax.assets.mjcf import PhysicsConfig
from orient_jax.errors import UserError
from orient_jax.sim import rigid_body
from orient_jax.sim.vec_env import VecEnv

DROP_HEIGHT = rigid_body.load(str(mjcf.MJCF_PATH)).drop_height

N = 8


@pytest.fixture(scope="module", params=sim.ALL_ENVS)
def env(request):
    return sim.load(request.param)


@pytest.fixture(scope="module")
def jitted(env):
    venv = VecEnv(env, N)
    return venv, jax.jit(venv.reset), jax.jit(venv.step)


def _check_finite(state):
    for leaf in jax.tree.leaves((state.obs, state.critic_obs, state.reward, state.metrics)):
        assert np.all(np.isfinite(np.asarray(leaf)))


def test_reset_and_step_shapes(env, jitted):
    venv, reset, step = jitted
    state = reset(jax.random.PRNGKey(0))
    spec = env.obs_spec()
    assert set(state.obs) == set(spec)
    for name, shape in spec.items():
        assert state.obs[name].shape == (N,) + shape
    critic_size = state.critic_obs.shape[-1]
    next_state, final = step(state, jnp.zeros((N, 3)))
    assert next_state.critic_obs.shape == (N, critic_size) == final.shape
    assert next_state.reward.shape == (N,)
    assert jax.tree.structure(next_state) == jax.tree.structure(state)
    _check_finite(next_state)
    # Observed quaternions are unit (either sign); the policy features have a fixed size.
    np.testing.assert_allclose(np.linalg.norm(next_state.obs["quat"], axis=-1), 1.0, atol=1e-5)
    assert env.policy_features(next_state.obs).shape[0] == N


def wild_actions(kind: str, key, steps: int = 150) -> jnp.ndarray:
    """(steps, N, 3) actions: uniform, +-1e6, NaN, or always +1 (bang-bang)."""
    shape = (steps, N, 3)
    if kind == "random":
        return jax.random.uniform(key, shape, minval=-1, maxval=1)
    if kind == "extreme":
        return jnp.sign(jax.random.normal(key, shape)) * 1e6
    if kind == "nan":
        return jnp.full(shape, jnp.nan)
    return jnp.ones(shape)


def test_stays_finite_under_wild_actions(env, jitted):
    """150 steps of each kind of wild action (one compiled rollout, fed each kind in turn)."""
    venv, reset, step = jitted

    @jax.jit
    def run(state, actions):
        def body(state, a):
            state, _ = step(state, a)
            return state, (state.reward, state.metrics["error_deg"])

        return jax.lax.scan(body, state, actions)

    for kind in ("random", "extreme", "nan", "bang_bang"):
        state, (rewards, errors) = run(reset(jax.random.PRNGKey(1)), wild_actions(kind, jax.random.PRNGKey(2)))
        _check_finite(state)
        assert np.all(np.isfinite(np.asarray(rewards))) and np.all(np.isfinite(np.asarray(errors))), kind
        # The body stays inside the walled arena.
        xy = np.asarray(state.data.qpos[:, :2])
        assert np.all(np.abs(xy) < PhysicsConfig().arena_half_size), kind


def test_blow_up_is_detected_reset_and_counted():
    env = sim.load("upright")
    state = env.reset(jax.random.PRNGKey(0))
    bad = state.replace(data=state.data.replace(qvel=state.data.qvel.at[3].set(jnp.nan)))
    out = jax.jit(env.step)(bad, jnp.zeros(3))
    assert bool(out.done) and not bool(out.truncated)
    assert float(out.metrics["nan"]) == 1.0
    _check_finite(out)


def test_episode_truncates_and_autoresets():
    env = sim.load("upright", config_overrides=["episode_s=0.1", "success_hold_s=0.05"])
    venv = VecEnv(env, 4)
    state = venv.reset(jax.random.PRNGKey(0))
    step = jax.jit(venv.step)
    dones = []
    for _ in range(env.episode_steps):
        state, _ = step(state, jnp.zeros((4, 3)))
        dones.append(np.asarray(state.done))
    assert not any(d.any() for d in dones[:-1]) and dones[-1].all()
    assert np.all(np.asarray(state.info["step"]) == 0)  # the fresh episodes


def _state_at(env, quat, ang_vel=(0.0, 0.0, 0.0)):
    state = env.reset(jax.random.PRNGKey(0))
    qpos = state.data.qpos.at[3:7].set(rotations.to_mujoco(jnp.asarray(quat))).at[2].set(0.2)
    return state.replace(data=state.data.replace(qpos=qpos, qvel=state.data.qvel.at[3:6].set(jnp.asarray(ang_vel))))


def test_upright_scores_higher_than_upside_down():
    env = sim.load("upright", config_overrides=["randomization.enabled=false"])
    step = jax.jit(env.step)
    upright = step(_state_at(env, [0.0, 0.0, 0.0, 1.0]), jnp.zeros(3))
    side = step(_state_at(env, [np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4)]), jnp.zeros(3))
    down = step(_state_at(env, [1.0, 0.0, 0.0, 0.0]), jnp.zeros(3))
    assert float(upright.reward) > float(side.reward) > float(down.reward)
    assert float(upright.metrics["reward/alignment"]) > 0.99 > 0.01 > float(down.metrics["reward/alignment"])
    # Spinning in place near upright costs; torque costs.
    spinning = step(_state_at(env, [0.0, 0.0, 0.0, 1.0], ang_vel=(0.0, 0.0, 5.0)), jnp.zeros(3))
    assert float(spinning.metrics["reward/ang_vel"]) < 0
    pushing = step(_state_at(env, [0.0, 0.0, 0.0, 1.0]), jnp.ones(3))
    assert float(pushing.metrics["reward/action"]) < 0


def test_goal_reward_prefers_the_target():
    env = sim.load("goal", config_overrides=["randomization.enabled=false"])
    step = jax.jit(env.step)
    state = _state_at(env, [0.0, 0.0, 0.0, 1.0])
    at_target = state.replace(info={**state.info, "target": jnp.array([0.0, 0.0, 0.0, 1.0])})
    away = state.replace(info={**state.info, "target": jnp.array([0.0, 0.0, 1.0, 0.0])})  # 180 deg yaw
    assert float(step(at_target, jnp.zeros(3)).reward) > float(step(away, jnp.zeros(3)).reward)


def test_upright_hold_reaches_success():
    env = sim.load("upright", config_overrides=["randomization.enabled=false", "success_hold_s=0.2"])
    state = _state_at(env, [0.0, 0.0, 0.0, 1.0])
    step = jax.jit(env.step)
    for _ in range(60):
        state = step(state, jnp.zeros(3))
    assert bool(state.info["success"])
    assert 0 <= int(state.info["success_step"]) < 60


def test_observation_noise_follows_the_model():
    env = sim.load("upright", config_overrides=["randomization.enabled=false"])
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    quat = rotations.sample_uniform(jax.random.PRNGKey(4), (4000,))
    observe = jax.vmap(lambda k, q, n: env._observe(k, q, jnp.zeros(3), jnp.zeros(3), q, n), in_axes=(0, 0, None))
    obs = observe(keys, quat, env.noise_levels())
    err = np.rad2deg(np.asarray(rotations.geodesic_angle(obs["quat"], quat)))
    assert abs(np.median(err) - env.noise_model.median_deg()) < 0.25
    # Sign flips: both signs of w occur.
    w = np.asarray(obs["quat"][:, 3])
    assert 0.3 < (w < 0).mean() < 0.7
    # The levels are data (what lets one compiled evaluation sweep them): x2 doubles the error,
    # x0 and no gyro noise observe the truth.
    doubled = observe(keys, quat, {"scale": jnp.float32(2.0), "ang_vel_std": jnp.float32(0.05)})
    err2 = np.rad2deg(np.asarray(rotations.geodesic_angle(doubled["quat"], quat)))
    assert abs(np.median(err2) / np.median(err) - 2.0) < 0.1
    clean = observe(keys, quat, {"scale": jnp.float32(0.0), "ang_vel_std": jnp.float32(0.0)})
    np.testing.assert_allclose(np.asarray(rotations.geodesic_angle(clean["quat"], quat)), 0.0, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(clean["ang_vel"]), 0.0)


def test_unknown_env_and_bad_overrides_are_user_errors():
    with pytest.raises(UserError, match="unknown env"):
        sim.load("nope")
    with pytest.raises(UserError, match="out of range"):
        sim.load("upright", config_overrides=["noise.scale=-1"])
    with pytest.raises(UserError, match="unknown config key"):
        sim.load("upright", config_overrides=["noise.nope=1"])
    with pytest.raises(UserError, match="cannot parse"):
        sim.load("upright", config_overrides=["episode_s=abc"])


def test_randomization_changes_the_physics():
    env = sim.load("upright")
    a = env.reset(jax.random.PRNGKey(0)).info["dr"]
    b = env.reset(jax.random.PRNGKey(1)).info["dr"]
    assert float(a["mass"]) != float(b["mass"])
    model = env._model(a)
    assert np.isclose(float(model.body_mass[1]), env.mj_model.body_mass[1] * float(a["mass"]), rtol=1e-5)


def test_reset_can_ask_for_nominal_physics():
    """Evaluation's nominal-physics episodes: the same start, the MJCF's own physics, and the
    critic's privileged features say so from the first step."""
    env = sim.load("upright")
    key = jax.random.PRNGKey(4)
    drawn = env.reset(key, randomized=jnp.bool_(True))
    nominal = env.reset(key, randomized=jnp.bool_(False))
    for name, value in env.nominal_physics().items():
        np.testing.assert_array_equal(nominal.info["dr"][name], value)
        assert not np.array_equal(drawn.info["dr"][name], value)
    np.testing.assert_array_equal(drawn.info["dr"]["mass"], env.reset(key).info["dr"]["mass"])
    np.testing.assert_array_equal(drawn.data.qpos, nominal.data.qpos)
    assert not np.array_equal(drawn.critic_obs, nominal.critic_obs)
    np.testing.assert_array_equal(drawn.obs["quat"], nominal.obs["quat"])


def test_upright_start_curriculum_sets_the_engine_down_at_rest():
    env = sim.load("goal", config_overrides=["upright_start_fraction=0.5", "randomization.enabled=false"])
    keys = jax.random.split(jax.random.PRNGKey(3), 400)
    state = jax.jit(jax.vmap(env.reset))(keys)
    tilt = np.degrees(np.asarray(rotations.tilt(rotations.from_mujoco(state.data.qpos[:, 3:7]))))
    rest = tilt < 1e-3
    assert 0.4 < rest.mean() < 0.6  # the configured fraction, not all or none
    yaw = np.asarray(state.data.qpos[rest, 6])  # z of MuJoCo's [w, x, y, z]: yaw varies
    assert yaw.std() > 0.2
    # Set down on its base, not dropped: after 0.5 s unpowered it has not moved.
    step = jax.jit(jax.vmap(env.step))
    moved = state
    for _ in range(25):
        moved = step(moved, jnp.zeros((400, 3)))
    drift = np.abs(np.asarray(moved.data.qpos[rest, :3] - state.data.qpos[rest, :3])).max()
    assert drift < 2e-3
    # The drops (other half) are the same orientations as without the curriculum.
    plain = jax.jit(jax.vmap(sim.load("goal", config_overrides=["randomization.enabled=false"]).reset))(keys)
    np.testing.assert_array_equal(np.asarray(plain.data.qpos[~rest]), np.asarray(state.data.qpos[~rest]))


def test_rest_start_curriculum_sets_the_engine_down_in_its_settled_poses():
    env = sim.load("goal", config_overrides=["upright_start_fraction=0.2", "rest_start_fraction=0.5",
                                             "randomization.enabled=false"])
    keys = jax.random.split(jax.random.PRNGKey(5), 400)
    state = jax.jit(jax.vmap(env.reset))(keys)
    quat = rotations.from_mujoco(state.data.qpos[:, 3:7])
    tilt = np.degrees(np.asarray(rotations.tilt(quat)))
    dropped = np.asarray(state.data.qpos[:, 2]) > DROP_HEIGHT - 1e-6
    upright = ~dropped & (tilt < 1e-3)
    settled = ~dropped & ~upright
    assert 0.13 < upright.mean() < 0.27 and 0.42 < settled.mean() < 0.58
    # Several distinct rests (not one face), most of them far from upright.
    up = np.round(np.asarray(rotations.up_in_body(quat[settled])), 1)
    assert len({tuple(u) for u in up}) >= 4 and np.median(tilt[settled]) > 45.0
    # Resting, not dropped: after 0.5 s unpowered the settled starts have hardly moved.
    step = jax.jit(jax.vmap(env.step))
    moved = state
    for _ in range(25):
        moved = step(moved, jnp.zeros((400, 3)))
    turned = np.degrees(np.asarray(rotations.geodesic_angle(quat, rotations.from_mujoco(moved.data.qpos[:, 3:7]))))
    assert np.percentile(turned[settled], 90) < 2.0
    sink = np.abs(np.asarray(moved.data.qpos[settled, 2] - state.data.qpos[settled, 2]))
    assert np.percentile(sink, 90) < 3e-3


def test_near_rest_starts_sit_at_rest_next_to_their_targets():
    """near_rest_start_fraction: at rest in the settled pose (and yaw) nearest the target, much
    nearer than a random settled pose is, yet not at it (the target balances on a vertex)."""
    overrides = ["randomization.enabled=false"]
    near = sim.load("goal", config_overrides=overrides + ["near_rest_start_fraction=1.0"])
    rest = sim.load("goal", config_overrides=overrides + ["rest_start_fraction=1.0"])
    keys = jax.random.split(jax.random.PRNGKey(8), 300)
    gap = {}
    for name, env in (("near", near), ("rest", rest)):
        state = jax.jit(jax.vmap(env.reset))(keys)
        quat = rotations.from_mujoco(state.data.qpos[:, 3:7])
        gap[name] = np.degrees(np.asarray(rotations.geodesic_angle(quat, state.info["target"])))
        assert np.all(np.asarray(state.data.qpos[:, 2]) < DROP_HEIGHT - 1e-3)  # set down, not dropped
    assert np.median(gap["near"]) < 0.5 * np.median(gap["rest"]), (np.median(gap["near"]), np.median(gap["rest"]))
    assert np.median(gap["near"]) > 5.0  # a holdable target is not itself a rest
    # (That such starts stay put unpowered is the settled-pose test's check: same poses, same set-down.)


def test_removed_curriculum_options_say_so_in_one_line():
    for key in ("hard_target_fraction=0.3", "rest_start_kick=4.0"):
        with pytest.raises(UserError, match="was removed"):
            sim.load("goal", config_overrides=[key])


def test_upright_config_holds_no_goal_or_curriculum_keys():
    """Each task's config holds only its own settings."""
    import dataclasses

    upright = {f.name for f in dataclasses.fields(sim.default_config("upright"))}
    goal = {f.name for f in dataclasses.fields(sim.default_config("goal"))}
    assert upright < goal
    assert {"goal_hold_margin", "upright_start_fraction", "memory", "reflex", "stall_starts"} <= goal - upright
    with pytest.raises(UserError, match="unknown config key 'rest_start_fraction'"):
        sim.load("upright", config_overrides=["rest_start_fraction=0.5"])


def test_curriculum_fractions_cannot_exceed_one():
    with pytest.raises(UserError, match="rest_start_fraction"):
        sim.load("goal", config_overrides=["upright_start_fraction=0.6", "rest_start_fraction=0.6"])
    with pytest.raises(UserError, match="near_rest_start_fraction"):
        sim.load("goal", config_overrides=["rest_start_fraction=0.5", "near_rest_start_fraction=0.6"])


def test_evaluation_ignores_the_training_curriculum():
    from orient_jax.rl.evaluate import rollout

    env_name = "goal"
    cfg = sim.default_config(env_name)
    import dataclasses
    cfg = dataclasses.replace(cfg, success_hold_s=0.1, episode_s=0.1)
    curriculum = dataclasses.replace(cfg, upright_start_fraction=0.4, rest_start_fraction=0.3,
                                     near_rest_start_fraction=0.3)
    zero = lambda obs: jnp.zeros((obs["quat"].shape[0], 3))
    a = rollout(env_name, curriculum, zero, episodes=16, seed=0)
    b = rollout(env_name, cfg, zero, episodes=16, seed=0)
    np.testing.assert_array_equal(a.error_deg, b.error_deg)
    assert np.median(a.error_deg[:, 0]) > 10.0  # dropped at random, not set down upright


def _recorded_states(tmp_path, rows: int = 6):
    """A start bank of real mid-episode goal states (half a second of random torques)."""
    from orient_jax.sim import start_bank

    env = sim.load("goal")
    reset, step = jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))
    state = reset(jax.random.split(jax.random.PRNGKey(5), rows))
    for i in range(25):
        state = step(state, jax.random.uniform(jax.random.PRNGKey(i), (rows, 3), minval=-1, maxval=1))
    bank = {"qpos": state.data.qpos, "qvel": state.data.qvel, "target": state.info["target"],
            "prev_action": state.info["prev_action"], **state.info["dr"]}
    path = tmp_path / "bank.npz"
    start_bank.save(path, {k: np.asarray(v) for k, v in bank.items()})
    return path, start_bank.load(path)


def test_stall_starts_restart_recorded_states(tmp_path):
    """stall_start_fraction: that share of episodes starts from a bank row (state, target,
    previous action and physics as recorded), the rest as before; evaluation never does."""
    path, bank = _recorded_states(tmp_path)
    env = sim.load("goal", config_overrides=["stall_start_fraction=0.5", f"stall_starts={path}", "noise.scale=0",
                                             "noise.ang_vel_std=0", "noise.sign_flip=false"])
    plain = sim.load("goal", config_overrides=["noise.scale=0", "noise.ang_vel_std=0", "noise.sign_flip=false"])
    keys = jax.random.split(jax.random.PRNGKey(2), 200)
    state, drops = jax.jit(jax.vmap(env.reset))(keys), jax.jit(jax.vmap(plain.reset))(keys)
    qpos = np.asarray(state.data.qpos)
    row = np.argmin(np.abs(qpos[:, None, :] - bank["qpos"][None]).sum(-1), axis=1)
    from_bank = np.abs(qpos - bank["qpos"][row]).max(-1) < 1e-6
    assert 0.35 < from_bank.mean() < 0.65
    assert len(set(row[from_bank])) == len(bank["qpos"])  # every row gets used
    for name, got in (("qvel", state.data.qvel), ("target", state.info["target"]),
                      ("prev_action", state.obs["prev_action"]), ("prev_action", state.info["prev_action"]),
                      ("torque_gain", state.info["dr"]["torque_gain"]), ("inertia", state.info["dr"]["inertia"])):
        np.testing.assert_allclose(np.asarray(got)[from_bank], bank[name][row[from_bank]], atol=1e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(state.obs["ang_vel"])[from_bank], bank["qvel"][row[from_bank], 3:], atol=1e-6)
    truth = rotations.canonicalize(rotations.from_mujoco(jnp.asarray(bank["qpos"][row[from_bank], 3:7])))
    assert float(jnp.max(rotations.geodesic_angle(state.obs["quat"][from_bank], truth))) < 1e-3
    # The other episodes are the drops they were without the bank.
    np.testing.assert_array_equal(qpos[~from_bank], np.asarray(drops.data.qpos)[~from_bank])
    np.testing.assert_array_equal(np.asarray(state.obs["prev_action"])[~from_bank], 0.0)
    # Restarted episodes step on from there, finite.
    stepped = jax.jit(jax.vmap(env.step))(state, jnp.ones((200, 3)))
    _check_finite(stepped)
    assert np.all(np.asarray(stepped.info["step"]) == 1)

    from orient_jax.rl.evaluate import evaluation_config
    assert evaluation_config(env.config).stall_start_fraction == 0.0
    sim.load("goal", evaluation_config(env.config))  # needs no bank


def test_stall_start_bank_errors_are_one_line(tmp_path):
    from orient_jax.sim import start_bank

    with pytest.raises(UserError, match="needs a start bank"):
        sim.load("goal", config_overrides=["stall_start_fraction=0.3"])
    with pytest.raises(UserError, match="not found"):
        sim.load("goal", config_overrides=["stall_start_fraction=0.3", f"stall_starts={tmp_path / 'none.npz'}"])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot be read"):
        start_bank.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", qpos=np.zeros((2, 7)))
    with pytest.raises(UserError, match="missing"):
        start_bank.load(tmp_path / "short.npz")
    with pytest.raises(UserError, match="stall_start_fraction"):
        sim.load("goal", config_overrides=["near_rest_start_fraction=0.8", "stall_start_fraction=0.3",
                                           f"stall_starts={tmp_path / 'x.npz'}"])
    with pytest.raises(UserError, match="non-finite"):
        bank = {k: np.zeros((2, *shape), np.float32) for k, shape in start_bank.FIELDS.items()}
        bank["qvel"][0, 0] = np.nan
        start_bank.save(tmp_path / "nan.npz", bank)
    assert not (tmp_path / "nan.npz").exists()
