"""Re-orientation environments (MJX). `load(name)` builds one from the registry."""

from __future__ import annotations

from orient_jax.config import apply_overrides
from orient_jax.errors import UserError
from orient_jax.sim import base, goal, upright

_REGISTRY = {
    "upright": (upright.Upright, upright.default_config),
    "goal": (goal.Goal, goal.default_config),
}

ALL_ENVS = tuple(_REGISTRY)


def default_config(name: str, mjcf_path: str | None = None) -> base.EnvConfig:
    """Env `name`'s default config; for the object of the MJCF at `mjcf_path` (None: the built-in
    engine), with the object-relative defaults set from it (`base.object_defaults`)."""
    if name not in _REGISTRY:
        raise UserError(f"unknown env {name!r}; choose one of: {', '.join(ALL_ENVS)}")
    config = _REGISTRY[name][1]()
    return config if mjcf_path is None else base.object_defaults(config, str(mjcf_path))


def config_class(name: str) -> type[base.EnvConfig]:
    """The config dataclass of env `name` (each task's config holds only its own settings)."""
    return type(default_config(name))


def env_class(name: str) -> type[base.ReorientEnv]:
    """The env class registered as `name` (its static `policy_features` needs no MJCF)."""
    default_config(name)  # validates the name
    return _REGISTRY[name][0]


def load(name: str, config: base.EnvConfig | None = None, config_overrides: list[str] = (),
         mjcf_path: str | None = None) -> base.ReorientEnv:
    """Build env `name` with its default config (or `config`), plus dotted overrides, on the
    object of the MJCF at `mjcf_path` (None: the built-in engine)."""
    config = apply_overrides(config or default_config(name, mjcf_path), config_overrides)
    return _REGISTRY[name][0](config, str(mjcf_path) if mjcf_path else None)
