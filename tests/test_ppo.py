"""PPO: learning moves, normalizer merges correctly, multi-device sharding, GAE truncation."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax import sim
from orient_jax.errors import UserError
from orient_jax.rl import ppo as ppo_lib
from orient_jax.rl.networks import Actor, RunningStats, tanh_with_grad_floor
from orient_jax.rl.presets import preset


def test_running_stats_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2.0, 3.0, (500, 4)), rng.normal(-1.0, 0.5, (300, 4))
    stats = RunningStats.create(4).update(jnp.asarray(a)).update(jnp.asarray(b))
    both = np.concatenate([a, b])
    np.testing.assert_allclose(stats.mean, both.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.var, both.var(0), rtol=1e-3)


def test_tanh_grad_floor_keeps_the_forward_and_lifts_only_small_derivatives():
    z = jnp.linspace(-8.0, 8.0, 161)
    np.testing.assert_array_equal(tanh_with_grad_floor(z, 0.1), jnp.tanh(z))
    floored = jax.vmap(jax.grad(lambda x: tanh_with_grad_floor(x, 0.1)))(z)
    true = jax.vmap(jax.grad(jnp.tanh))(z)
    np.testing.assert_allclose(floored, np.maximum(true, 0.1), rtol=1e-6)
    assert float(true[-1]) < 1e-5 and float(floored[-1]) == pytest.approx(0.1)

    # The actor: the same action from the same params; a saturated output gets a usable gradient.
    features = jnp.full((1, 5), 3.0)
    plain, floored_actor = Actor((8,), 3), Actor((8,), 3, tanh_grad_floor=0.1)
    params = plain.init(jax.random.PRNGKey(0), features)
    last = params["params"]["MLP_0"]["Dense_1"]
    last["bias"] = jnp.array([6.0, -6.0, 7.0])  # drive the output deep into saturation
    np.testing.assert_array_equal(plain.apply(params, features)[0], floored_actor.apply(params, features)[0])
    assert float(jnp.abs(plain.apply(params, features)[0]).min()) > 0.9999
    grad_norm = lambda actor: optax_global_norm(jax.grad(lambda p: actor.apply(p, features)[0].sum())(params))
    assert grad_norm(floored_actor) > 100 * grad_norm(plain)


def optax_global_norm(tree) -> float:
    return float(jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree))))


def test_gae_bootstraps_truncation_and_cuts_at_done():
    rewards = jnp.ones((3, 1))
    values = jnp.zeros((3, 1))
    next_values = jnp.full((3, 1), 10.0)
    done = jnp.array([[False], [True], [False]])
    # Truncated at t=1: bootstraps from next_values; terminated: does not.
    adv_trunc, _ = ppo_lib.gae(rewards, values, next_values, jnp.zeros((3, 1)), done, 0.5, 1.0)
    adv_term, _ = ppo_lib.gae(rewards, values, next_values, done.astype(jnp.float32), done, 0.5, 1.0)
    assert float(adv_trunc[1, 0]) == pytest.approx(1 + 0.5 * 10)
    assert float(adv_term[1, 0]) == pytest.approx(1.0)
    # t=0 sees t=1 through the trace (gamma * lambda = 0.5), but nothing of t=2 (cut at t=1).
    assert float(adv_trunc[0, 0]) == pytest.approx(6.0 + 0.5 * 6.0)
    assert float(adv_term[0, 0]) == pytest.approx(6.0 + 0.5 * 1.0)


def test_short_training_improves_the_policy():
    env = sim.load("upright")
    config = preset("quick", num_envs=128, rollout_steps=32, total_steps=128 * 32 * 12, num_minibatches=4)
    ppo = ppo_lib.PPO(env, config)
    state = ppo.init(jax.random.PRNGKey(0))
    history = []
    for _ in range(config.num_updates):
        state, metrics = ppo.update(state)
        history.append({k: float(v) for k, v in metrics.items()})
    first, last = history[0], history[-1]
    assert all(np.isfinite(v) for h in history for v in h.values())
    # The mean tilt over the rollout falls and the dense reward rises as the policy learns.
    assert last["env/error_deg"] < first["env/error_deg"] - 15.0
    assert last["reward/alignment"] > first["reward/alignment"] + 0.05


def test_data_parallel_on_two_cpu_devices(tmp_path):
    script = textwrap.dedent("""
        import json, jax, numpy as np
        from orient_jax import sim
        from orient_jax.rl.ppo import PPO
        from orient_jax.rl.presets import preset
        assert len(jax.devices()) == 2
        ppo = PPO(sim.load("upright"), preset("tiny"))
        state = ppo.init(jax.random.PRNGKey(0))
        for _ in range(2):
            state, metrics = ppo.update(state)
        qpos = state.env_state.data.qpos
        shards = {s.device.id: s.data.shape for s in qpos.addressable_shards}
        kernel = state.params.actor["params"]["MLP_0"]["Dense_0"]["kernel"]
        copies = [np.asarray(s.data) for s in kernel.addressable_shards]
        print(json.dumps({"shards": {str(k): list(v) for k, v in shards.items()},
                          "replicas_equal": bool(np.array_equal(copies[0], copies[1])),
                          "finite": bool(all(np.isfinite(float(v)) for v in metrics.values()))}))
    """)
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # Each device holds half of the envs; the parameters are identical replicas.
    assert result["shards"] == {"0": [16, 7], "1": [16, 7]}
    assert result["replicas_equal"] and result["finite"]


def test_bad_ppo_configs_are_user_errors():
    from orient_jax.errors import UserError

    with pytest.raises(UserError):
        preset("nope")
    with pytest.raises(UserError, match="out of range"):
        preset("quick", num_envs=0)
    with pytest.raises(UserError, match="divisible"):
        ppo_lib.PPO(sim.load("upright"), preset("tiny", num_envs=30, rollout_steps=3, num_minibatches=4))
