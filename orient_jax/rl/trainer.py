"""What PPO and SHAC share: a train state laid out over a 1-D device mesh ("data").

Env-indexed arrays (the env states, their running returns) are split over the devices,
everything else (parameters, optimizer states, the PRNG key, the update counter) is
replicated. A trainer subclass provides `_init(key) -> TrainState` (traceable) and keeps its
`update` under `jax.shard_map` with `self._specs`; this class derives the specs, the shardings
and the abstract state that checkpoints are restored into.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from orient_jax.rl.networks import RunningStats
from orient_jax.sim.base import State
from orient_jax.sim.vec_env import VecEnv

AXIS = "data"


@struct.dataclass
class Params:
    """Everything inference needs (the exported policy) plus the critic."""

    actor: Any
    critic: Any
    obs_norm: RunningStats
    critic_norm: RunningStats


@struct.dataclass
class TrainState:
    params: Params
    opt_state: Any
    env_state: State
    episode_return: jax.Array  # (N,) running return of each env's current episode
    rng: jax.Array
    update: jax.Array  # updates done


class DataParallelTrainer:
    """Mesh, shardings and the common parts of `_init`, for `num_envs` envs over `devices`."""

    def _setup_mesh(self, num_envs: int, devices: list | None) -> None:
        from orient_jax.errors import UserError

        self.devices = devices or jax.devices()
        self.num_devices = len(self.devices)
        if num_envs % self.num_devices:
            raise UserError(f"num_envs={num_envs} must be a multiple of the device count {self.num_devices}")
        self.local_envs = num_envs // self.num_devices
        self.mesh = Mesh(self.devices, (AXIS,))

    def _state_specs(self) -> TrainState:
        """PartitionSpecs: env-indexed arrays split over devices, everything else replicated."""
        abstract = jax.eval_shape(self._init, jax.random.PRNGKey(0))
        return TrainState(
            params=jax.tree.map(lambda _: P(), abstract.params),
            opt_state=jax.tree.map(lambda _: P(), abstract.opt_state),
            env_state=jax.tree.map(lambda _: P(AXIS), abstract.env_state),
            episode_return=P(AXIS), rng=P(), update=P())

    def shardings(self) -> TrainState:
        return jax.tree.map(lambda spec: NamedSharding(self.mesh, spec), self._specs,
                            is_leaf=lambda x: isinstance(x, P))

    def abstract_state(self) -> TrainState:
        """Shapes, dtypes and shardings of the train state (for restoring checkpoints)."""
        abstract = jax.eval_shape(self._init, jax.random.PRNGKey(0))
        return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, self.shardings())

    def _fresh_state(self, key: jax.Array, num_envs: int, opt_state_of) -> TrainState:
        """Fresh networks and normalizers, `num_envs` envs whose first episodes' clocks are
        staggered (so that envs do not all end on the same step), and `opt_state_of(params)`."""
        k_actor, k_critic, k_env, k_run = jax.random.split(key, 4)
        params = Params(
            actor=self.actor.init(k_actor, jnp.zeros(self.feature_size)),
            critic=self.critic.init(k_critic, jnp.zeros(self.critic_size)),
            obs_norm=RunningStats.create(self.feature_size),
            critic_norm=RunningStats.create(self.critic_size))
        k_env, k_stagger = jax.random.split(k_env)
        env_state = VecEnv(self.env, num_envs).reset(k_env)
        start = jax.random.randint(k_stagger, (num_envs,), 0, self.env.episode_steps)
        env_state = env_state.replace(info={**env_state.info, "step": start})
        return TrainState(params=params, opt_state=opt_state_of(params), env_state=env_state,
                          episode_return=jnp.zeros(num_envs), rng=k_run, update=jnp.zeros((), jnp.int32))
