"""Shared machinery of the re-orientation tasks: MJX physics, noise, randomization, success.

A task file (`upright.py`, `goal.py`) subclasses `ReorientEnv` and supplies its config, its
target, its error angle and its policy features (and, for the goal task, its training starts).
Everything here is a pure function of (state, action); a `State` holds one environment (vmap it
for a batch, see `vec_env.py`). The object's facts (body, mass, hull) come from the MJCF
(`rigid_body.py`).

Frames: world Z up; quaternions [x, y, z, w] (MuJoCo's [w, x, y, z] is converted only in
`_orientation`); angular velocity in the body frame (MuJoCo's free-joint qvel[3:6]).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
from flax import struct
from mujoco import mjx

from orient_jax import rotations
from orient_jax import symmetry as symmetry_lib
from orient_jax.assets import mjcf
from orient_jax.config import check_range
from orient_jax.errors import UserError
from orient_jax.sim import memory as memory_lib
from orient_jax.sim import noise as noise_lib
from orient_jax.sim import observer as observer_lib
from orient_jax.sim import reflex as reflex_lib
from orient_jax.sim import rigid_body

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
    """Weights of the named reward terms (each logged as reward/<name>). An engine recipe:
    tuned on the engine (5 kg, 0.22 m); they are angles and rates, so they carry over to other
    objects as a starting point, not as tuned values."""

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
    """Settings every re-orientation task shares; a task's own config subclasses it."""

    # Tasks whose policy has no memory: fixed off, not config keys (`goal.GoalConfig` has them).
    memory = False
    reflex = reflex_lib.ReflexConfig()

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
    """Half-width of the square of random drop positions (m). Relative to the object:
    `sim.default_config(name, mjcf_path)` makes it `SPAWN_XY_RADII` bounding radii, to the mm
    (this default, 0.05 m, is that for the engine)."""
    max_ang_vel: float = 60.0
    """An |angular velocity| above this (rad/s) counts as a blown-up simulation. Relative to the
    object: `sim.default_config(name, mjcf_path)` makes it `MAX_ANG_VEL_NATURAL` x the object's
    natural angular speed sqrt(g / bounding radius), to the rad/s (60 for the engine)."""
    noise: NoiseConfig = NoiseConfig()
    randomization: RandomizationConfig = RandomizationConfig()
    reward: RewardScales = RewardScales()
    symmetry: symmetry_lib.Symmetry = symmetry_lib.Symmetry()
    """The object's symmetry group (object frame), from its object card (`object_defaults`): a
    fact of the object, not a knob. Errors, success and the observation noise are taken modulo
    it, and a symmetric object's policy carries the look-alike observer (`observer.py`)."""

    def __post_init__(self):
        check_range("episode_s", self.episode_s, 0.1, 600.0)
        check_range("control_dt", self.control_dt, 0.001, 1.0)
        check_range("success_angle_deg", self.success_angle_deg, 0.1, 180.0)
        check_range("success_ang_vel", self.success_ang_vel, 0.0, 100.0)
        check_range("success_hold_s", self.success_hold_s, 0.0, self.episode_s)
        check_range("spawn_xy", self.spawn_xy, 0.0, 2.0)
        check_range("max_ang_vel", self.max_ang_vel, 1.0, 1e4)


SPAWN_XY_RADII = 0.228
"""`spawn_xy` for an object, in its bounding radii (0.05 m at the engine's 0.219 m)."""
MAX_ANG_VEL_NATURAL = 8.97
"""`max_ang_vel` for an object, in units of its natural angular speed sqrt(g / bounding radius)
(60 rad/s at the engine's 6.69 rad/s): a smaller object legitimately spins faster."""


def object_defaults(config: EnvConfig, mjcf_path: str) -> EnvConfig:
    """`config` with the defaults that depend on the object set from the MJCF at `mjcf_path`:
    `spawn_xy` and `max_ang_vel` (see their docs), and the symmetry from the object card beside
    it (`object.json`, when there is one). Rounded (to the mm, to the rad/s) so that the engine's
    MJCF gives back exactly the dataclass defaults."""
    import math
    from pathlib import Path

    import numpy as np

    from orient_jax.objects import folder as object_folder

    model = mujoco.MjModel.from_xml_path(str(mjcf_path))
    radius = rigid_body.from_model(model).bounding_radius
    gravity = float(np.linalg.norm(model.opt.gravity)) or 9.81
    folder = Path(mjcf_path).parent
    symmetry = object_folder.symmetry_of(folder) if (folder / "object.json").is_file() else config.symmetry
    return dataclasses.replace(config, spawn_xy=round(SPAWN_XY_RADII * radius, 3),
                               max_ang_vel=float(round(MAX_ANG_VEL_NATURAL * math.sqrt(gravity / radius))),
                               symmetry=symmetry)


def memory_shape(config: EnvConfig, env_cls: type | None = None) -> tuple[int, int] | None:
    """The shape of the policy's memory (its `memory` input and `memory_out` output), or None
    for a policy without one: the moving averages (`env.memory`, `memory.py`) or, for a
    symmetric object, the look-alike observer (`observer.py`)."""
    if config.memory:
        return memory_lib.shape(env_cls.signal_size(), config.reflex.enabled)
    if observer_lib.needed(config.symmetry):
        return observer_lib.shape(config.symmetry)
    return None


@dataclasses.dataclass
class Start:
    """An episode's initial state before the first observation (one env; see `reset`)."""

    qpos: jax.Array
    """MuJoCo free-joint position (7,): xyz, orientation [w, x, y, z]."""
    qvel: jax.Array
    """MuJoCo free-joint velocity (6,): linear (world), angular (body)."""
    quat: jax.Array
    """The orientation [x, y, z, w] (what qpos holds)."""
    target: jax.Array
    prev_action: jax.Array
    dr: dict[str, jax.Array]
    """The physics draw (`_sample_randomization`)."""


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
    """Base: a rigid object on a floor in a walled arena, turned by body-frame torques."""

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
            raise UserError(f"control_dt={config.control_dt} is not a multiple of the timestep {self.timestep}")
        self.action_scale = jnp.asarray(self.mj_model.actuator_ctrlrange[:, 1], jnp.float32)
        self.episode_steps = int(round(config.episode_s / config.control_dt))
        self.hold_steps = int(round(config.success_hold_s / config.control_dt))
        self.noise_model = noise_lib.load(config.noise.model_path)
        self.mjcf_path = str(mjcf_path or mjcf.MJCF_PATH)
        self.body = rigid_body.from_model(self.mj_model)
        self.arena_half_size = rigid_body.arena_half_size(self.mj_model)
        if config.spawn_xy + self.body.bounding_radius >= self.arena_half_size:
            raise UserError(f"spawn_xy={config.spawn_xy} m: a drop at the edge of that square (object radius "
                            f"{self.body.bounding_radius:.3g} m) would touch the arena's walls at "
                            f"{self.arena_half_size:.3g} m")
        self._hull_geoms = jnp.asarray(self.body.collision_geoms)
        self._hull_points = jnp.asarray(self.body.hull_points, jnp.float32)  # body frame (P, 3)
        self._data_template = mjx.make_data(self.mjx_model, device=self._device)
        if config.memory and observer_lib.needed(config.symmetry):
            raise UserError("env.memory (the moving averages) on a symmetric object is not supported: its policy's "
                            "memory holds the look-alike observer")
        self.memory_shape = memory_shape(config, type(self))
        # An env's own `policy_features(obs)` is its policy's: with its config (the symmetry).
        self.policy_features = functools.partial(type(self).policy_features, config=config)

    # ----- task hooks -------------------------------------------------------------------
    def _sample_target(self, key: jax.Array) -> jax.Array:
        """Target orientation [x, y, z, w] of an episode."""
        raise NotImplementedError

    @staticmethod
    def error_angle(quat: jax.Array, target: jax.Array, sym: symmetry_lib.Symmetry = symmetry_lib.TRIVIAL) -> jax.Array:
        """Angle (rad) between the orientation and the task's goal (target: the episode's,
        identity for tasks without one), modulo the object's symmetry `sym`."""
        raise NotImplementedError

    def _training_start(self, key: jax.Array, drop: Start) -> Start:
        """The episode's start: the drop, unless the task's training curriculum starts some
        episodes elsewhere (`goal.py`). Keys from `key` must not be the drop's own."""
        return drop

    @staticmethod
    def signal_features(obs: Obs) -> jax.Array:
        """Features of one observation's raw signals (..., F)."""
        raise NotImplementedError

    @classmethod
    def policy_features(cls, obs: Obs, config: EnvConfig | None = None) -> jax.Array:
        """Features the policy computes from the raw signals (inside the exported graph): this
        observation's (F), then, where `obs` has a memory, how far each moving average of them
        (memory included this step's) lies from them now (K * F). For a symmetric object
        (`config.symmetry`) the quaternion is the observer's estimate of the body's own
        orientation among its look-alikes, followed by how sure that is (2)."""
        if "memory" in obs and config is not None and not config.memory and observer_lib.needed(config.symmetry):
            estimate, confidence = observer_lib.estimate(cls.next_memory(config, obs))
            return jnp.concatenate([cls.signal_features({**obs, "quat": estimate}), confidence], axis=-1)
        features = cls.signal_features(obs)
        if "memory" not in obs:
            return features
        drift = memory_lib.averages(memory_lib.update(obs["memory"], features)) - features[..., None, :]
        return jnp.concatenate([features, drift.reshape(*features.shape[:-1], -1)], axis=-1)

    @classmethod
    def next_memory(cls, config: EnvConfig, obs: Obs) -> jax.Array:
        """The policy's memory once it has seen `obs` (its `memory_out`; the env's next
        observation carries the same): the moving averages take this observation's features
        and, with the stall reflex, the reflex's row takes its stall evidence; the look-alike
        observer's hypotheses take this view and rate."""
        if not config.memory:
            return observer_lib.update(obs["memory"], obs["quat"], obs["ang_vel"], config.symmetry, config.control_dt)
        memory = memory_lib.update(obs["memory"], cls.signal_features(obs))
        if not config.reflex.enabled:
            return memory
        k = len(memory_lib.DECAYS)
        quat = rotations.normalize(obs["quat"])
        error = cls.error_angle(quat, rotations.normalize(obs["target"]) if "target" in obs else rotations.identity(),
                                config.symmetry)
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
        if self.memory_shape is not None:
            spec["memory"] = self.memory_shape
        return spec

    # ----- dynamics -------------------------------------------------------------------------
    def nominal_physics(self) -> dict[str, jax.Array]:
        """The randomization draw (state.info["dr"]) that leaves the MJCF's physics as it is."""
        friction = jnp.asarray(self.mj_model.geom_friction[self.body.collision_geoms[0], 0])
        return {"mass": jnp.ones(()), "inertia": jnp.ones(3), "friction": friction, "torque_gain": jnp.ones(())}

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
        body = self.body.body_id
        return m.tree_replace({
            "body_mass": m.body_mass.at[body].multiply(dr["mass"]),
            "body_inertia": m.body_inertia.at[body].multiply(dr["inertia"] * dr["mass"]),
            "geom_friction": m.geom_friction.at[self._hull_geoms, 0].set(dr["friction"]),
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
        sym = self.config.symmetry
        if sym.trivial:
            k_err, k_sign, k_gyro = jax.random.split(key, 3)
            error = self.noise_model.sample_error(k_err, noise["scale"])
            noisy = rotations.canonicalize(rotations.multiply(error, quat))
        else:
            k_err, k_sign, k_gyro, k_look = jax.random.split(key, 4)
            noisy = self._symmetric_view(k_err, k_look, quat, noise["scale"])
        if self.config.noise.sign_flip:
            noisy = jnp.where(jax.random.bernoulli(k_sign), -noisy, noisy)
        obs = {"quat": noisy, "ang_vel": ang_vel + noise["ang_vel_std"] * jax.random.normal(k_gyro, (3,)),
               "prev_action": prev_action}
        if self.goal_conditioned:
            obs["target"] = target
        return obs

    def _symmetric_view(self, k_err: jax.Array, k_look: jax.Array, quat: jax.Array, scale: jax.Array) -> jax.Array:
        """What a pose model may answer for a symmetric object: any look-alike of the orientation
        (`symmetry.random_equivalent`, drawn afresh every frame: the observer must not rely on a
        model's habits), off by an angle drawn from the measured error model. The measured errors
        are taken modulo the symmetry, so the error turns exactly what can be seen by that angle:
        with a continuous symmetry, it tips the axis (a turn about an axis normal to it)."""
        sym = self.config.symmetry
        k_angle, k_axis = jax.random.split(k_err)
        angle = jnp.clip(self.noise_model.sample_angle(k_angle) * scale, 0.0, jnp.pi)
        direction = jax.random.normal(k_axis, (3,))
        if sym.continuous:
            direction = jnp.cross(rotations.rotate(quat, jnp.asarray(sym.axis, jnp.float32)), direction)
        error = rotations.from_axis_angle(direction, angle)
        return rotations.canonicalize(rotations.multiply(error, symmetry_lib.random_equivalent(k_look, quat, sym)))

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
        """Drop the object at a uniformly random orientation above the arena's centre (a task's
        training curriculum may start some episodes elsewhere: `_training_start`). `noise`: this
        episode's observation-noise levels (default: the config's, `noise_levels()`).
        `randomized`: a bool scalar, False = this episode runs on nominal physics (default: the
        config decides)."""
        k_rot, k_xy, k_target, k_dr, k_obs, k_next = jax.random.split(key, 6)
        quat = rotations.sample_uniform(k_rot)
        xy = jax.random.uniform(k_xy, (2,), minval=-self.config.spawn_xy, maxval=self.config.spawn_xy)
        zeros3 = jnp.zeros(3)
        drop = Start(qpos=jnp.concatenate([xy, jnp.asarray([self.body.drop_height]), rotations.to_mujoco(quat)]),
                     qvel=jnp.zeros(6), quat=quat, target=self._sample_target(k_target), prev_action=zeros3,
                     dr=self._sample_randomization(k_dr))
        start = self._training_start(key, drop)
        dr, target, prev_action = start.dr, start.target, start.prev_action
        data = self._data_template.replace(qpos=start.qpos, qvel=start.qvel, ctrl=zeros3)
        if randomized is not None:
            dr = jax.tree.map(lambda d, n: jnp.where(randomized, d, n), dr, self.nominal_physics())
        info = {"rng": k_next, "dr": dr, "target": target,
                "step": jnp.zeros((), jnp.int32), "hold": jnp.zeros((), jnp.int32),
                "success": jnp.zeros((), bool), "success_step": jnp.full((), -1, jnp.int32),
                "prev_action": prev_action, "nan": jnp.zeros((), bool),
                "noise": self.noise_levels() if noise is None else noise}
        obs = self._observe(k_obs, start.quat, start.qvel[3:6], prev_action, target, info["noise"])
        if self.memory_shape is not None:
            obs["memory"] = jnp.zeros(self.memory_shape, jnp.float32)
        metrics = self._zero_metrics()
        return State(data=data, obs=obs, critic_obs=self._critic_obs(data, start.quat, target, prev_action, info),
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
        error = self.error_angle(quat, info["target"], self.config.symmetry)
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
        if self.memory_shape is not None:  # what the policy's own `memory_out` was at the last observation
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
