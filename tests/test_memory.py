"""Observation memory (`env.memory`): the filter, the env's copy of it, and warm starts into it."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax import sim
from orient_jax.export import testing
from orient_jax.rl import checkpoint as ckpt_lib
from orient_jax.rl.policy import make_policy_fn
from orient_jax.rl.ppo import PPO
from orient_jax.rl.train import warm_start_params
from orient_jax.sim import memory


def test_averages_are_bias_corrected_moving_averages():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(30, 5)).astype(np.float32)
    mem = memory.zeros(5)
    for t, f in enumerate(frames):
        mem = memory.update(mem, jnp.asarray(f))
        for k, d in enumerate(memory.DECAYS):  # the reference: weights d^(t-s), normalized
            w = d ** np.arange(t, -1, -1)
            np.testing.assert_allclose(memory.averages(mem)[k], (w[:, None] * frames[: t + 1]).sum(0) / w.sum(),
                                       rtol=1e-4, atol=1e-5)
    # The first average is the first frame (zeros are a valid start), and a constant stays put.
    first = memory.update(memory.zeros(5), jnp.asarray(frames[0]))
    np.testing.assert_allclose(memory.averages(first), np.broadcast_to(frames[0], (len(memory.DECAYS), 5)), rtol=1e-5)


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A memory-less goal policy saved as an artifact, and the env with memory it grows into."""
    source = testing.save_random_policy(tmp_path_factory.mktemp("policy") / "goal", "goal")
    before = ckpt_lib.load_policy(source)
    return source, before, sim.load("goal", dataclasses.replace(before.env_config, memory=True))


def test_a_warm_start_into_memory_is_the_same_policy_and_the_env_keeps_its_memory(grown):
    source, before, env = grown
    assert not before.env_config.memory and "memory" not in sim.load("goal", before.env_config).obs_spec()
    assert env.obs_spec()["memory"] == (len(memory.DECAYS), env.signal_size() + 1)
    ppo_config = dataclasses.replace(before.ppo_config, num_envs=8)
    fresh = PPO(env, ppo_config).init(jax.random.PRNGKey(0)).params
    params = warm_start_params(source, "goal", ppo_config, fresh=fresh)
    n = env.signal_size()  # the trained features keep their statistics; the new ones start at (0, 1)
    np.testing.assert_allclose(params.obs_norm.mean[:n], before.obs_norm.mean)
    np.testing.assert_allclose(params.obs_norm.var[n:], 1.0)
    after = ckpt_lib.PolicyArtifact("goal", env.config, ppo_config, params.actor, params.obs_norm, {})
    with_memory, without = jax.jit(make_policy_fn(after)), jax.jit(make_policy_fn(before))
    state = jax.jit(env.reset)(jax.random.PRNGKey(3))
    assert not np.any(state.obs["memory"])  # an episode starts with an empty memory
    step = jax.jit(env.step)
    moved = 0.0
    for _ in range(40):
        action, memory_out = with_memory(**state.obs)
        # New inputs start disconnected: the grown policy acts exactly as the one it grew from...
        np.testing.assert_allclose(action, without(**{k: v for k, v in state.obs.items() if k != "memory"}), atol=1e-6)
        state = step(state, action)
        # ...and the env's memory is the one the policy returned (what the page feeds back).
        np.testing.assert_allclose(state.obs["memory"], memory_out, atol=1e-6)
        moved = max(moved, float(np.abs(env.policy_features(state.obs)[env.signal_size():]).max()))
    assert moved > 1e-3  # the drift features see the motion


def test_a_memory_policy_cannot_start_a_run_without_memory(tmp_path):
    from orient_jax.errors import UserError

    source = testing.save_random_policy(tmp_path / "goal", "goal", memory=True)
    ppo_config = dataclasses.replace(ckpt_lib.load_policy(source).ppo_config, num_envs=8)
    fresh = PPO(sim.load("goal"), ppo_config).init(jax.random.PRNGKey(0)).params
    with pytest.raises(UserError, match="trained with a memory: add --set env.memory=true"):
        warm_start_params(source, "goal", ppo_config, fresh=fresh)
