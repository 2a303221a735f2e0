"""`import_object`: a user's mesh file in, a complete object folder out (see `folder`).

The steps, each in its own module: read and clean the mesh (`load`), turn it so its up axis is
+Z and scale it to metres, compute its mass properties and move the origin to the centre of
mass (`mass`), build the collision hull (`collision`), write the MJCF (`mjcf`), drop it to find
its rests and the torque limit (`torque`), export the visual mesh, render preview.png from it
(`preview`, Blender; optional), and publish the folder (`folder`). Frames: the body frame is
the mesh's own axes after the up-axis rotation, origin at the centre of mass;
body = scale * R_up @ source - com.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np

from orient_jax.errors import UserError
from orient_jax.objects import collision as collision_lib
from orient_jax.objects import folder, load, mass, mjcf, torque
from orient_jax.objects import symmetry as symmetry_lib
from orient_jax.symmetry import Symmetry

UP_AXES = {
    "z": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    "-z": [[1, 0, 0], [0, -1, 0], [0, 0, -1]],  # half a turn about x
    "y": [[1, 0, 0], [0, 0, -1], [0, 1, 0]],    # +90 deg about x: glTF's and most DCC tools' Y-up
    "-y": [[1, 0, 0], [0, 0, 1], [0, -1, 0]],   # -90 deg about x
    "x": [[0, 0, -1], [0, 1, 0], [1, 0, 0]],    # -90 deg about y
    "-x": [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],   # +90 deg about y
}
"""Rotation taking the mesh's up axis to +Z, per --up (proper rotations: nothing is mirrored)."""
GLTF_FROM_BODY = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
"""glTF is Y up: glTF (x, y, z) = body (x, z, -y)."""
MIN_SIZE, MAX_SIZE = 0.01, 5.0
"""Longest extent (m) accepted after scaling: outside, the units are most likely wrong (a
model in millimetres read as metres), and the physics at a 5 ms step is not meant for it."""
VISUAL_FACES_WARNING = 500_000
"""visual.glb with more triangles than this is written, with a warning: the page draws it slowly."""


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    up: str = "z"
    size: float | None = None
    """Longest extent (m) after the up rotation; exclusive with `scale`."""
    scale: float | None = None
    mass: float | None = None
    density: float | None = None
    collision: str = "hull"
    name: str | None = None
    """Default: the output folder's name."""
    source_note: str | None = None
    force: bool = False
    max_hull_vertices: int = collision_lib.MAX_HULL_VERTICES
    drops: int = 128
    """Random drops that find the rests (torque limit)."""
    seed: int = 0
    preview: bool = True
    """Render preview.png (Blender, a few seconds); False: object.json "preview" is null."""
    symmetry: str = "auto"
    """"auto": found in the geometry (and colours); "none": taken as asymmetric; or a SPEC
    (`orient_jax.objects.symmetry.parse_spec`, e.g. "z:4,x:2")."""

    def validate(self) -> None:
        if self.up not in UP_AXES:
            raise UserError(f"unknown --up {self.up!r}; use one of {', '.join(UP_AXES)}")
        if self.size is not None and self.scale is not None:
            raise UserError("give --size or --scale, not both")
        if self.mass is not None and self.density is not None:
            raise UserError("give --mass or --density, not both")
        for flag, value in (("--size", self.size), ("--scale", self.scale), ("--mass", self.mass),
                            ("--density", self.density)):
            if value is not None and not (np.isfinite(value) and value > 0):
                raise UserError(f"{flag} must be a positive number, got {value:g}")
        if self.collision not in collision_lib.KINDS:
            raise UserError(f"unknown --collision {self.collision!r}; use one of {', '.join(collision_lib.KINDS)}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", self.name):
            raise UserError(f"--name {self.name!r}: use letters, digits, '_' and '-', starting with a letter or digit")
        if self.symmetry not in ("auto", "none"):
            symmetry_lib.parse_spec(self.symmetry)  # a bad SPEC is refused before anything is read or written


def object_name(options: ImportOptions, out: Path) -> str:
    if options.name:
        return options.name
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(out).resolve().name).strip("_-")
    return name or "object"


def camera_for(radius: float) -> dict:
    """The engine's pose camera with its distance scaled by radius / the engine's radius: the
    same direction, field of view and image size, so every object fills the frame alike."""
    from orient_jax.export.manifest import DEFAULT_CAMERA

    k = radius / mjcf.reference_radius()
    return {**DEFAULT_CAMERA, "position": [round(float(x) * k, 5) for x in DEFAULT_CAMERA["position"]]}


def _sha256(path: Path) -> str:
    from orient_jax import fileio

    return fileio.sha256_file(path)


def tool_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("orient-jax", "trimesh", "mujoco", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _visual_scene(parts: list, transform: np.ndarray):
    """The visual parts moved into the body frame and turned into glTF's axes, as a Scene."""
    import trimesh

    to_gltf = np.eye(4)
    to_gltf[:3, :3] = GLTF_FROM_BODY
    scene = trimesh.Scene()
    for i, part in enumerate(parts):
        part = part.copy()
        part.update_faces(_first_of_coincident_faces(part))
        part.apply_transform(to_gltf @ transform)
        material = getattr(part.visual, "material", None)
        if isinstance(material, trimesh.visual.material.SimpleMaterial):
            # An OBJ/MTL (Phong) material: trimesh's PBR conversion leaves metallicFactor unset,
            # which glTF reads as 1 (a rough metal). Phong materials are not metals: 0.
            pbr = material.to_pbr()
            pbr.metallicFactor = 0.0
            part.visual.material = pbr
        scene.add_geometry(part, geom_name=f"part_{i}")
    return scene


def _first_of_coincident_faces(part) -> np.ndarray:
    """Mask (F,) keeping each face that does not span the same three points as an earlier one.
    Exporters that write a two-sided surface as two coincident faces of opposite winding (and
    meshes with doubled faces) z-fight when drawn: speckled or black, in the page and in Blender."""
    corners = np.asarray(part.vertices)[np.asarray(part.faces)]  # (F, 3, 3)
    _, point_ids = np.unique(corners.reshape(-1, 3).round(9), axis=0, return_inverse=True)
    face_keys = np.sort(point_ids.reshape(-1, 3), axis=1)
    _, first = np.unique(face_keys, axis=0, return_index=True)
    keep = np.zeros(len(face_keys), dtype=bool)
    keep[first] = True
    return keep


def _textured(parts: list) -> int:
    """How many parts carry an image texture."""
    count = 0
    for part in parts:
        material = getattr(part.visual, "material", None)
        image = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
        count += image is not None
    return count


def object_symmetry(choice: str, body_vertices: np.ndarray, faces: np.ndarray, visual_parts: list,
                    transform: np.ndarray) -> tuple[dict, list[str]]:
    """(object.json's "symmetry", warnings) for --symmetry `choice` ("auto", "none" or a SPEC),
    measured on the cleaned mesh in the body frame, with the visual parts' colours (moved by
    `transform`, file -> body) when they have any."""
    import trimesh

    if choice == "none":
        return symmetry_lib.symmetry_card(symmetry_lib.Symmetry(), "none"), []
    body = trimesh.Trimesh(vertices=body_vertices, faces=faces, process=False)
    colors = symmetry_lib.surface_colors(visual_parts, transform)
    if choice == "auto":
        sym, report = symmetry_lib.detect(body, colors)
        card = symmetry_lib.symmetry_card(sym, "auto", None if sym.trivial else report["spec"], report)
        return card, ([f"symmetry: {report['note']}"] if report.get("note") else [])
    sym = symmetry_lib.parse_spec(choice)
    warnings, report = symmetry_lib.declared_report(body, sym, colors)
    return symmetry_lib.symmetry_card(sym, "declared", choice, report), [f"--symmetry {choice}: {w}" for w in warnings]


def import_object(source: Path, out: Path, options: ImportOptions = ImportOptions()) -> dict:
    """Import the mesh file `source` into the object folder `out`; returns object.json's content.
    A UserError (and nothing written) on bad input."""
    start = time.perf_counter()
    source, out = Path(source), Path(out)
    options.validate()
    folder.check_destination(out, options.force, source)
    name = object_name(options, out)
    timings = {}

    def lap(stage: str) -> None:
        timings[stage] = round(time.perf_counter() - start - sum(timings.values()), 3)

    mesh = load.load_mesh(source)
    lap("load")

    # Up axis and units
    rotation = np.array(UP_AXES[options.up], float)
    turned = mesh.solid.vertices @ rotation.T
    extent = np.ptp(turned, axis=0)
    if not extent.max() > 0:
        raise UserError("the mesh has zero volume (all its points coincide)")
    scale = options.size / extent.max() if options.size is not None else (options.scale or 1.0)
    size = extent * scale
    if not MIN_SIZE <= size.max() <= MAX_SIZE:
        hint = " (units? pass --size METRES or --scale S)" if options.size is None else ""
        raise UserError(f"the object would be {size.max():.4g} m long{hint}; accepted: {MIN_SIZE:g} to {MAX_SIZE:g} m")
    solid = mesh.solid.copy()
    solid.vertices = turned * scale

    # Mass, recentred on the centre of mass
    props = mass.mass_properties(solid, mass=options.mass, density=options.density)
    lap("mass")
    com = props.com
    transform = np.eye(4)
    transform[:3, :3] = scale * rotation
    transform[:3, 3] = -com
    body_vertices = solid.vertices - com
    radius = float(np.linalg.norm(body_vertices, axis=1).max())
    hulls = collision_lib.collision_hulls(body_vertices, solid.faces, options.collision, options.max_hull_vertices)
    lap("hull")
    symmetry, symmetry_warnings = object_symmetry(options.symmetry, body_vertices, solid.faces, mesh.visual, transform)
    lap("symmetry")
    config = mjcf.scaled_config(radius)

    with folder.staged(out, options.force, source) as staging:
        xml_path = staging / folder.MJCF

        def write_mjcf(limit: float) -> None:
            xml_path.write_text(mjcf.build_mjcf(name, [h.vertices for h in hulls], props.mass, props.inertia,
                                                radius, limit, config))

        write_mjcf(1.0)  # motors are off in the drops: any limit will do
        limits = torque.torque_limit(xml_path, config.torque_margin, drops=options.drops, seed=options.seed,
                                     symmetry=Symmetry.from_card(symmetry))
        write_mjcf(limits.limit)
        lap("rests")

        visual = _visual_scene(mesh.visual, transform)
        (staging / folder.VISUAL).write_bytes(visual.export(file_type="glb"))
        visual_faces = sum(len(g.faces) for g in visual.geometry.values())
        lap("visual")
        warnings = []
        if visual_faces > VISUAL_FACES_WARNING:
            warnings.append(f"visual.glb has {visual_faces:,} faces (over {VISUAL_FACES_WARNING:,}): the page will "
                            "draw it slowly; consider a decimated copy")
        if props.note:
            warnings.append(props.note)
        if limits.summary(config.torque_margin)["unreachable_rests"]:
            warnings.append("the torque limit is capped so it cannot throw the object: some rests other than upright cannot be left")
        warnings += symmetry_warnings

        meta = {
            "format_version": folder.FORMAT_VERSION,
            "name": name,
            "source": {"file": source.name, "sha256": _sha256(source), "format": mesh.format, "parts": mesh.parts,
                       "vertices": mesh.source_vertices, "faces": mesh.source_faces, "cleanup": mesh.cleanup,
                       "note": options.source_note},
            "transform": {"up_axis": options.up, "rotation": rotation.tolist(), "scale": float(f"{scale:.8g}"),
                          "com_offset_m": [round(float(-c), 8) + 0.0 for c in com],
                          "body_from_source": [[float(f"{v:.8g}") + 0.0 for v in row] for row in transform],
                          "frame": "body = scale * rotation @ source + com_offset; origin at the centre of mass, "
                                   "+Z up when upright"},
            "size_m": [round(float(v), 6) for v in size],
            "bounding_radius_m": round(radius, 6),
            "mass": {"kg": float(f"{props.mass:.6g}"), "density_kg_m3": float(f"{props.density:.6g}"),
                     "volume_m3": float(f"{props.volume:.6g}"), "from": props.source, "note": props.note,
                     "com_m": [0.0, 0.0, 0.0],
                     "inertia_kg_m2": [[float(f"{v:.6g}") + 0.0 for v in row] for row in props.inertia]},
            "collision": {"kind": options.collision, "max_vertices": options.max_hull_vertices,
                          "hulls": [h.summary() for h in hulls]},
            "torque": limits.summary(config.torque_margin),
            "rests": [r.summary(limits.settled) for r in limits.rests],
            "arena": {"half_size_m": config.arena_half_size, "wall_height_m": config.wall_height},
            "camera": camera_for(radius),
            "symmetry": symmetry,
            "files": {"mjcf": folder.MJCF, "visual": folder.VISUAL},
            "visual": {"parts": len(mesh.visual), "faces": visual_faces, "textured_parts": _textured(mesh.visual),
                       "frame": "glTF: Y up, (x, y, z) = body (x, z, -y)"},
            "preview": None,
            "warnings": warnings,
            "versions": tool_versions(),
        }
        if options.preview:  # from the staged visual.glb: a Blender failure publishes nothing
            from orient_jax.objects import preview

            preview.render_preview(staging / folder.VISUAL, meta, staging / folder.PREVIEW)
            meta["preview"] = folder.PREVIEW
            lap("preview")
        from orient_jax import fileio

        fileio.write_json_atomic(staging / folder.OBJECT_JSON, meta)
    lap("write")
    meta["import_seconds"] = round(time.perf_counter() - start, 2)
    meta["timings_s"] = timings  # not in object.json: the file depends only on its inputs
    return meta
