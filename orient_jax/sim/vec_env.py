"""A batch of environments with automatic reset, all under one vmap.

Every step computes a fresh reset for each env and selects it where the episode ended
(PureJaxRL's pattern): no host round trip, no Python loop over envs. The reset is cheap (no
physics), so this costs little. The transition returned carries the *final* observation of
an ended episode in `final_critic_obs`, so the learner can bootstrap a truncated episode's
value from where it really ended rather than from the next episode's start.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from orient_jax.sim.base import ReorientEnv, State


class VecEnv:
    def __init__(self, env: ReorientEnv, num_envs: int):
        self.env = env
        self.num_envs = num_envs
        self._reset = jax.vmap(env.reset)
        self._step = jax.vmap(env.step)

    def reset(self, key: jax.Array) -> State:
        """States of `num_envs` fresh episodes (leading axis N)."""
        return self._reset(jax.random.split(key, self.num_envs))

    def step(self, state: State, action: jax.Array) -> tuple[State, jax.Array]:
        """Step all envs with actions (N, 3); ended episodes restart.

        Returns (next state, final critic obs (N, C)): the latter is the critic observation
        the ended episode reached (equal to the next state's where nothing ended).
        """
        stepped = self._step(state, action)
        fresh = self._reset(jax.vmap(lambda k: jax.random.fold_in(k, 1))(stepped.info["rng"]))
        done = stepped.done

        def pick(new, old):
            mask = done.reshape(done.shape + (1,) * (new.ndim - done.ndim))
            return jnp.where(mask, new, old)

        merged = stepped.replace(
            data=jax.tree.map(pick, fresh.data, stepped.data),
            obs=jax.tree.map(pick, fresh.obs, stepped.obs),
            critic_obs=pick(fresh.critic_obs, stepped.critic_obs),
            info=jax.tree.map(pick, fresh.info, stepped.info),
        )
        return merged, stepped.critic_obs
