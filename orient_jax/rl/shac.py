"""SHAC (Xu et al. 2022): short-horizon actor-critic through the differentiable MJX physics.

One `update`: from the envs' current states, roll the stochastic policy (reparameterized:
action = mean + std * eps) through `horizon` control steps of MJX, and take the gradient of

    actor loss = -1/H * ( sum_t gamma^t r_t + gamma^H V(s_H) )        (per env, then averaged)

with respect to the actor's parameters, through the rewards, the observations and the physics.
The learned critic V bootstraps what lies beyond the window, so the backpropagated chain stays
short. Then the critic regresses on TD(lambda) targets of the same (stopped-gradient) rollout.
An episode that ends inside the window adds gamma^t V(end) when it was cut by time (0 when the
simulation blew up), restarts its discount and continues from a fresh drop, which carries no
gradient.

What makes the gradients usable here (from the trajectory-optimisation experiment,
`orient_jax/sim/trajopt.py`, whose pieces are reused):

* MJX's constraint solver loop runs as a fixed-length scan while the update is traced
  (`trajopt.bounded_solver`): the same physics as training with PPO, reverse-mode safe.
* The cotangent flowing back through the state is multiplied by `grad_decay` per control step
  (`trajopt.damp_gradient`): a cost credits mostly the actions of the last ~1/(1-decay) steps.
* Each env's gradient is taken separately (`vmap` of `grad`, cheap: the actor is small). An env
  whose gradient is not finite (a contact event's adjoint, an arccos at exactly zero tilt) is
  masked out and counted (`grad/masked`); the mean of the others is clipped by norm.

Data parallel like PPO: `update` runs under `jax.shard_map` over the "data" axis; gradients and
normalizer statistics are averaged over devices. The networks, normalizers, checkpoints and
policy artifact are PPO's, so a SHAC policy exports and ships the same ONNX contract.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec as P

from orient_jax.config import check_range
from orient_jax.errors import UserError
from orient_jax.rl.networks import Actor, Critic
from orient_jax.rl.ppo import gae
from orient_jax.rl.trainer import AXIS, DataParallelTrainer, Params, TrainState
from orient_jax.sim import trajopt
from orient_jax.sim.base import ReorientEnv


@dataclasses.dataclass(frozen=True)
class SHACConfig:
    num_envs: int = 64
    """Parallel environments (a multiple of the number of devices)."""
    horizon: int = 32
    """Control steps backpropagated through per update (0.64 s at 50 Hz)."""
    total_steps: int = 2_000_000
    """Environment (control) steps to train for, over all envs."""
    actor_lr: float = 2e-3
    """Adam step size of the actor (decays linearly to 10 % of it)."""
    critic_lr: float = 2e-3
    critic_epochs: int = 8
    """Passes of the critic over each rollout."""
    critic_minibatches: int = 4
    gamma: float = 0.99
    td_lambda: float = 0.95
    """lambda of the critic's TD(lambda) targets."""
    grad_decay: float = 0.9
    """Per-control-step multiplier of the gradient flowing back through the physics state
    (1 = exact): the trajectory-optimisation experiment's remedy for the exploding adjoint."""
    max_grad_norm: float = 1.0
    """Global-norm clip of the actor's gradient (after masking non-finite envs)."""
    actor_hidden: tuple[int, ...] = (128, 128)
    """Actor MLP widths (PPO's: the same exported network)."""
    critic_hidden: tuple[int, ...] = (256, 256)
    init_log_std: float = -1.0
    """Initial log std of the action noise (learned by the actor's gradient like its mean)."""
    seed: int = 0

    def __post_init__(self):
        check_range("num_envs", self.num_envs, 1, 1 << 22)
        check_range("horizon", self.horizon, 1, 1000)
        check_range("total_steps", self.total_steps, 1, 1 << 40)
        check_range("actor_lr", self.actor_lr, 0.0, 1.0)
        check_range("critic_lr", self.critic_lr, 0.0, 1.0)
        check_range("critic_epochs", self.critic_epochs, 1, 100)
        check_range("critic_minibatches", self.critic_minibatches, 1, 1 << 16)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("td_lambda", self.td_lambda, 0.0, 1.0)
        check_range("grad_decay", self.grad_decay, 0.0, 1.0)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.horizon

    @property
    def num_updates(self) -> int:
        return max(1, -(-self.total_steps // self.steps_per_update))


class SHAC(DataParallelTrainer):
    """Builds the jitted init and update functions of one (env, config) pair (as `PPO` does)."""

    def __init__(self, env: ReorientEnv, config: SHACConfig, devices: list | None = None):
        if env.memory_shape is not None:
            raise UserError("SHAC trains policies without memory (env.memory=false) and for asymmetric objects "
                            "(a symmetric object's policy carries the look-alike observer in its memory): use --algo ppo")
        self.env = env
        self.config = config
        self._setup_mesh(config.num_envs, devices)
        if (self.local_envs * config.horizon) % config.critic_minibatches:
            raise UserError("num_envs/devices * horizon must be divisible by critic_minibatches")
        self.actor = Actor(config.actor_hidden, env.action_size, config.init_log_std)
        self.critic = Critic(config.critic_hidden)
        to_tenth = lambda lr, n: optax.linear_schedule(lr, 0.1 * lr, n)
        self.actor_opt = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                                     optax.adam(to_tenth(config.actor_lr, config.num_updates), eps=1e-5))
        self.critic_opt = optax.adam(to_tenth(config.critic_lr, config.num_updates * config.critic_epochs
                                           * config.critic_minibatches), eps=1e-5)
        dummy = env.reset(jax.random.PRNGKey(0))
        self.feature_size = env.policy_features(dummy.obs).shape[-1]
        self.critic_size = dummy.critic_obs.shape[-1]
        self._solver_iters = int(env.mj_model.opt.iterations)
        self._specs = self._state_specs()
        self.init = jax.jit(self._init, out_shardings=self.shardings())
        self._update_jit = jax.jit(jax.shard_map(self._update, mesh=self.mesh, in_specs=(self._specs,),
                                                 out_specs=(self._specs, P()), check_vma=False), donate_argnums=0)

    def update(self, ts: TrainState) -> tuple[TrainState, dict]:
        # The solver's loop is a scan only while this traces (the first call compiles).
        with trajopt.bounded_solver(self._solver_iters):
            return self._update_jit(ts)

    def _init(self, key: jax.Array) -> TrainState:
        return self._fresh_state(key, self.config.num_envs,
                                 lambda p: (self.actor_opt.init(p.actor), self.critic_opt.init(p.critic)))

    # ----- update ---------------------------------------------------------------------------
    def _env_objective(self, actor_params, params: Params, state, eps: jax.Array, ep_ret: jax.Array,
                       decay: jax.Array):
        """One env's window of len(eps) steps, the state's cotangent damped by `decay` per step:
        (actor loss, (final state, running return, transitions (H, ...)))."""
        cfg, env = self.config, self.env
        value = lambda critic_obs: self.critic.apply(params.critic, params.critic_norm.normalize(critic_obs))

        def body(carry, e):
            s, disc, total, ret = carry
            s = s.replace(data=trajopt.damp_gradient(s.data, decay))
            mean, log_std = self.actor.apply(actor_params, params.obs_norm.normalize(env.policy_features(s.obs)))
            action = mean + jnp.exp(log_std) * e
            nxt = env.step(s, action)
            total = total + disc * nxt.reward
            disc = disc * cfg.gamma
            # An episode cut by time is worth its value; a blown-up one nothing. Then a new drop.
            total = total + jnp.where(nxt.truncated, disc * value(nxt.critic_obs), 0.0)
            disc = jnp.where(nxt.done, 1.0, disc)
            ret = ret + jax.lax.stop_gradient(nxt.reward)
            fresh = jax.lax.stop_gradient(env.reset(jax.random.fold_in(nxt.info["rng"], 1)))
            merged = jax.tree.map(lambda f, n: jnp.where(nxt.done, f, n), fresh, nxt)
            transition = dict(features=jax.lax.stop_gradient(env.policy_features(s.obs)),
                              critic_obs=jax.lax.stop_gradient(s.critic_obs),
                              final_critic_obs=jax.lax.stop_gradient(nxt.critic_obs),
                              reward=jax.lax.stop_gradient(nxt.reward), done=nxt.done,
                              terminated=nxt.done & ~nxt.truncated,
                              episode_return=jnp.where(nxt.done, ret, 0.0),
                              episode_success=nxt.done & (nxt.metrics["success"] > 0),
                              metrics=jax.lax.stop_gradient(nxt.metrics))
            return (merged, disc, total, jnp.where(nxt.done, 0.0, ret)), transition

        carry = (state, jnp.float32(1.0), jnp.float32(0.0), ep_ret)
        (s, disc, total, ret), traj = jax.lax.scan(jax.checkpoint(body), carry, eps)
        total = total + disc * value(s.critic_obs)
        return -total / eps.shape[0], (jax.lax.stop_gradient(s), ret, traj)

    def _update(self, ts: TrainState) -> tuple[TrainState, dict]:
        cfg = self.config
        rng, k_next = jax.random.split(ts.rng)
        rng = jax.random.fold_in(rng, jax.lax.axis_index(AXIS))
        k_eps, k_critic = jax.random.split(rng)
        params = ts.params
        eps = jax.random.normal(k_eps, (self.local_envs, cfg.horizon, self.env.action_size))

        # Per-env actor gradients; an env whose gradient is not finite is left out and counted.
        per_env = jax.vmap(jax.value_and_grad(self._env_objective, has_aux=True),
                           in_axes=(None, None, 0, 0, 0, None))
        (losses, (env_state, ep_ret, traj)), grads = per_env(
            params.actor, params, ts.env_state, eps, ts.episode_return, jnp.float32(cfg.grad_decay))
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g.reshape(g.shape[0], -1)), axis=1)
                                    for g in jax.tree.leaves(grads)]), axis=0) & jnp.isfinite(losses)
        n_finite = jax.lax.psum(finite.sum(), AXIS)
        keep = lambda g: jnp.where(finite.reshape((-1,) + (1,) * (g.ndim - 1)), g, 0.0)
        grad = jax.tree.map(lambda g: jax.lax.psum(keep(g).sum(0), AXIS) / jnp.maximum(n_finite, 1), grads)
        grad_norm = optax.tree.norm(grad)
        actor_opt, critic_opt = ts.opt_state
        updates, actor_opt = self.actor_opt.update(grad, actor_opt, params.actor)
        actor = optax.apply_updates(params.actor, updates)

        traj = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), traj)  # (H, N_local, ...)
        params = params.replace(actor=actor, obs_norm=params.obs_norm.update(traj["features"], AXIS),
                                critic_norm=params.critic_norm.update(traj["critic_obs"], AXIS))
        critic, critic_opt, value_loss = self._fit_critic(params, critic_opt, traj, k_critic)
        params = params.replace(critic=critic)

        n_done = jax.lax.psum(traj["done"].sum(), AXIS)
        n_envs = jax.lax.psum(jnp.float32(self.local_envs), AXIS)
        metrics = {
            "episode/return": jax.lax.psum(traj["episode_return"].sum(), AXIS) / jnp.maximum(n_done, 1),
            "episode/success": jax.lax.psum(traj["episode_success"].sum(), AXIS) / jnp.maximum(n_done, 1),
            "episode/count": n_done.astype(jnp.float32),
            **{f"env/{k}" if "/" not in k else k: jax.lax.pmean(v.mean(), AXIS) for k, v in traj["metrics"].items()},
            "loss/actor": jax.lax.psum(jnp.where(finite, losses, 0.0).sum(), AXIS) / jnp.maximum(n_finite, 1),
            "loss/value": jax.lax.pmean(value_loss, AXIS),
            "grad/norm": grad_norm,
            "grad/masked": 1.0 - n_finite / n_envs,
            "policy/std": jnp.exp(actor["params"]["log_std"]).mean(),
        }
        return TrainState(params=params, opt_state=(actor_opt, critic_opt), env_state=env_state, episode_return=ep_ret,
                          rng=k_next, update=ts.update + 1), metrics

    def _fit_critic(self, params: Params, opt_state, traj: dict, key: jax.Array):
        """TD(lambda) regression of the critic on the window's transitions (H, N_local)."""
        cfg = self.config
        value = lambda p, x: self.critic.apply(p, params.critic_norm.normalize(x))
        values = value(params.critic, traj["critic_obs"])
        next_values = value(params.critic, traj["final_critic_obs"])
        _, targets = gae(traj["reward"], values, next_values, traj["terminated"], traj["done"], cfg.gamma, cfg.td_lambda)
        batch = {"x": traj["critic_obs"].reshape(-1, self.critic_size), "y": targets.reshape(-1)}
        n = batch["y"].shape[0]

        def epoch(carry, k):
            perm = jax.random.permutation(k, n)
            mbs = jax.tree.map(lambda a: a[perm].reshape((cfg.critic_minibatches, -1) + a.shape[1:]), batch)

            def minibatch(carry, mb):
                critic, opt_state = carry
                loss, g = jax.value_and_grad(lambda c: 0.5 * jnp.mean(jnp.square(value(c, mb["x"]) - mb["y"])))(critic)
                updates, opt_state = self.critic_opt.update(jax.lax.pmean(g, AXIS), opt_state, critic)
                return (optax.apply_updates(critic, updates), opt_state), loss

            return jax.lax.scan(minibatch, carry, mbs)

        (critic, opt_state), losses = jax.lax.scan(epoch, (params.critic, opt_state),
                                                   jax.random.split(key, cfg.critic_epochs))
        return critic, opt_state, losses.mean()
