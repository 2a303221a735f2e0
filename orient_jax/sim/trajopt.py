"""Open-loop trajectory optimization through differentiable MJX: a time-to-upright reference.

For each start state, an open-loop torque sequence (T control steps x 3, squashed by tanh into
the action range) is optimized with Adam to minimize the mean over time of a per-step cost
(`step_cost`: tilt, angular speed and a soft "outside the success region" term): the earlier
the body is upright and still, the lower the loss.
Everything is one jitted function, vmapped over (start, restart) and scanned over time.

What makes gradients through the contact-rich rollout usable (see `TrajoptConfig`):

* Exact solver gradients. MJX's constraint solver iterates in a `lax.while_loop`, which
  reverse-mode autodiff refuses; `iterations=1` (the only while-free path) blows up on impact.
  `bounded_solver()` swaps that loop, inside MJX's solver module and only while tracing, for
  MJX's own fixed-trip-count scan (`_while_loop_scan`, which its line search already uses), so
  the optimized rollout is the env's physics exactly (same model, same 4 Newton iterations).
* Gradient damping. Backpropagated through hundreds of contact steps, the adjoint explodes
  (gradient norms 1e0..1e4 between neighbouring iterates). Each control step multiplies the
  cotangent flowing back into the state by `grad_decay` (identity forward), so a cost at time t
  mostly credits the actions of the preceding ~1/(1-grad_decay) steps: a smooth, truncated-
  backprop-like bias that keeps the directions useful.
* Per-(start, restart) gradient clipping and Adam (vmapped), so one exploding rollout does not
  throttle the others; the best iterate (lowest loss) of each restart is kept, and the best
  restart of each start.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from mujoco import mjx

from orient_jax import rotations
from orient_jax.sim.base import ReorientEnv, State


@dataclasses.dataclass(frozen=True)
class TrajoptConfig:
    horizon_s: float = 2.0
    """Length of the optimized torque sequence (s); zero torque is applied after it on replay."""
    iters: int = 100
    """Adam steps (the loss stops improving by ~40 on the default starts)."""
    restarts: int = 3
    """Initial sequences per start (restart 0 is all-zero torque, the others smooth random; the
    reference experiment puts the policy's own torques in restart 1); the best is kept."""
    lr: float = 0.1
    """Adam learning rate on the pre-tanh torque parameters."""
    clip: float = 1.0
    """Per-(start, restart) global-norm gradient clip."""
    grad_decay: float = 0.8
    """Per-control-step multiplier of the gradient flowing back through the state (1 = exact).
    On 6 starts x 80 Adam steps (2.5 s horizon) the mean loss reached 0.84 / 0.69 / 0.17 / 0.08
    for 1.0 / 0.95 / 0.9 / 0.8: the exact gradient is too erratic through contacts to follow."""
    ang_vel_weight: float = 0.005
    """Weight of |omega|^2 (rad^2/s^2) beside 1 - cos(tilt) in the per-step cost."""
    success_weight: float = 1.0
    """Weight of the soft "not yet in the success region" term 1 - exp(-(tilt/a)^2 - (|omega|/w)^2)
    (a, w: the env's success angle and angular speed). Its time average approximates the share of
    the horizon spent before success, i.e. the time to success that the reference is judged by;
    1 - cos(tilt) alone rewards arriving fast but not arriving still."""
    init_std: float = 0.5
    """Std of the random pre-tanh initial torques (smoothed over ~0.1 s)."""


@contextlib.contextmanager
def bounded_solver(max_iter: int):
    """While tracing, make MJX's constraint solver loop a fixed-length scan (reverse-mode safe).

    Only MJX's `solver` module sees the change (its module-level `jax` is proxied), and only
    inside the `with` block: jit a function inside it and the traced (cached) program keeps the
    scan; code traced elsewhere keeps MJX's early-exit while loop.
    """
    from mujoco.mjx._src import solver as mjx_solver

    scan_loop = getattr(mjx_solver, "_while_loop_scan", None)
    if scan_loop is None or getattr(mjx_solver, "jax", None) is not jax:
        raise RuntimeError("this MuJoCo MJX version's solver layout is unknown: cannot make it differentiable")

    class _Lax:
        def __getattr__(self, name):
            return getattr(jax.lax, name)

        @staticmethod
        def while_loop(cond, body, init):
            return scan_loop(cond, body, init, max_iter)

    class _Jax:
        lax = _Lax()

        def __getattr__(self, name):
            return getattr(jax, name)

    mjx_solver.jax = _Jax()
    try:
        yield
    finally:
        mjx_solver.jax = jax


@jax.custom_vjp
def _damp(x: jax.Array, gamma: jax.Array) -> jax.Array:
    return x


def _damp_fwd(x, gamma):
    return x, gamma


def _damp_bwd(gamma, g):
    return g * gamma, jnp.zeros_like(gamma)


_damp.defvjp(_damp_fwd, _damp_bwd)


def damp_gradient(tree, gamma: jax.Array):
    """Identity on the float leaves of `tree`; their cotangents are multiplied by `gamma`."""
    return jax.tree.map(lambda x: _damp(x, gamma) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def step_cost(data: mjx.Data, config: TrajoptConfig, success_angle: float, success_ang_vel: float) -> jax.Array:
    """Cost of one state: 0 upright and still. `success_angle` in rad, `success_ang_vel` in rad/s."""
    tilt = rotations.tilt(rotations.from_mujoco(data.qpos[3:7]))
    speed2 = jnp.sum(jnp.square(data.qvel[3:6]))
    outside = 1.0 - jnp.exp(-jnp.square(tilt / success_angle) - speed2 / success_ang_vel**2)
    return 1.0 - jnp.cos(tilt) + config.ang_vel_weight * speed2 + config.success_weight * outside


def rollout_cost(env: ReorientEnv, model: mjx.Model, config: TrajoptConfig, params: jax.Array, data0: mjx.Data,
                 gamma: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean per-step cost, costs (T,)) of pre-tanh torques `params` (T, 3) from `data0`."""

    angle, ang_vel = jnp.deg2rad(env.config.success_angle_deg), env.config.success_ang_vel

    def body(data, u):
        data = damp_gradient(data, gamma)
        data = env._physics(model, data, jnp.tanh(u) * env.action_scale)
        return data, step_cost(data, config, angle, ang_vel)

    _, costs = jax.lax.scan(jax.checkpoint(body), data0, params)
    return jnp.mean(costs), costs


def horizon_steps(env: ReorientEnv, config: TrajoptConfig) -> int:
    return max(1, round(config.horizon_s / env.config.control_dt))


def initial_params(key: jax.Array, n: int, restarts: int, steps: int, std: float) -> jax.Array:
    """(n, restarts, T, 3) pre-tanh torques: restart 0 zero, the others smooth Gaussian noise."""
    noise = std * jax.random.normal(key, (n, restarts, steps + 4, 3))
    smooth = sum(noise[:, :, k:k + steps] for k in range(5)) / jnp.sqrt(5.0)  # ~0.1 s moving sum
    return smooth.at[:, 0].set(0.0)


def make_optimizer(env: ReorientEnv, config: TrajoptConfig, compiler_options: dict | None = None) -> Callable:
    """`optimize(data0 (N,...), params0 (N, R, T, 3)) -> dict` (jitted; the loop is a scan).

    Compiling the gradient through MJX's step takes a minute on a small CPU;
    `compiler_options={"xla_backend_optimization_level": 0}` cuts that by about a third (tests).

    Returns best_params (N, T, 3), best_loss (N,), restart_params (N, R, T, 3) and restart_loss
    (N, R) (each restart's best iterate) and loss_curve (iters + 1, N, R) (the loss of each iterate).
    """
    model = env.mjx_model  # nominal physics: no randomization
    opt = optax.chain(optax.clip_by_global_norm(config.clip), optax.adam(config.lr))
    gamma = jnp.asarray(config.grad_decay, jnp.float32)
    solver_iters = int(env.mj_model.opt.iterations)

    def value_and_grad(params, data0):
        f = lambda p: rollout_cost(env, model, config, p, data0, gamma)[0]
        return jax.value_and_grad(f)(params)

    # (N, R) rows: vmap over restarts then starts, the start's data broadcast over restarts.
    vg = jax.vmap(jax.vmap(value_and_grad, in_axes=(0, None)), in_axes=(0, 0))
    update = jax.vmap(jax.vmap(opt.update))

    def optimize(data0, params0):
        def it(carry, _):
            params, opt_state, best_p, best_l = carry
            loss, grad = vg(params, data0)
            loss = jnp.where(jnp.isfinite(loss), loss, jnp.inf)
            grad = jnp.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
            better = loss < best_l
            best_p = jnp.where(better[..., None, None], params, best_p)
            best_l = jnp.minimum(best_l, loss)
            updates, opt_state = update(grad, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, best_p, best_l), loss

        opt_state = jax.vmap(jax.vmap(opt.init))(params0)
        init = (params0, opt_state, params0, jnp.full(params0.shape[:2], jnp.inf))
        # iters + 1 evaluations: the last scores the last update (its own update is unused).
        (_, _, best_p, best_l), curve = jax.lax.scan(it, init, None, length=config.iters + 1)
        pick = jnp.argmin(best_l, axis=1)
        chosen = jnp.take_along_axis(best_p, pick[:, None, None, None], axis=1)[:, 0]
        return {"best_params": chosen, "best_loss": jnp.min(best_l, axis=1), "restart_params": best_p,
                "restart_loss": best_l, "loss_curve": curve}

    jitted = jax.jit(optimize, compiler_options=compiler_options)

    def run(data0, params0):
        with bounded_solver(solver_iters):
            return jitted(data0, params0)

    return run


def make_replay(env: ReorientEnv) -> Callable:
    """`replay(states (N,...), actions (N, T, 3)) -> (success, success_step, tilt_deg (N, E))`.

    Open-loop actions through the env's own `step` (its success rule), zero torque after the
    sequence ends, for a whole episode.
    """
    steps = env.episode_steps

    def one(state: State, actions: jax.Array):
        padded = jnp.zeros((steps, 3)).at[:min(actions.shape[0], steps)].set(actions[:steps])

        def body(s, a):
            s = env.step(s, a)
            return s, s.metrics["error_deg"]

        s, err = jax.lax.scan(body, state, padded)
        return s.info["success"], s.info["success_step"], err

    return jax.jit(jax.vmap(one))


def make_closed_loop(env: ReorientEnv, controller: Callable[[dict], jax.Array]) -> Callable:
    """`run(states (N,...)) -> (success, success_step, tilt_deg (N, E), actions (N, E, 3))`:
    a controller acting on the env's observations (one env per row) for a whole episode."""

    def one(state: State):
        def body(s, _):
            a = controller(jax.tree.map(lambda x: x[None], s.obs))[0]
            s = env.step(s, a)
            return s, (s.metrics["error_deg"], a)

        s, (err, actions) = jax.lax.scan(body, state, None, length=env.episode_steps)
        return s.info["success"], s.info["success_step"], err, actions

    return jax.jit(jax.vmap(one))


def actions_to_params(actions: jax.Array, limit: float = 0.995) -> jax.Array:
    """Pre-tanh parameters that reproduce `actions` in [-1, 1] (saturated ones at +-limit)."""
    return jnp.arctanh(jnp.clip(actions, -limit, limit))
