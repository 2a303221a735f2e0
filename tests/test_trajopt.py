"""Trajectory optimization through MJX: gradients flow through contact and lower the loss."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from orient_jax import sim
from orient_jax.rl.evaluate import without_noise
from orient_jax.sim import trajopt


def test_gradient_descent_lowers_the_loss_from_lying_on_its_side():
    """From resting on its side (tilt 90 deg, cost 1 per step at zero torque), a few Adam steps
    through the differentiable rollout must turn it part of the way up. Fails when the solver
    loop is not differentiable, the gradient is zero or NaN, or its sign is wrong."""
    cfg = without_noise(sim.default_config("upright"))
    cfg = dataclasses.replace(cfg, randomization=dataclasses.replace(cfg.randomization, enabled=False))
    env = sim.load("upright", cfg)
    # Settle the body on its side (rotated 90 deg about body x) with C MuJoCo.
    m = env.mj_model
    d = mujoco.MjData(m)
    d.qpos[:] = [0, 0, 0.2, np.sqrt(0.5), np.sqrt(0.5), 0, 0]
    mujoco.mj_step(m, d, nstep=200)
    data0 = env._data_template.replace(qpos=jnp.asarray(d.qpos, jnp.float32), qvel=jnp.zeros(6))
    tilt0 = np.degrees(float(trajopt.rotations.tilt(trajopt.rotations.from_mujoco(data0.qpos[3:7]))))
    assert 70 < tilt0 < 110, tilt0

    config = trajopt.TrajoptConfig(horizon_s=0.3, iters=6, restarts=1, lr=0.5, success_weight=0.0)
    optimize = trajopt.make_optimizer(env, config, compiler_options={"xla_backend_optimization_level": 0})
    steps = trajopt.horizon_steps(env, config)
    params0 = jnp.zeros((1, 1, steps, 3))
    out = jax.device_get(optimize(jax.tree.map(lambda x: x[None], data0), params0))
    curve = out["loss_curve"][:, 0, 0]
    assert np.all(np.isfinite(curve)), curve
    assert out["best_loss"][0] < 0.9 * curve[0], curve
