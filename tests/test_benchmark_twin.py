"""The SB3 peer's Gymnasium twin must mirror the JAX env's defaults (it cannot import them:
it runs in its own Python 3.11 venv), so a change on one side fails here until both agree."""

import ast
import dataclasses
from pathlib import Path

from orient_jax import sim

TWIN = Path(__file__).resolve().parent.parent / "benchmarks" / "sb3_peer" / "orient_gym.py"


def _twin_defaults() -> dict:
    tree = ast.parse(TWIN.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UprightConfig")
    return {n.target.id: ast.literal_eval(n.value) for n in cls.body if isinstance(n, ast.AnnAssign)}


def test_twin_defaults_match_the_upright_env():
    cfg = sim.default_config("upright")
    twin = _twin_defaults()
    expected = {k: getattr(cfg, k) for k in ("episode_s", "control_dt", "success_angle_deg", "success_ang_vel",
                                              "success_hold_s", "spawn_xy", "max_ang_vel")}
    expected.update(noise_scale=cfg.noise.scale, sign_flip=cfg.noise.sign_flip, ang_vel_std=cfg.noise.ang_vel_std,
                    randomize=cfg.randomization.enabled, mass=cfg.randomization.mass, inertia=cfg.randomization.inertia,
                    friction=cfg.randomization.friction, torque_gain=cfg.randomization.torque_gain)
    expected.update({f"r_{k}": v for k, v in dataclasses.asdict(cfg.reward).items()})
    assert {k: twin[k] for k in expected} == expected
