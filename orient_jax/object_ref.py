"""The object a command works on: `--object DIR` (an object folder from `orient-jax object
import`), or none, which means the built-in engine (orient_jax/assets/engine.xml and engine.glb).

`resolve(DIR)` checks the folder once, before any work starts, so an incomplete or stale folder
is one clear error line rather than a failure halfway through a pipeline: object.json readable
and of this format, object.xml and visual.glb present, and object.xml still the file object.json
describes (the body's name, mass and torque limit as measured at import). `ObjectRef` then gives
what the stages need: the MJCF path, the visual mesh, the camera, the folder's content hash
(stage cache keys) and what run records say about it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from orient_jax.errors import UserError
from orient_jax.objects.folder import REQUIRED as FILES  # object.json, object.xml, visual.glb: the hash is over these


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    dir: Path
    """The object folder, as given (relative paths stay relative)."""
    name: str
    meta: dict
    """object.json."""

    @property
    def mjcf(self) -> Path:
        return self.dir / FILES[1]

    @property
    def glb(self) -> Path:
        return self.dir / FILES[2]

    @property
    def files(self) -> list[Path]:
        """The folder's files every stage that uses the object depends on."""
        return [self.dir / name for name in FILES]

    @property
    def camera(self) -> dict:
        """The pose camera framed for the object (object.json "camera")."""
        return dict(self.meta["camera"])

    def content_hash(self) -> str:
        """sha256 over the names and contents of `FILES`: a changed object changes it."""
        from orient_jax.fileio import sha256_file

        h = hashlib.sha256()
        for path in self.files:
            h.update(path.name.encode() + b"\0" + sha256_file(path).encode() + b"\n")
        return h.hexdigest()

    def record(self) -> dict:
        """What a run record or manifest says about the object."""
        return {"dir": str(self.dir), "name": self.name, "sha256": self.content_hash()}


def resolve(folder: str | Path) -> ObjectRef:
    """The checked object folder `folder`; a UserError (one line) when it is missing,
    incomplete, of another format, or stale (object.xml no longer what object.json describes)."""
    import mujoco

    from orient_jax.objects import folder as folder_lib
    from orient_jax.sim import rigid_body

    path = Path(folder)
    if not path.is_dir():
        raise UserError(f"--object {folder}: no such folder; create one with `orient-jax object import MESH --out {folder}`")
    meta = folder_lib.read_object(path)  # present, parseable, this format, every required file there
    for name in FILES:
        if (path / name).stat().st_size == 0:
            raise UserError(f"object folder {path} is incomplete: {name} is empty; import the mesh again")
    try:
        camera = meta["camera"]
        name, mass, limit = meta["name"], float(meta["mass"]["kg"]), float(meta["torque"]["limit_nm"])
        missing = [k for k in ("position", "look_at", "up", "fov_y_deg", "width", "height") if k not in camera]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path / FILES[0]} lacks {exc} (an older or damaged object.json); import the mesh again") from exc
    if missing:
        raise UserError(f"{path / FILES[0]}: its camera lacks {', '.join(missing)}; import the mesh again")
    try:
        model = mujoco.MjModel.from_xml_path(str(path / FILES[1]))
    except ValueError as exc:
        raise UserError(f"{path / FILES[1]} does not load in MuJoCo ({str(exc).strip().splitlines()[0]}); "
                        "import the mesh again") from exc
    body = rigid_body.from_model(model)
    stale = []
    if body.name != name:
        stale.append(f"its body is {body.name!r}, object.json names {name!r}")
    if abs(body.mass - mass) > 1e-5 * max(mass, 1e-9):
        stale.append(f"its mass is {body.mass:.6g} kg, object.json says {mass:.6g} kg")
    torques = {float(v) for v in model.actuator_ctrlrange[:, 1]}
    if model.nu != 3 or any(abs(t - limit) > 1e-6 * max(limit, 1e-9) for t in torques):
        stale.append(f"its motors' limit is {sorted(torques)} N m, object.json says {limit:g} N m")
    if stale:
        raise UserError(f"object folder {path} is stale: object.xml does not match object.json ({'; '.join(stale)}); "
                        "import the mesh again (`orient-jax object import ... --force`)")
    return ObjectRef(dir=path, name=str(name), meta=meta)

