"""Evaluation settings are per-episode data: one compiled rollout must give what a rollout
compiled for each setting's own env config gives."""

import dataclasses

import jax.numpy as jnp
import numpy as np

from orient_jax import sim
from orient_jax.rl import evaluate as ev


def _looks(obs):  # a controller that acts on what it observes, so observation noise shows
    return jnp.clip(obs["quat"][:, :3] + obs["ang_vel"], -1.0, 1.0)


def test_settings_match_rollouts_of_their_own_configs():
    cfg = dataclasses.replace(sim.default_config("upright"), episode_s=0.6, success_hold_s=0.2)
    # Chunks of 6, the size of each reference rollout below: one compiled program for both, so
    # float-level differences of another batch shape (which contact amplifies) do not enter.
    noisy, clean, nominal = ev.rollouts("upright", cfg, _looks, [ev.Setting(6, 1.0, 0.05), ev.Setting(6, 0.0, 0.0),
                                                                 ev.Setting(6, 1.0, 0.05, randomized_physics=False)],
                                        seed=3, batch=6)
    nominal_cfg = dataclasses.replace(cfg, randomization=dataclasses.replace(cfg.randomization, enabled=False))
    for got, config in ((noisy, cfg), (clean, ev.without_noise(cfg)), (nominal, nominal_cfg)):
        want = ev.rollout("upright", config, _looks, 6, seed=3)
        np.testing.assert_allclose(got.error_deg, want.error_deg, atol=1e-5)
    # ...and the settings do differ.
    assert np.abs(noisy.error_deg - clean.error_deg).max() > 0.1
    assert np.abs(noisy.error_deg - nominal.error_deg).max() > 0.1
