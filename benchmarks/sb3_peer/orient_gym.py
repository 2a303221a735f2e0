"""Gymnasium twin of orient_jax's `upright` task, on plain C MuJoCo (numpy + mujoco only).

This file must not import jax or orient_jax: it runs in the Python 3.11 peer venv
(benchmarks/sb3_peer/.venv) that holds Stable-Baselines3 and a CPU torch. It mirrors, term
for term, `orient_jax/sim/base.py` (ReorientEnv) + `orient_jax/sim/upright.py` with the
default `EnvConfig`:

  - physics: the same MJCF (orient_jax/assets/engine.xml), one action held for
    control_dt / timestep = 4 physics steps (`mj_step`);
  - reset: uniform random orientation (normalized Gaussian 4-vector, canonical w >= 0),
    xy uniform in +-spawn_xy, z = the engine body's height in the MJCF (its qpos0), zero
    velocity; per-episode domain randomization of mass, principal inertia (x mass), hull
    sliding friction and torque gain, written into this env's own MjModel (like
    `ReorientEnv._model`, derived constants are NOT recomputed: no mj_setConst);
  - observation (9,): up_in_body(normalized noisy quat) + noisy body angular velocity +
    previous action (`Upright.policy_features`); the quaternion noise is an error rotation
    whose angle is drawn by inverse-CDF from the pose-error quantiles (JSON file, the format
    of orient_jax.sim.noise) about a uniformly random axis, left-multiplied, canonicalized,
    then its sign flipped at random; gyro noise N(0, ang_vel_std);
  - action: nan -> 0, clipped to [-1, 1]; ctrl = action * ctrlrange_max * torque_gain;
  - reward: base.py `_reward_terms` x `RewardScales` x control_dt (0 on a blown-up step);
  - success: tilt <= 10 deg and |w| <= 0.5 rad/s held for 1 s (50 control steps) at any
    point of the episode; `info["is_success"]` on the episode's last step;
  - truncation at 500 control steps (10 s); a blown-up step (non-finite state, |w| > 60
    rad/s, or a MuJoCo bad-qpos/qvel/qacc warning, see `_blew_up`) terminates, restoring
    the previous state at rest, as `ReorientEnv.step` does.

Quaternions here are [x, y, z, w] like orient_jax.rotations; MuJoCo's qpos[3:7] is [w, x, y, z].
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MJCF = REPO_ROOT / "orient_jax" / "assets" / "engine.xml"


@dataclasses.dataclass(frozen=True)
class UprightConfig:
    """Defaults = orient_jax.sim.base.EnvConfig() (and its Noise/Randomization/Reward configs)."""

    episode_s: float = 10.0
    control_dt: float = 0.02
    success_angle_deg: float = 10.0
    success_ang_vel: float = 0.5
    success_hold_s: float = 1.0
    spawn_xy: float = 0.05
    max_ang_vel: float = 60.0
    # NoiseConfig
    noise_scale: float = 1.0
    sign_flip: bool = True
    ang_vel_std: float = 0.05
    # RandomizationConfig
    randomize: bool = True
    mass: tuple[float, float] = (0.85, 1.15)
    inertia: tuple[float, float] = (0.85, 1.15)
    friction: tuple[float, float] = (0.5, 1.1)
    torque_gain: tuple[float, float] = (0.85, 1.1)
    # RewardScales
    r_alignment: float = 1.0
    r_precision: float = 1.0
    r_ang_vel: float = -0.05
    r_action: float = -0.02
    r_action_rate: float = -0.05
    r_success: float = 2.0


REWARD_TERMS = ("alignment", "precision", "ang_vel", "action", "action_rate", "success")
_BAD_WARNINGS = (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
                 mujoco.mjtWarning.mjWARN_BADQACC)


def load_quantiles(path: str | Path) -> np.ndarray:
    """Error-angle quantiles (deg) of a pose-error model file (orient_jax.sim.noise format)."""
    data = json.loads(Path(path).read_text())
    if data.get("version") != 1 or data.get("kind") != "pose_error_model":
        raise ValueError(f"{path}: not a version-1 pose-error model file")
    q = np.asarray(data["angle_deg_quantiles"], dtype=np.float64)
    if q.ndim != 1 or len(q) < 2 or not np.all(np.isfinite(q)) or np.any(np.diff(q) < 0) or q[0] < 0 or q[-1] > 180:
        raise ValueError(f"{path}: quantiles must be >= 2 finite, rising values in [0, 180] deg")
    return q


# ----- quaternion helpers ([x, y, z, w], plain floats: faster than tiny numpy arrays) -----
def _quat_mul(a, b):
    """Hamilton product a * b (rotate by b first), like orient_jax.rotations.multiply."""
    x1, y1, z1, w1 = a
    x2, y2, z2, w2 = b
    return (w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2)


def _normalize(q, eps=1e-12):
    n = math.sqrt(sum(v * v for v in q))
    return tuple(v / n for v in q) if n > eps else (0.0, 0.0, 0.0, 1.0)


def _canonicalize(q):
    return tuple(-v for v in q) if q[3] < 0 else tuple(q)


def tilt(q) -> float:
    """Angle (rad) between body +Z and world +Z (orient_jax.rotations.tilt)."""
    x, y, z, w = _normalize(q)
    return 2.0 * math.atan2(math.hypot(x, y), math.hypot(z, w))


def up_in_body(q):
    """World +Z in the body frame: the third row of the rotation matrix of normalize(q)."""
    x, y, z, w = _normalize(q)
    return (2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y))


class OrientUprightEnv(gym.Env):
    """One engine on the floor, turned upright by body torques. See the module docstring."""

    metadata = {"render_modes": []}

    def __init__(self, noise_model_path: str | Path | None, config: UprightConfig = UprightConfig(),
                 mjcf_path: str | Path | None = None, stagger_first_episode: bool = False):
        """noise_model_path: pose-error model JSON (orient_jax.sim.noise format); None is
        allowed only with config.noise_scale == 0 (no pose noise).
        stagger_first_episode: start the first episode's clock at a random step, as
        orient_jax's PPO does for its first episodes (so envs do not all end together)."""
        super().__init__()
        self.config = cfg = config
        self.model = mujoco.MjModel.from_xml_path(str(mjcf_path or DEFAULT_MJCF))  # this env's own copy
        self.data = mujoco.MjData(self.model)
        self.timestep = float(self.model.opt.timestep)
        self.n_substeps = int(round(cfg.control_dt / self.timestep))
        if self.n_substeps < 1 or abs(self.n_substeps * self.timestep - cfg.control_dt) > 1e-9:
            raise ValueError(f"control_dt={cfg.control_dt} is not a multiple of the timestep {self.timestep}")
        self.episode_steps = int(round(cfg.episode_s / cfg.control_dt))
        self.hold_steps = int(round(cfg.success_hold_s / cfg.control_dt))
        self.success_angle = math.radians(cfg.success_angle_deg)
        self.action_scale = np.asarray(self.model.actuator_ctrlrange[:, 1], dtype=np.float64).copy()
        self.body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, "engine")
        self.hull = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, "hull")
        if self.body != 1 or self.hull < 0:
            raise ValueError("MJCF must have body 'engine' (id 1) with a geom 'hull'")
        self.init_height = float(self.model.body_pos[self.body, 2])
        self.base_mass = float(self.model.body_mass[self.body])
        self.base_inertia = self.model.body_inertia[self.body].copy()
        self.base_friction = float(self.model.geom_friction[self.hull, 0])
        if noise_model_path:
            self.quantiles = load_quantiles(noise_model_path)
        elif cfg.noise_scale == 0:
            self.quantiles = np.zeros(2)
        else:
            raise ValueError("noise_model_path is required unless config.noise_scale == 0")
        self.probs = np.linspace(0.0, 1.0, len(self.quantiles))
        self.scales = {k: getattr(cfg, f"r_{k}") for k in REWARD_TERMS}
        self.stagger_first_episode = stagger_first_episode
        self._episodes = 0
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (9,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self._prev_action = np.zeros(3)
        self._step = self._hold = 0
        self._success = False
        self.torque_gain = 1.0
        self.dr: dict = {}

    # ----- randomization -------------------------------------------------------------------
    def _randomize(self) -> None:
        cfg, rng = self.config, self.np_random
        if cfg.randomize:
            mass = rng.uniform(*cfg.mass)
            inertia = rng.uniform(*cfg.inertia, size=3)
            friction = rng.uniform(*cfg.friction)
            gain = rng.uniform(*cfg.torque_gain)
        else:
            mass, inertia, friction, gain = 1.0, np.ones(3), self.base_friction, 1.0
        self.model.body_mass[self.body] = self.base_mass * mass
        self.model.body_inertia[self.body] = self.base_inertia * inertia * mass
        self.model.geom_friction[self.hull, 0] = friction
        self.torque_gain = float(gain)
        self.dr = {"mass": float(mass), "inertia": np.asarray(inertia, float).tolist(),
                   "friction": float(friction), "torque_gain": float(gain)}

    # ----- observation ---------------------------------------------------------------------
    def _observe(self, quat, ang_vel, prev_action) -> np.ndarray:
        cfg, rng = self.config, self.np_random
        angle = math.radians(float(np.interp(rng.uniform(), self.probs, self.quantiles)))
        angle = min(max(angle * cfg.noise_scale, 0.0), math.pi)
        axis = rng.standard_normal(3)
        n = max(float(np.linalg.norm(axis)), 1e-12)
        s = math.sin(0.5 * angle) / n
        error = (axis[0] * s, axis[1] * s, axis[2] * s, math.cos(0.5 * angle))
        noisy = _canonicalize(_quat_mul(error, quat))
        if cfg.sign_flip and rng.uniform() < 0.5:  # irrelevant to up_in_body, kept for parity
            noisy = tuple(-v for v in noisy)
        gyro = np.asarray(ang_vel) + cfg.ang_vel_std * rng.standard_normal(3)
        return np.concatenate([up_in_body(noisy), gyro, prev_action]).astype(np.float32)

    def _orientation(self):
        w, x, y, z = self.data.qpos[3:7]
        return _canonicalize((float(x), float(y), float(z), float(w))), self.data.qvel[3:6].copy()

    # ----- API -----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """options: {"quat_xyzw": [...]} sets the start orientation (tests);
        {"randomize": False} uses the nominal physics for this episode."""
        super().reset(seed=seed)
        options = options or {}
        rng = self.np_random
        q = rng.standard_normal(4)
        quat = _canonicalize(_normalize(tuple(float(v) for v in q)))
        xy = rng.uniform(-self.config.spawn_xy, self.config.spawn_xy, size=2)
        if options.get("randomize", True):
            self._randomize()
        else:
            self.model.body_mass[self.body] = self.base_mass
            self.model.body_inertia[self.body] = self.base_inertia
            self.model.geom_friction[self.hull, 0] = self.base_friction
            self.torque_gain = 1.0
            self.dr = {"mass": 1.0, "inertia": [1.0, 1.0, 1.0], "friction": self.base_friction, "torque_gain": 1.0}
        if "quat_xyzw" in options:
            quat = _canonicalize(_normalize(tuple(float(v) for v in options["quat_xyzw"])))
        mujoco.mj_resetData(self.model, self.data)
        x, y, z, w = quat
        self.data.qpos[:] = [xy[0], xy[1], self.init_height, w, x, y, z]
        self.data.qvel[:] = 0.0
        self.data.ctrl[:] = 0.0
        self._step = 0
        if self.stagger_first_episode and self._episodes == 0:
            self._step = int(rng.integers(0, self.episode_steps))
        self._episodes += 1
        self._hold = 0
        self._success = False
        self._prev_action = np.zeros(3)
        obs = self._observe(quat, np.zeros(3), self._prev_action)
        return obs, {"dr": self.dr}

    def _warning_counts(self) -> tuple[int, ...]:
        return tuple(int(self.data.warning[w].number) for w in _BAD_WARNINGS)

    def _blew_up(self, warnings_before: tuple[int, ...]) -> bool:
        """Non-finite state, |w| above max_ang_vel, or a MuJoCo bad-state warning.

        The warning check has no counterpart in MJX: C MuJoCo silently resets MjData to
        qpos0 (upright, at rest) when qpos/qvel/qacc go bad, which would look like a free
        success; MJX lets NaN through, which base.py catches as non-finite."""
        qpos, qvel = self.data.qpos, self.data.qvel
        if not (np.all(np.isfinite(qpos)) and np.all(np.isfinite(qvel))):
            return True
        if float(np.linalg.norm(qvel[3:6])) > self.config.max_ang_vel:
            return True
        return self._warning_counts() != warnings_before

    def step(self, action):
        cfg = self.config
        action = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64)), -1.0, 1.0)
        prev_qpos = self.data.qpos.copy()
        warnings_before = self._warning_counts()
        self.data.ctrl[:] = action * self.action_scale * self.torque_gain
        for _ in range(self.n_substeps):
            mujoco.mj_step(self.model, self.data)
        bad = self._blew_up(warnings_before)
        if bad:  # ReorientEnv._at_rest(previous state)
            qpos = np.nan_to_num(prev_qpos)
            x, y, z, w = _normalize((qpos[4], qpos[5], qpos[6], qpos[3]))
            qpos[3:7] = [w, x, y, z]
            self.data.qpos[:] = qpos
            self.data.qvel[:] = 0.0
            self.data.qacc[:] = 0.0
        quat, ang_vel = self._orientation()
        error = tilt(quat)
        ang_speed = float(np.linalg.norm(ang_vel))
        in_region = error <= self.success_angle and ang_speed <= cfg.success_ang_vel
        self._hold = self._hold + 1 if in_region else 0
        self._step += 1
        if self._hold >= self.hold_steps and not self._success:
            self._success = True
        terms = self.reward_terms(error, ang_speed, action, self._prev_action, in_region)
        reward = 0.0 if bad else sum(terms.values()) * cfg.control_dt
        self._prev_action = action
        terminated = bad
        truncated = (self._step >= self.episode_steps) and not bad
        obs = self._observe(quat, ang_vel, action)
        info = {"tilt_deg": math.degrees(error), "ang_vel": ang_speed, "success": self._success, "nan": bad}
        if terminated or truncated:
            info["is_success"] = self._success
        return obs, float(reward), terminated, truncated, info

    def reward_terms(self, error: float, ang_speed: float, action, prev_action, in_region: bool) -> dict[str, float]:
        """Scaled reward terms (base.py `_reward_terms` x RewardScales); the step reward is
        their sum x control_dt. error: tilt (rad); ang_speed: |body angular velocity|."""
        precision = math.exp(-((error / 0.15) ** 2))
        d = action - prev_action
        raw = {"alignment": 0.5 * (1.0 + math.cos(error)),
               "precision": precision,
               "ang_vel": precision * ang_speed * ang_speed,
               "action": float(action[0] * action[0] + action[1] * action[1] + action[2] * action[2]),
               "action_rate": float(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]),
               "success": 1.0 if in_region else 0.0}
        return {k: self.scales[k] * v for k, v in raw.items()}


def make_env(noise_model_path: str | None, seed: int = 0, stagger_first_episode: bool = False, **config):
    """A thunk for SB3's vector envs (which seed each env's first reset themselves)."""

    def thunk():
        env = OrientUprightEnv(noise_model_path, UprightConfig(**config), stagger_first_episode=stagger_first_episode)
        env.action_space.seed(seed)
        return env

    return thunk
