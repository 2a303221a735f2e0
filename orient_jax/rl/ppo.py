"""PPO, PureJaxRL-style: one `update` = a `lax.scan` rollout + GAE + minibatch epochs, all jitted.

Written here rather than taken from Brax's trainer because the contract needs things Brax's
PPO does not give: the policy's inputs are the raw named signals of `policy.onnx` (features are
computed from them inside the network function), the critic sees privileged state, a
truncated episode bootstraps from the state it really ended in, and the whole training state
(params, optimizer, normalizers, env states, PRNG key) is one pytree that orbax saves and
restores bit-exactly, so a killed run resumes to the same parameters.

Data parallel: `update` runs under `jax.shard_map` over a 1-D mesh axis "data" spanning all
devices (and processes, after `jax.distributed.initialize`). Each device steps its own slice
of the envs and minibatches; gradients and normalizer statistics are averaged with `pmean`.
Scaling is a config change: `num_envs` (a multiple of the device count).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec as P

from orient_jax.config import check_range
from orient_jax.rl.networks import Actor, Critic
from orient_jax.rl.trainer import AXIS, DataParallelTrainer, Params, TrainState  # noqa: F401 (re-exported)
from orient_jax.sim.base import ReorientEnv
from orient_jax.sim.vec_env import VecEnv

@dataclasses.dataclass(frozen=True)
class PPOConfig:
    num_envs: int = 1024
    """Parallel environments (a multiple of the number of devices)."""
    rollout_steps: int = 32
    """Control steps per env per update."""
    total_steps: int = 20_000_000
    """Environment (control) steps to train for, over all envs."""
    num_minibatches: int = 8
    """Minibatches per epoch (per device)."""
    update_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 1e-3
    """Adam step size at the start (decays linearly to 10% of it)."""
    gamma: float = 0.99
    """Discount per control step (0.02 s): a horizon of ~2 s."""
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    """PPO ratio clip."""
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0
    actor_hidden: tuple[int, ...] = (128, 128)
    """Actor MLP widths (kept small: it runs in the browser every frame)."""
    critic_hidden: tuple[int, ...] = (256, 256)
    init_log_std: float = -0.5
    tanh_grad_floor: float = 0.0
    """Lower bound on the derivative of the actor's output tanh during training (the policy's
    forward pass is unchanged): a policy pushing at its torque limit sits where the true
    derivative is ~0.005, and PPO could not move it there (`rl/networks.py`). The goal recipe's
    memory stages train with 0.1."""
    actor_frozen_updates: int = 0
    """Hold the actor still (zero gradient) for this many updates at the start while the
    critic learns: a warm start from a shipped policy brings no critic, and a fresh critic's
    advantages would only undo the policy."""
    seed: int = 0
    """PRNG seed of the whole run (init, envs, minibatches)."""

    def __post_init__(self):
        check_range("num_envs", self.num_envs, 1, 1 << 22)
        check_range("rollout_steps", self.rollout_steps, 1, 10_000)
        check_range("total_steps", self.total_steps, 1, 1 << 40)
        check_range("num_minibatches", self.num_minibatches, 1, 1 << 16)
        check_range("update_epochs", self.update_epochs, 1, 100)
        check_range("learning_rate", self.learning_rate, 0.0, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("clip_eps", self.clip_eps, 0.0, 10.0)
        check_range("actor_frozen_updates", self.actor_frozen_updates, 0, 1 << 30)
        check_range("tanh_grad_floor", self.tanh_grad_floor, 0.0, 1.0)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.rollout_steps

    @property
    def num_updates(self) -> int:
        return max(1, -(-self.total_steps // self.steps_per_update))


class PPO(DataParallelTrainer):
    """Builds the jitted init and update functions of one (env, config) pair."""

    def __init__(self, env: ReorientEnv, config: PPOConfig, devices: list | None = None):
        from orient_jax.errors import UserError

        self.env = env
        self.config = config
        self._setup_mesh(config.num_envs, devices)
        if (self.local_envs * config.rollout_steps) % config.num_minibatches:
            raise UserError("num_envs/devices * rollout_steps must be divisible by num_minibatches")
        self.venv = VecEnv(env, self.local_envs)
        self.actor = Actor(config.actor_hidden, env.action_size, config.init_log_std, config.tanh_grad_floor)
        self.critic = Critic(config.critic_hidden)
        schedule = optax.linear_schedule(config.learning_rate, 0.1 * config.learning_rate,
                                         config.num_updates * config.update_epochs * config.num_minibatches)
        self.optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                                     optax.adam(schedule, eps=1e-5))
        dummy = env.reset(jax.random.PRNGKey(0))
        self.feature_size = env.policy_features(dummy.obs).shape[-1]
        self.critic_size = dummy.critic_obs.shape[-1]
        self._specs = self._state_specs()
        self.init = jax.jit(self._init, out_shardings=self.shardings())
        self.update = jax.jit(self._sharded_update(), donate_argnums=0)

    # ----- init -----------------------------------------------------------------------------
    def _init(self, key: jax.Array) -> TrainState:
        return self._fresh_state(key, self.config.num_envs, lambda p: self.optimizer.init((p.actor, p.critic)))

    # ----- update ---------------------------------------------------------------------------
    def _sharded_update(self) -> Callable[[TrainState], tuple[TrainState, dict]]:
        return jax.shard_map(self._update, mesh=self.mesh, in_specs=(self._specs,),
                             out_specs=(self._specs, P()), check_vma=False)

    def _update(self, ts: TrainState) -> tuple[TrainState, dict]:
        cfg = self.config
        # Per-device randomness: the replicated key folded with the device index.
        rng, k_next = jax.random.split(ts.rng)
        rng = jax.random.fold_in(rng, jax.lax.axis_index(AXIS))
        k_rollout, k_epochs = jax.random.split(rng)
        params = ts.params

        def rollout_step(carry, noise):
            env_state, ep_ret = carry
            features = self.env.policy_features(env_state.obs)
            mean, log_std = self.actor.apply(params.actor, params.obs_norm.normalize(features))
            action = mean + jnp.exp(log_std) * noise
            log_prob = _gaussian_log_prob(action, mean, log_std)
            value = self.critic.apply(params.critic, params.critic_norm.normalize(env_state.critic_obs))
            next_state, final_critic_obs = self.venv.step(env_state, action)
            ep_ret = ep_ret + next_state.reward
            done = next_state.done
            transition = dict(features=features, critic_obs=env_state.critic_obs, action=action,
                              log_prob=log_prob, value=value, reward=next_state.reward, done=done,
                              terminated=done & ~next_state.truncated, final_critic_obs=final_critic_obs,
                              episode_return=jnp.where(done, ep_ret, 0.0),
                              episode_success=done & (next_state.metrics["success"] > 0),
                              metrics=next_state.metrics)
            return (next_state, jnp.where(done, 0.0, ep_ret)), transition

        (env_state, ep_ret), traj = jax.lax.scan(rollout_step, (ts.env_state, ts.episode_return),
                                                 self.exploration_noise(k_rollout))

        # Normalizer statistics from this rollout, merged over all devices.
        params = params.replace(obs_norm=params.obs_norm.update(traj["features"], AXIS),
                                critic_norm=params.critic_norm.update(traj["critic_obs"], AXIS))
        next_values = self.critic.apply(params.critic, params.critic_norm.normalize(traj["final_critic_obs"]))
        values = self.critic.apply(params.critic, params.critic_norm.normalize(traj["critic_obs"]))
        advantages, returns = gae(traj["reward"], values, next_values, traj["terminated"], traj["done"],
                                   cfg.gamma, cfg.gae_lambda)
        batch = dict(features=traj["features"], critic_obs=traj["critic_obs"], action=traj["action"],
                     log_prob=traj["log_prob"], advantage=advantages, ret=returns)
        batch = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), batch)

        # Adam on an all-zero gradient moves nothing: the actor waits for the critic.
        actor_live = (ts.update >= cfg.actor_frozen_updates).astype(jnp.float32)

        def epoch(carry, key):
            nets, opt_state = carry
            perm = jax.random.permutation(key, cfg.rollout_steps * self.local_envs)
            shuffled = jax.tree.map(lambda x: x[perm].reshape((cfg.num_minibatches, -1) + x.shape[1:]), batch)

            def minibatch(carry, mb):
                nets, opt_state = carry
                (loss, aux), grads = jax.value_and_grad(self._loss, has_aux=True)(nets, params, mb)
                grads = jax.lax.pmean(grads, AXIS)
                grads = (jax.tree.map(lambda g: g * actor_live, grads[0]), grads[1])
                updates, opt_state = self.optimizer.update(grads, opt_state, nets)
                return (optax.apply_updates(nets, updates), opt_state), aux

            return jax.lax.scan(minibatch, (nets, opt_state), shuffled)

        (nets, opt_state), losses = jax.lax.scan(
            epoch, ((params.actor, params.critic), ts.opt_state), jax.random.split(k_epochs, cfg.update_epochs))
        params = params.replace(actor=nets[0], critic=nets[1])

        n_done = jax.lax.psum(traj["done"].sum(), AXIS)
        metrics = {
            "episode/return": jax.lax.psum(traj["episode_return"].sum(), AXIS) / jnp.maximum(n_done, 1),
            "episode/success": jax.lax.psum(traj["episode_success"].sum(), AXIS) / jnp.maximum(n_done, 1),
            "episode/count": n_done.astype(jnp.float32),
            **{f"env/{k}" if "/" not in k else k: jax.lax.pmean(v.mean(), AXIS) for k, v in traj["metrics"].items()},
            **{f"loss/{k}": jax.lax.pmean(v.mean(), AXIS) for k, v in losses.items()},
            "policy/std": jnp.exp(params.actor["params"]["log_std"]).mean(),
        }
        ts = TrainState(params=params, opt_state=opt_state, env_state=env_state, episode_return=ep_ret,
                        rng=k_next, update=ts.update + 1)
        return ts, metrics

    def exploration_noise(self, key: jax.Array) -> jax.Array:
        """Standard normal noise of one rollout, (T, N_local, A): a fresh draw every step."""
        shape = (self.local_envs, self.env.action_size)
        keys = jax.random.split(key, self.config.rollout_steps)
        return jax.vmap(lambda k: jax.random.normal(k, shape))(keys)

    def _loss(self, nets, params: Params, mb: dict) -> tuple[jax.Array, dict]:
        cfg = self.config
        actor_params, critic_params = nets
        mean, log_std = self.actor.apply(actor_params, params.obs_norm.normalize(mb["features"]))
        log_prob = _gaussian_log_prob(mb["action"], mean, log_std)
        ratio = jnp.exp(log_prob - mb["log_prob"])
        adv = (mb["advantage"] - mb["advantage"].mean()) / (mb["advantage"].std() + 1e-8)
        policy_loss = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv).mean()
        value = self.critic.apply(critic_params, params.critic_norm.normalize(mb["critic_obs"]))
        value_loss = 0.5 * jnp.square(value - mb["ret"]).mean()
        entropy = jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e))
        total = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        approx_kl = ((ratio - 1) - jnp.log(ratio)).mean()
        return total, {"policy": policy_loss, "value": value_loss, "entropy": entropy, "approx_kl": approx_kl,
                       "clip_frac": (jnp.abs(ratio - 1) > cfg.clip_eps).mean()}


def _gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    return jnp.sum(-0.5 * jnp.square((x - mean) / jnp.exp(log_std)) - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def gae(rewards, values, next_values, terminated, done, gamma, lam):
    """Generalized advantage estimation over (T, N) arrays.

    next_values[t] is V of the state step t reached (before any reset), so a truncated
    episode bootstraps correctly; `done` cuts the trace between episodes.
    """
    deltas = rewards + gamma * next_values * (1.0 - terminated) - values

    def backward(adv_next, x):
        delta, d = x
        adv = delta + gamma * lam * (1.0 - d) * adv_next
        return adv, adv

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(values[0]), (deltas, done.astype(jnp.float32)), reverse=True)
    return advantages, advantages + values
