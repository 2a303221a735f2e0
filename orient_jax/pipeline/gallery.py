"""A gallery: several objects' models folders behind one page.

`gallery.json` lists them, each `models` path relative to the file:

    {"version": 1, "objects": [{"name": "engine", "models": "export/"},
                               {"name": "duck", "models": "objects/duck/"}]}

The page reads it (`web/src/load.js` chooseObject: `?object=NAME`, a picker, the first object by
default). A bundle carries its own (`public/gallery.json`, the first object in
`public/models/`, the others in `public/objects/NAME/`); the repository's `models/gallery.json`
lists the committed models, which `scripts/demo.sh` serves. An object's name is its manifest's
`object.name`: one per gallery, and URL-safe, since `?object=` names it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from orient_jax.errors import UserError

VERSION = 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def object_name(models: Path) -> str:
    """The object a models folder ships: its manifest's object.name, or for a manifest written
    before the object section, its MJCF's file name without .xml."""
    from orient_jax.export.manifest import read_manifest

    manifest = read_manifest(Path(models))
    name = (manifest.get("object") or {}).get("name") or Path(manifest["asset"]["mjcf"]).stem
    if not NAME.match(name):
        raise UserError(f"{models}: object name {name!r} cannot name a gallery entry (letters, digits, '_', '-', '.')")
    return name


def entries(models_dirs: list[Path]) -> list[tuple[str, Path]]:
    """[(name, folder)] for models folders, checked: each has a manifest, names are unique."""
    out: list[tuple[str, Path]] = []
    for models in models_dirs:
        models = Path(models)
        if not (models / "manifest.json").is_file():
            raise UserError(f"{models} has no manifest.json (run `orient-jax export` first)")
        name = object_name(models)
        if any(name == n for n, _ in out):
            raise UserError(f"two models folders ship the object {name!r} ({dict(out)[name]} and {models}); "
                            "a gallery holds each object once")
        out.append((name, models))
    if not out:
        raise UserError("a gallery needs at least one models folder")
    return out


def read(path: Path) -> list[tuple[str, Path]]:
    """The (name, models folder) entries of a gallery.json, checked against their manifests."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"gallery {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"gallery {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("objects"), list):
        raise UserError(f"gallery {path} is not a version-{VERSION} gallery ({{\"version\": {VERSION}, \"objects\": [...]}})")
    listed = []
    for i, item in enumerate(data["objects"]):
        if not isinstance(item, dict) or not isinstance(item.get("models"), str):
            raise UserError(f"gallery {path}: objects[{i}] has no \"models\" folder")
        listed.append(path.parent / item["models"])
    found = entries(listed)
    for (name, models), item in zip(found, data["objects"]):
        if item.get("name") not in (None, name):
            raise UserError(f"gallery {path}: {item['models']} ships {name!r}, not {item['name']!r}")
    return found


def document(items: list[tuple[str, str]]) -> dict:
    """gallery.json's content for (name, models path relative to the file) pairs."""
    return {"version": VERSION, "objects": [{"name": n, "models": m.rstrip("/") + "/"} for n, m in items]}
