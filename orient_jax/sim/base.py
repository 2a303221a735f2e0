"""Shared machinery of the re-orientation tasks: MJX physics, noise, randomization, success.

A task file (`upright.py`, `goal.py`) subclasses `ReorientEnv` and supplies its target,
its error angle, its policy features and its reward terms. Everything here is a pure function
of (state, action); a `State` holds one environment (vmap it for a batch, see `vec_env.py`).

Frames: world Z up; quaternions [x, y, z, w] (MuJoCo's [w, x, y, z] is converted only in
`_orientation`); angular velocity in the body frame (MuJoCo's free-joint qvel[3:6]).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
from flax import struct
from mujoco import mjx

from orient_jax import rotations
from orient_jax.assets import engine_spec, mjcf
from orient_jax.config import check_range
from orient_jax.sim import memory as memory_lib
from orient_jax.sim import noise as noise_lib
from orient_jax.sim import reflex as reflex_lib
from orient_jax.sim import rest_poses, start_bank

Obs = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    model_path: str = ""
    """Pose-error model JSON written by `orient-jax eval-pose`; "" = the documented default."""
    scale: float = 1.0
    """Multiplies every sampled error angle (0 = perfect pose estimates)."""
    sign_flip: bool = True
    """Flip the observed quaternion's sign at random (q and -q are the same rotation)."""
    ang_vel_std: float = 0.05
    """Std of Gaussian noise on the observed angular velocity (rad/s)."""

    def __post_init__(self):
        check_range("noise.scale", self.scale, 0.0, 20.0)
        check_range("noise.ang_vel_std", self.ang_vel_std, 0.0, 10.0)


@dataclasses.dataclass(frozen=True)
class RandomizationConfig:
    enabled: bool = True
    """Randomize the physics per episode (the policy must not overfit one model)."""
    mass: tuple[float, float] = (0.85, 1.15)
    """Range of the mass multiplier."""
    inertia: tuple[float, float] = (0.85, 1.15)
    """Range of each principal-inertia multiplier."""
    friction: tuple[float, float] = (0.5, 1.1)
    """Range of the sliding friction coefficient of the body's hull."""
    torque_gain: tuple[float, float] = (0.85, 1.1)
    """Range of the multiplier between commanded and applied torque."""

    def __post_init__(self):
        for name in ("mass", "inertia", "friction", "torque_gain"):
            lo, hi = getattr(self, name)
            check_range(f"randomization.{name}[0]", lo, 0.05, 10.0)
            check_range(f"randomization.{name}[1]", hi, lo, 10.0)


@dataclasses.dataclass(frozen=True)
class RewardScales:
    """Weights of the named reward terms (each logged as reward/<name>)."""

    alignment: float = 1.0
    """(1 + cos(error angle)) / 2: dense guidance from anywhere."""
    precision: float = 1.0
    """exp(-(error / 0.15 rad)^2): sharp peak at the goal."""
    ang_vel: float = -0.05
    """|angular velocity|^2 near the goal (weighted by precision), to hold still."""
    action: float = -0.02
    """|action|^2: energy."""
    action_rate: float = -0.05
    """|action - previous action|^2: smooth torques."""
    success: float = 2.0
    """Bonus while inside the success region (error and angular velocity below bounds)."""


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    episode_s: float = 10.0
    """Episode length (s); success must come within it."""
    control_dt: float = 0.02
    """Control period (s); a multiple of the MJCF timestep."""
    success_angle_deg: float = 10.0
    """Success: error angle (tilt for `upright`) at most this..."""
    success_ang_vel: float = 0.5
    """...and |angular velocity| at most this (rad/s)..."""
    success_hold_s: float = 1.0
    """...held continuously for this long (s)."""
    spawn_xy: float = 0.05
    """Half-width of the square of random drop positions (m)."""
    goal_hold_margin: float = 0.7
    """Goal task: targets are uniformly random orientations that the engine can hold against
    gravity using at most this fraction of its torque (balanced on its lowest point)."""
    hard_target_fraction: float = 0.0
    """Training curriculum (goal task): this fraction of episodes takes, instead of the first
    holdable candidate target, the holdable one that needs the most torque to hold. Goal
    failures concentrate near the torque limit (`experiments/results/goal_failures.md`), where
    uniform targets put few episodes. Evaluation always uses uniform targets."""
    upright_start_fraction: float = 0.0
    """Training curriculum: this fraction of episodes starts at rest on the floor, upright with
    a random yaw, instead of dropped. Upright is the engine's most stable pose, where a dropped
    engine most often settles and where escaping takes a deliberate tip over a base edge; the
    goal task needs that skill. Evaluation always uses the uniform drops (`rl/evaluate.py`)."""
    rest_start_fraction: float = 0.0
    """Training curriculum: this fraction of episodes starts at rest in one of the poses a
    dropped, unpowered engine settles in (on its side, upside down...: `sim/rest_poses.py`),
    at a random yaw. Each rest is a trap to tip out of, like upright."""
    near_rest_start_fraction: float = 0.0
    """Training curriculum (goal task): this fraction of episodes starts at rest in the settled
    pose (at the yaw, of 8 random ones) nearest the episode's target: where a policy that cannot
    yet lift the engine onto the target's balancing point stops, 20-40 deg short of it."""
    rest_start_kick: float = 0.0
    """Training curriculum: a start at rest (any of the fractions above) begins with an angular
    velocity of uniformly random direction and speed up to this (rad/s). The goal policy's
    failures stall held up at the torque limit on the way to the target; a kick shows it what
    momentum does there (`experiments/goal_failures.py`)."""
    stall_start_fraction: float = 0.0
    """Training curriculum: this fraction of episodes starts from a state of `stall_starts`
    (position, velocity, target and physics as recorded), with the whole episode to go."""
    stall_starts: str = ""
    """Start bank (.npz, `sim/start_bank.py`) for `stall_start_fraction`: states where an earlier
    policy stalled short of its target (`experiments/collect_stall_starts.py`)."""
    memory: bool = False
    """The policy also sees moving averages of its past features (`sim/memory.py`): the
    observation (and `policy.onnx`) gains a `memory` the policy updates and the caller feeds
    back. Off: every decision rests on the current observation alone."""
    reflex: reflex_lib.ReflexConfig = reflex_lib.ReflexConfig()
    """The stall reflex around a trained policy (`sim/reflex.py`; `orient-jax reflex`): its
    state is one more row of the memory."""
    max_ang_vel: float = 60.0
    """An |angular velocity| above this (rad/s) counts as a blown-up simulation."""
    noise: NoiseConfig = NoiseConfig()
    randomization: RandomizationConfig = RandomizationConfig()
    reward: RewardScales = RewardScales()

    def __post_init__(self):
        check_range("episode_s", self.episode_s, 0.1, 600.0)
        check_range("control_dt", self.control_dt, 0.001, 1.0)
        check_range("success_angle_deg", self.success_angle_deg, 0.1, 180.0)
        check_range("success_ang_vel", self.success_ang_vel, 0.0, 100.0)
        check_range("success_hold_s", self.success_hold_s, 0.0, self.episode_s)
        check_range("spawn_xy", self.spawn_xy, 0.0, 0.25)
        check_range("goal_hold_margin", self.goal_hold_margin, 0.05, 1.0)
        check_range("hard_target_fraction", self.hard_target_fraction, 0.0, 1.0)
        check_range("upright_start_fraction", self.upright_start_fraction, 0.0, 1.0)
        check_range("rest_start_fraction", self.rest_start_fraction, 0.0, 1.0 - self.upright_start_fraction)
        check_range("near_rest_start_fraction", self.near_rest_start_fraction, 0.0,
                    1.0 - self.upright_start_fraction - self.rest_start_fraction)
        check_range("rest_start_kick", self.rest_start_kick, 0.0, 0.5 * self.max_ang_vel)
        check_range("stall_start_fraction", self.stall_start_fraction, 0.0,
                    1.0 - self.upright_start_fraction - self.rest_start_fraction - self.near_rest_start_fraction)
        if self.stall_start_fraction > 0 and not self.stall_starts:
            from orient_jax.errors import UserError
            raise UserError("stall_start_fraction > 0 needs a start bank: --set env.stall_starts=PATH.npz")
        if self.reflex.enabled and not self.memory:
            from orient_jax.errors import UserError
            raise UserError("env.reflex needs env.memory=true (the reflex keeps its state in the policy's memory)")


@struct.dataclass
class State:
    """One environment. Batched states have a leading env axis on every array."""

    data: mjx.Data
    obs: Obs
    """The raw signals of the policy's ONNX contract: quat (4,), ang_vel (3,), prev_action (3,),
    for goal tasks target (4,), and with `config.memory` the policy's memory (K, F + 1)."""
    critic_obs: jax.Array
    """Privileged features for the value function (true state, randomization), (C,)."""
    reward: jax.Array
    done: jax.Array
    """Episode over (time limit or blow-up): the vector wrapper resets it."""
    truncated: jax.Array
    """Ended by the time limit (bootstrap the value) rather than terminated."""
    metrics: dict[str, jax.Array]
    info: dict[str, Any]


class ReorientEnv:
    """Base: a rigid engine on a floor in a walled arena, turned by body-frame torques."""

    goal_conditioned: bool = False

    def __init__(self, config: EnvConfig, mjcf_path: str | None = None):
        self.config = config
        self.mj_model = mujoco.MjModel.from_xml_path(str(mjcf_path or mjcf.MJCF_PATH))
        # This process's own device: in a multi-process run, jax.devices()[0] may be another's.
        self._device = jax.local_devices()[0]
        self.mjx_model = mjx.put_model(self.mj_model, device=self._device)
        self.timestep = float(self.mj_model.opt.timestep)
        self.n_substeps = int(round(config.control_dt / self.timestep))
        if self.n_substeps < 1 or abs(self.n_substeps * self.timestep - config.control_dt) > 1e-9:
            from orient_jax.errors import UserError
            raise UserError(f"control_dt={config.control_dt} is not a multiple of the timestep {self.timestep}")
        self.action_scale = jnp.asarray(self.mj_model.actuator_ctrlrange[:, 1], jnp.float32)
        self.episode_steps = int(round(config.episode_s / config.control_dt))
        self.hold_steps = int(round(config.success_hold_s / config.control_dt))
        self.noise_model = noise_lib.load(config.noise.model_path)
        self._hull_geom = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_GEOM, "hull")
        self._init_height = mjcf.initial_height()
        self._hull_points = jnp.asarray(engine_spec.collision_hull(), jnp.float32)  # body frame (P, 3)
        self._data_template = mjx.make_data(self.mjx_model, device=self._device)
        # Rest poses are found (by simulation, ~2 s) only where a curriculum starts from them.
        self._settled = jnp.asarray(rest_poses.settled_orientations(str(mjcf_path or mjcf.MJCF_PATH))
                                    if config.rest_start_fraction + config.near_rest_start_fraction > 0
                                    else [[0.0, 0.0, 0.0, 1.0]], jnp.float32)
        # The start bank is read only where the curriculum uses it (evaluation never does).
        self._stall_bank = ({k: jnp.asarray(v) for k, v in start_bank.load(config.stall_starts).items()}
                            if config.stall_start_fraction > 0 else None)

    # ----- task hooks -------------------------------------------------------------------
    def _sample_target(self, key: jax.Array) -> jax.Array:
        """Target orientation [x, y, z, w] of an episode."""
        raise NotImplementedError

    @staticmethod
    def error_angle(quat: jax.Array, target: jax.Array) -> jax.Array:
        """Angle (rad) between the orientation and the task's goal (target: the episode's,
        identity for tasks without one)."""
        raise NotImplementedError

    @staticmethod
    def signal_features(obs: Obs) -> jax.Array:
        """Features of one observation's raw signals (..., F)."""
        raise NotImplementedError

    @classmethod
    def policy_features(cls, obs: Obs) -> jax.Array:
        """Features the policy computes from the raw signals (inside the exported graph): this
        observation's (F), then, where `obs` has a memory, how far each moving average of them
        (memory included this step's) lies from them now (K * F)."""
        features = cls.signal_features(obs)
        if "memory" not in obs:
            return features
        drift = memory_lib.averages(memory_lib.update(obs["memory"], features)) - features[..., None, :]
        return jnp.concatenate([features, drift.reshape(*features.shape[:-1], -1)], axis=-1)

    @classmethod
    def next_memory(cls, config: EnvConfig, obs: Obs) -> jax.Array:
        """The policy's memory once it has seen `obs` (its `memory_out`; the env's next
        observation carries the same): the moving averages take this observation's features
        and, with the stall reflex, the reflex's row takes its stall evidence."""
        memory = memory_lib.update(obs["memory"], cls.signal_features(obs))
        if not config.reflex.enabled:
            return memory
        k = len(memory_lib.DECAYS)
        quat = rotations.normalize(obs["quat"])
        error = cls.error_angle(quat, rotations.normalize(obs["target"]) if "target" in obs else rotations.identity())
        row = reflex_lib.observe(memory[..., k, :], error, obs["ang_vel"], obs["prev_action"], config.reflex,
                                 config.control_dt)
        return jnp.concatenate([memory[..., :k, :], row[..., None, :]], axis=-2)

    @classmethod
    def signal_size(cls) -> int:
        """F: the size of `signal_features`."""
        obs = {"quat": jnp.array([0.0, 0.0, 0.0, 1.0]), "ang_vel": jnp.zeros(3), "prev_action": jnp.zeros(3)}
        if cls.goal_conditioned:
            obs["target"] = obs["quat"]
        return int(jax.eval_shape(cls.signal_features, obs).shape[-1])

    # ----- sizes ----------------------------------------------------------------------------
    @property
    def action_size(self) -> int:
        return 3

    def obs_spec(self) -> dict[str, tuple[int, ...]]:
        spec = {"quat": (4,), "ang_vel": (3,), "prev_action": (3,)}
        if self.goal_conditioned:
            spec["target"] = (4,)
        if self.config.memory:
            spec["memory"] = memory_lib.shape(self.signal_size(), self.config.reflex.enabled)
        return spec

    # ----- dynamics -------------------------------------------------------------------------
    def nominal_physics(self) -> dict[str, jax.Array]:
        """The randomization draw (state.info["dr"]) that leaves the MJCF's physics as it is."""
        return {"mass": jnp.ones(()), "inertia": jnp.ones(3), "friction": jnp.asarray(self.mj_model.geom_friction[self._hull_geom, 0]),
                "torque_gain": jnp.ones(())}

    def _sample_randomization(self, key: jax.Array) -> dict[str, jax.Array]:
        r = self.config.randomization
        keys = jax.random.split(key, 4)
        if not r.enabled:
            return self.nominal_physics()
        u = lambda k, rng, shape=(): jax.random.uniform(k, shape, minval=rng[0], maxval=rng[1])
        return {"mass": u(keys[0], r.mass), "inertia": u(keys[1], r.inertia, (3,)),
                "friction": u(keys[2], r.friction), "torque_gain": u(keys[3], r.torque_gain)}

    def _model(self, dr: dict[str, jax.Array]) -> mjx.Model:
        """The MJX model with this episode's randomized mass, inertia and hull friction."""
        m = self.mjx_model
        body = 1  # the engine (body 0 is the world)
        return m.tree_replace({
            "body_mass": m.body_mass.at[body].multiply(dr["mass"]),
            "body_inertia": m.body_inertia.at[body].multiply(dr["inertia"] * dr["mass"]),
            "geom_friction": m.geom_friction.at[self._hull_geom, 0].set(dr["friction"]),
        })

    def _at_rest(self, data: mjx.Data) -> mjx.Data:
        """A finite copy of `data` at rest: what a blown-up step falls back to."""
        qpos = jnp.nan_to_num(data.qpos)
        quat = rotations.normalize(rotations.from_mujoco(qpos[3:7]))
        qpos = qpos.at[3:7].set(rotations.to_mujoco(quat))
        return data.replace(qpos=qpos, qvel=jnp.zeros_like(data.qvel), qacc=jnp.zeros_like(data.qacc))

    def _physics(self, model: mjx.Model, data: mjx.Data, ctrl: jax.Array) -> mjx.Data:
        data = data.replace(ctrl=ctrl)
        return jax.lax.fori_loop(0, self.n_substeps, lambda _, d: mjx.step(model, d), data)

    @staticmethod
    def _orientation(data: mjx.Data) -> tuple[jax.Array, jax.Array]:
        """(quat [x, y, z, w] canonical, body-frame angular velocity (3,)) from MuJoCo state."""
        return rotations.canonicalize(rotations.from_mujoco(data.qpos[3:7])), data.qvel[3:6]

    def noise_levels(self) -> dict[str, jax.Array]:
        """The episode's observation-noise levels (state.info["noise"]): data, not compile-time
        constants, so one compiled rollout serves every noise level an evaluation sweeps."""
        cfg = self.config.noise
        return {"scale": jnp.float32(cfg.scale), "ang_vel_std": jnp.float32(cfg.ang_vel_std)}

    def _observe(self, key: jax.Array, quat: jax.Array, ang_vel: jax.Array, prev_action: jax.Array,
                 target: jax.Array, noise: dict[str, jax.Array]) -> Obs:
        """Noisy raw signals, as the pose model (quat) and a gyro (ang_vel) would give them."""
        k_err, k_sign, k_gyro = jax.random.split(key, 3)
        error = self.noise_model.sample_error(k_err, noise["scale"])
        noisy = rotations.canonicalize(rotations.multiply(error, quat))
        if self.config.noise.sign_flip:
            noisy = jnp.where(jax.random.bernoulli(k_sign), -noisy, noisy)
        obs = {"quat": noisy, "ang_vel": ang_vel + noise["ang_vel_std"] * jax.random.normal(k_gyro, (3,)),
               "prev_action": prev_action}
        if self.goal_conditioned:
            obs["target"] = target
        return obs

    def _critic_obs(self, data: mjx.Data, quat: jax.Array, target: jax.Array, prev_action: jax.Array,
                    info: dict[str, Any]) -> jax.Array:
        """Privileged value features: true orientation, velocities, height, randomization, time."""
        dr = info["dr"]
        clean = {"quat": quat, "ang_vel": data.qvel[3:6], "prev_action": prev_action}
        if self.goal_conditioned:
            clean["target"] = target
        time_left = 1.0 - info["step"] / self.episode_steps
        return jnp.concatenate([
            self.policy_features(clean), rotations.to_6d(quat), data.qvel[:3], data.qpos[2:3] * 5.0,
            jnp.stack([dr["mass"], dr["friction"], dr["torque_gain"], time_left,
                       info["hold"] / jnp.maximum(self.hold_steps, 1)]), dr["inertia"],
        ])

    # ----- API ------------------------------------------------------------------------------
    def reset(self, key: jax.Array, noise: dict[str, jax.Array] | None = None,
              randomized: jax.Array | None = None) -> State:
        """Drop the engine at a uniformly random orientation above the arena's centre (or, for
        the curriculum's fractions of episodes, set it down at rest: upright, in a settled pose,
        or in the settled pose nearest the target, at a random yaw). `noise`: this episode's
        observation-noise levels (default: the config's, `noise_levels()`). `randomized`: a bool
        scalar, False = this episode runs on nominal physics (default: the config decides)."""
        k_rot, k_xy, k_target, k_dr, k_obs, k_next = jax.random.split(key, 6)
        k_mode, k_yaw = jax.random.split(jax.random.fold_in(key, 1), 2)  # leaves the drops' keys as they were
        cfg = self.config
        mode = jax.random.uniform(k_mode)
        upright = mode < cfg.upright_start_fraction
        settled = ~upright & (mode < cfg.upright_start_fraction + cfg.rest_start_fraction)
        near = ~upright & ~settled & (mode < cfg.upright_start_fraction + cfg.rest_start_fraction
                                      + cfg.near_rest_start_fraction)
        target = self._sample_target(k_target)
        z_axis = jnp.array([0.0, 0.0, 1.0])
        yaw = rotations.from_axis_angle(z_axis, jax.random.uniform(k_yaw, (), maxval=2 * jnp.pi))
        pose = self._settled[jax.random.randint(jax.random.fold_in(key, 2), (), 0, self._settled.shape[0])]
        at_rest = jnp.where(settled, rotations.canonicalize(rotations.multiply(yaw, pose)), yaw)
        if cfg.near_rest_start_fraction > 0:  # static: a reset runs every step (vec_env), so only pay when used
            # Nearest rest: every settled pose (P, 4) at 8 random yaws, (8 * P, 4) candidates.
            yaws = rotations.from_axis_angle(z_axis, jax.random.uniform(jax.random.fold_in(key, 3), (8,),
                                                                        maxval=2 * jnp.pi))
            candidates = rotations.multiply(yaws[:, None, :], self._settled[None, :, :]).reshape(-1, 4)
            nearest = candidates[jnp.argmin(rotations.geodesic_angle(candidates, target))]
            at_rest = jnp.where(near, rotations.canonicalize(nearest), at_rest)
        settled = settled | near
        quat = jnp.where(upright | settled, at_rest, rotations.sample_uniform(k_rot))
        xy = jax.random.uniform(k_xy, (2,), minval=-self.config.spawn_xy, maxval=self.config.spawn_xy)
        # At rest: the hull's lowest point 1 mm above the floor.
        rest_height = 1e-3 - jnp.min(rotations.rotate(quat[None, :], self._hull_points)[:, 2])
        height = jnp.where(upright | settled, rest_height, self._init_height)
        qpos = jnp.concatenate([xy, height[None], rotations.to_mujoco(quat)])
        zeros3 = jnp.zeros(3)
        ang_vel = zeros3  # body frame, as MuJoCo's free joint stores it
        if cfg.rest_start_kick > 0:  # static, like the near-rest search; its own key keeps the other draws
            k_dir, k_speed = jax.random.split(jax.random.fold_in(key, 4))
            direction = jax.random.normal(k_dir, (3,))
            speed = jax.random.uniform(k_speed, (), maxval=cfg.rest_start_kick)
            ang_vel = jnp.where(upright | settled, speed * direction / jnp.linalg.norm(direction), zeros3)
        qvel = jnp.concatenate([zeros3, ang_vel])
        dr = self._sample_randomization(k_dr)
        prev_action = zeros3
        if cfg.stall_start_fraction > 0:  # static; the last share of `mode` (the fractions sum to <= 1)
            bank = self._stall_bank
            row = jax.random.randint(jax.random.fold_in(key, 5), (), 0, bank["qpos"].shape[0])
            stalled = mode >= 1.0 - cfg.stall_start_fraction
            pick = lambda name, default: jnp.where(stalled, bank[name][row], default)
            qpos, qvel, target, prev_action = (pick("qpos", qpos), pick("qvel", qvel), pick("target", target),
                                               pick("prev_action", prev_action))
            dr = {k: pick(k, v) for k, v in dr.items()}
        data = self._data_template.replace(qpos=qpos, qvel=qvel, ctrl=zeros3)
        if cfg.stall_start_fraction > 0:  # what the (possibly restarted) state shows
            quat, ang_vel = self._orientation(data)
        if randomized is not None:
            dr = jax.tree.map(lambda d, n: jnp.where(randomized, d, n), dr, self.nominal_physics())
        info = {"rng": k_next, "dr": dr, "target": target,
                "step": jnp.zeros((), jnp.int32), "hold": jnp.zeros((), jnp.int32),
                "success": jnp.zeros((), bool), "success_step": jnp.full((), -1, jnp.int32),
                "prev_action": prev_action, "nan": jnp.zeros((), bool),
                "noise": self.noise_levels() if noise is None else noise}
        obs = self._observe(k_obs, quat, ang_vel, prev_action, target, info["noise"])
        if self.config.memory:
            obs["memory"] = memory_lib.zeros(self.signal_size(), reflex=self.config.reflex.enabled)
        metrics = self._zero_metrics()
        return State(data=data, obs=obs, critic_obs=self._critic_obs(data, quat, target, prev_action, info),
                     reward=jnp.zeros(()), done=jnp.zeros((), bool), truncated=jnp.zeros((), bool),
                     metrics=metrics, info=info)

    def _zero_metrics(self) -> dict[str, jax.Array]:
        names = ["error_deg", "ang_vel", "success", "nan"] + [f"reward/{k}" for k in dataclasses.asdict(self.config.reward)]
        return {k: jnp.zeros(()) for k in names}

    def step(self, state: State, action: jax.Array) -> State:
        """Apply action in [-1, 1]^3 (scaled to body torque) for one control period."""
        info = dict(state.info)
        action = jnp.clip(jnp.nan_to_num(action), -1.0, 1.0)
        dr = info["dr"]
        data = self._physics(self._model(dr), state.data, action * self.action_scale * dr["torque_gain"])
        # A blown-up simulation is detected, replaced by the previous state and ended here
        # (the vector wrapper resets it); no NaN ever leaves the environment.
        ang_vel_norm = jnp.linalg.norm(data.qvel[3:6])
        bad = ~(jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))) | (ang_vel_norm > self.config.max_ang_vel)
        fallback = self._at_rest(state.data)
        data = jax.tree.map(lambda new, old: jnp.where(bad, old, new), data, fallback)
        quat, ang_vel = self._orientation(data)
        error = self.error_angle(quat, info["target"])
        in_region = (error <= jnp.deg2rad(self.config.success_angle_deg)) & (jnp.linalg.norm(ang_vel) <= self.config.success_ang_vel)
        hold = jnp.where(in_region, info["hold"] + 1, 0)
        step = info["step"] + 1
        newly = (hold >= self.hold_steps) & ~info["success"]
        info.update(step=step, hold=hold, success=info["success"] | newly,
                    success_step=jnp.where(newly, step - self.hold_steps, info["success_step"]),
                    prev_action=action, nan=bad)
        key, k_obs = jax.random.split(info["rng"])
        info["rng"] = key
        terms = self._reward_terms(error, ang_vel, action, state.info["prev_action"], in_region)
        scales = dataclasses.asdict(self.config.reward)
        reward = sum(scales[k] * v for k, v in terms.items()) * self.config.control_dt
        reward = jnp.where(bad, 0.0, reward)
        truncated = step >= self.episode_steps
        metrics = {"error_deg": jnp.rad2deg(error), "ang_vel": jnp.linalg.norm(ang_vel),
                   "success": info["success"].astype(jnp.float32), "nan": bad.astype(jnp.float32),
                   **{f"reward/{k}": scales[k] * v for k, v in terms.items()}}
        obs = self._observe(k_obs, quat, ang_vel, action, info["target"], info["noise"])
        if self.config.memory:  # what the policy's own `memory_out` was at the last observation
            obs["memory"] = self.next_memory(self.config, state.obs)
        return State(data=data, obs=obs, critic_obs=self._critic_obs(data, quat, info["target"], action, info),
                     reward=reward, done=truncated | bad, truncated=truncated & ~bad, metrics=metrics, info=info)

    def _reward_terms(self, error, ang_vel, action, prev_action, in_region) -> dict[str, jax.Array]:
        precision = jnp.exp(-jnp.square(error / 0.15))
        return {
            "alignment": 0.5 * (1.0 + jnp.cos(error)),
            "precision": precision,
            "ang_vel": precision * jnp.sum(jnp.square(ang_vel)),
            "action": jnp.sum(jnp.square(action)),
            "action_rate": jnp.sum(jnp.square(action - prev_action)),
            "success": in_region.astype(jnp.float32),
        }
