"""The built-in engine as an object folder: `orient-jax object engine --out objects/engine`.

The engine is modelled here (`orient_jax/assets/engine_spec.py`: parts of their own densities),
not read from a mesh file, so its folder is written from its description rather than imported:
object.xml by the same scene writer as `orient_jax/assets/engine.xml` (byte-identical, so a run
with `--object objects/engine` simulates exactly what the default runs do), visual.glb the
engine's glb, and object.json by the importer's own modules: rests and torque limit from the
same simulated drops (`torque.torque_limit`, which gives the engine's 3.94 N m), camera framed
from its bounding radius (`importer.camera_for`), preview.png from the same Blender preview.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from orient_jax.errors import UserError
from orient_jax.objects import folder, importer, symmetry, torque
from orient_jax.symmetry import Symmetry

NAME = "engine"


def write_engine(out: Path, force: bool = False, preview: bool = True, drops: int = 128, seed: int = 0) -> dict:
    """Write the engine's object folder to `out` (atomically); returns object.json's content."""
    from orient_jax import fileio
    from orient_jax.assets import mjcf as engine_mjcf
    from orient_jax.sim import rigid_body

    out = Path(out)
    source = engine_mjcf.MJCF_PATH
    folder.check_destination(out, force, source)
    config = engine_mjcf.PhysicsConfig()
    with folder.staged(out, force, source) as staging:
        xml_path = staging / folder.MJCF
        xml_path.write_text(engine_mjcf.build_mjcf(config))
        if xml_path.read_bytes() != source.read_bytes():
            raise UserError(f"{source} is not what the scene writer writes now: regenerate it "
                            "(`python -m orient_jax.assets.mjcf`) before writing the engine's folder")
        shutil.copyfile(source.with_suffix(".glb"), staging / folder.VISUAL)
        body = rigid_body.load(str(xml_path))
        limits = torque.torque_limit(xml_path, config.torque_margin, drops=drops, seed=seed)
        motor = engine_mjcf.action_scale(config)
        if abs(limits.limit - motor) > 1e-9:
            raise UserError(f"the engine's drops give a torque limit of {limits.limit} N m, its MJCF has {motor} N m")
        radius = body.bounding_radius  # about the body origin, as the camera's framing is defined
        size = np.ptp(body.hull_points, axis=0)
        inertia = torque.inertia_tensor(xml_path, body.body_id)
        meta = {
            "format_version": folder.FORMAT_VERSION,
            "name": NAME,
            "source": {"file": "orient_jax/assets/engine_spec.py", "format": "procedural",
                       "note": "the built-in engine, modelled in this repository (Apache License 2.0)"},
            "transform": {"up_axis": "z", "scale": 1.0,
                          "frame": "the engine's own body frame (origin at the base's centre, +Z up when upright)"},
            "size_m": [round(float(v), 6) for v in size],
            "bounding_radius_m": round(radius, 6),
            "mass": {"kg": float(f"{body.mass:.6g}"), "from": "engine_spec (each part's own density)",
                     "com_m": [round(float(c), 6) + 0.0 for c in body.com],
                     "inertia_kg_m2": [[float(f"{v:.6g}") + 0.0 for v in row] for row in inertia]},
            "collision": {"kind": "hull", "hulls": [{"vertices": int(len(body.hull_points))}]},
            "torque": limits.summary(config.torque_margin),
            "rests": [r.summary(limits.settled) for r in limits.rests],
            "arena": {"half_size_m": config.arena_half_size, "wall_height_m": config.wall_height},
            "camera": importer.camera_for(radius),
            "symmetry": symmetry.symmetry_card(Symmetry(), "none"),  # the engine is asymmetric by design
            "files": {"mjcf": folder.MJCF, "visual": folder.VISUAL},
            "visual": {"frame": "glTF: Y up, (x, y, z) = body (x, z, -y)"},
            "preview": None,
            "warnings": [],
            "versions": importer.tool_versions(),
        }
        if preview:
            from orient_jax.objects import preview as preview_lib

            preview_lib.render_preview(staging / folder.VISUAL, meta, staging / folder.PREVIEW)
            meta["preview"] = folder.PREVIEW
        fileio.write_json_atomic(staging / folder.OBJECT_JSON, meta)
    return meta
