"""Typed, frozen dataclass configs with dotted overrides (`env.noise.scale=0.5`).

One config system for the whole package: each field carries a docstring (the string literal
under it), which `describe()` turns into `--help` text. Validation lives in `__post_init__`
of each config and raises `UserError`, so a bad value is one clear line, not a traceback.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import typing
from typing import Any

from orient_jax.errors import UserError


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
    """Raise UserError unless lo <= value <= hi."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
        raise UserError(f"config value {name}={value!r} is out of range {bounds}")


REMOVED_KEYS = {
    "hard_target_fraction": (0.0, "a goal-target curriculum that did not ship"),
    "rest_start_kick": (0.0, "a goal-start curriculum that did not ship"),
    "noise_hold_steps": (1, "held exploration noise, which did not ship"),
}
"""Config keys of experiments that did not ship: (the value that meant "off", why it went).
An old artifact holding one at that value still loads; any other use is one clear error."""


def _removed(key: str) -> str:
    return (f"config key {key!r} was removed ({REMOVED_KEYS[key.rsplit('.', 1)[-1]][1]}: docs/goal_task.md); "
            "nothing replaces it")


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), indent=2, sort_keys=True)


def from_dict(cls: type, data: dict) -> Any:
    """Rebuild a (nested) config dataclass from `to_dict` output; unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key in REMOVED_KEYS and key not in hints:
            if value == REMOVED_KEYS[key][0]:
                continue
            raise UserError(_removed(key))
        if key not in hints:
            raise UserError(f"unknown config key {key!r} for {cls.__name__}")
        field_type = hints[key]
        if dataclasses.is_dataclass(field_type) and isinstance(value, dict):
            value = from_dict(field_type, value)
        elif typing.get_origin(field_type) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _coerce(text: str, field_type: Any, name: str) -> Any:
    origin = typing.get_origin(field_type)
    try:
        if field_type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if field_type in (int, float, str):
            return field_type(text)
        if origin is tuple:
            args = typing.get_args(field_type)
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                if args[0] is not str:
                    raise
                value = [part.strip() for part in text.split(",") if part.strip()]  # studio,sky
            value = (value,) if isinstance(value, str) else value
            return tuple(args[0](v) for v in value)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise UserError(f"cannot parse {name}={text!r} as {field_type}") from exc
    raise UserError(f"cannot override {name}: unsupported type {field_type}")


def apply_overrides(config: Any, overrides: list[str] | tuple[str, ...]) -> Any:
    """Return a copy of `config` with `a.b.c=value` overrides applied, validated once at the end
    (so that overrides which only make sense together, like a shorter episode and a shorter
    hold, can be given in any order)."""
    data = to_dict(config)
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override {item!r} must look like key=value (e.g. env.noise.scale=0.5)")
        key, text = item.split("=", 1)
        key = key.strip()
        cls, node, path = type(config), data, key.split(".")
        for depth, head in enumerate(path):
            hints = typing.get_type_hints(cls)
            if head in REMOVED_KEYS and head not in hints:
                raise UserError(_removed(key))
            if head not in hints:
                valid = ", ".join(sorted(hints))
                raise UserError(f"unknown config key {key!r} ({head!r} is not one of: {valid})")
            if depth == len(path) - 1:
                if dataclasses.is_dataclass(hints[head]):
                    raise UserError(f"config key {key!r} is a group; set one of its fields")
                node[head] = _coerce(text.strip(), hints[head], key)
            else:
                if not dataclasses.is_dataclass(hints[head]):
                    raise UserError(f"unknown config key {key!r}: {head!r} has no sub-keys")
                cls, node = hints[head], node[head]
    return from_dict(type(config), data)


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each field (the CleanRL/tyro habit), by field name."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(source.strip() if source.startswith(" ") else source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe(config: Any, prefix: str = "") -> list[str]:
    """Lines `key = default  # doc` for every leaf field, for --help and `orient-jax config`."""
    lines = []
    docs = field_docs(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            lines.extend(describe(value, name + "."))
        else:
            doc = docs.get(f.name, "")
            lines.append(f"{name} = {value!r}" + (f"  # {doc}" if doc else ""))
    return lines


def check_run_record(workdir, record: dict) -> None:
    """Write `workdir/config.json` for a new run, or refuse a run folder holding another config
    (resuming it with different settings would silently mix two runs)."""
    from orient_jax.fileio import write_json_atomic
    from pathlib import Path

    path = Path(workdir) / "config.json"
    if not path.exists():
        write_json_atomic(path, record)
        return
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: corrupt run config ({exc})") from exc
    if previous != json.loads(json.dumps(record, default=str)):
        raise UserError(f"{workdir} holds a run with a different config; use another --workdir (or delete it)")
