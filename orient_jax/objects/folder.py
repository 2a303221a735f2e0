"""An object folder on disk: what it holds, and writing it all-or-nothing.

    objects/NAME/
      object.json   what the import measured and chose (`FORMAT_VERSION`)
      object.xml    the MJCF every simulator loads
      visual.glb    the user's mesh with its materials, in the body frame, glTF's Y-up axes
      preview.png   renders from the pose camera, upright and at 5 random orientations (object.json
                    "preview" names it; null when imported with --no-preview)

The folder is built in a hidden sibling and renamed into place only when every file is
written (`orient_jax.fileio.publish_dir`), so a failed or interrupted import leaves nothing:
no folder, no partial files, and an existing folder replaced only by a complete one (--force).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from orient_jax import fileio
from orient_jax.errors import UserError

FORMAT_VERSION = 1
OBJECT_JSON = "object.json"
MJCF = "object.xml"
VISUAL = "visual.glb"
PREVIEW = "preview.png"
REQUIRED = (OBJECT_JSON, MJCF, VISUAL)


def check_destination(out: Path, force: bool, source: Path | None = None) -> None:
    """Refuse an `out` that is a file, or a non-empty folder without `force`, or one that holds
    the source mesh (replacing it would delete the source)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if source is not None and Path(out).resolve() in Path(source).resolve().parents:
        raise UserError(f"--out {out} holds the source mesh {Path(source).name}: write the object elsewhere")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"--out {out} exists and is not empty (add --force to replace it)")


@contextlib.contextmanager
def staged(out: Path, force: bool = False, source: Path | None = None):
    """Yield an empty hidden folder beside `out`; on a clean exit it becomes `out`, on any
    error it is removed, with any parent folders this call created."""
    out = Path(out)
    check_destination(out, force, source)
    created = []
    for parent in reversed(out.absolute().parents):
        if not parent.exists():
            created.append(parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())  # mkdtemp's folder is private; the object folder is not
        check_destination(out, force, source)  # nothing appeared there meanwhile
        fileio.publish_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in reversed(created):
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_object(folder: Path) -> dict:
    """object.json of an object folder, checked: a UserError when the folder is not a complete
    object folder of this format."""
    folder = Path(folder)
    path = folder / OBJECT_JSON
    if not path.is_file():
        raise UserError(f"{folder} is not an object folder (no {OBJECT_JSON}); create one with `orient-jax object import`")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: format_version {meta.get('format_version')!r}, this version reads "
                        f"{FORMAT_VERSION}: import the mesh again")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if isinstance(meta.get("preview"), str) and not (folder / meta["preview"]).is_file():
        missing.append(meta["preview"])
    if missing:
        raise UserError(f"{folder} is incomplete: {', '.join(missing)} missing; import the mesh again")
    return meta


def symmetry_of(folder: Path):
    """The symmetry group (`orient_jax.symmetry.Symmetry`, body frame) the folder's object.json
    records as "symmetry"; the trivial group when it records none (a folder imported before
    symmetry was) or the folder has no object.json (the built-in engine's assets)."""
    from orient_jax.symmetry import Symmetry

    card = Path(folder) / "object.json"
    if not card.is_file():
        return Symmetry()
    try:
        return Symmetry.from_card(json.loads(card.read_text()).get("symmetry"))
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise UserError(f"{card}: unreadable symmetry ({type(exc).__name__}: {exc}); import the mesh again") from exc
