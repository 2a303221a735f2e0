"""Read a user's mesh file and clean its geometry: the one place that knows file formats.

trimesh reads all four formats a user is likely to bring (`.obj` with its `.mtl` and image
textures, `.stl`, `.ply`, `.glb`/`.gltf` with embedded or external buffers and images) as a
scene of parts with their transforms and materials. Two views come out of one read:

- `visual`: the parts as drawn, with their own materials and textures, transforms applied,
  untouched otherwise (they become `visual.glb`);
- `solid`: the same geometry as one triangle soup without materials, cleaned for physics:
  duplicate vertices merged, degenerate and duplicate faces dropped, unused vertices removed.

Files are read with trimesh's processing off, so that nothing is silently dropped before it is
checked (trimesh would otherwise discard faces with NaN vertices without a word).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from orient_jax.errors import UserError

FORMATS = {".obj": "obj", ".stl": "stl", ".ply": "ply", ".glb": "glb", ".gltf": "gltf"}
"""File extensions read, and trimesh's name for each."""
MAX_FACES = 2_000_000
"""More triangles than this is refused. Measured here (2 cores): a 1.3 M-face STL imports in
26 s at a 2.1 GB peak (2 M: ~40 s, ~3.2 GB), a 100 k-face one in 3 s. No physics
needs that many (the collision hull keeps at most `collision.MAX_HULL_VERTICES` vertices) and
the page draws well under ~0.5 M: decimate first (e.g. Blender's Decimate modifier)."""
MAX_FILE_BYTES = 1 << 30
"""A file larger than 1 GiB is refused before it is read (MAX_FACES is reached long before)."""


@dataclasses.dataclass
class LoadedMesh:
    solid: "trimesh.Trimesh"  # noqa: F821
    """All parts as one cleaned triangle mesh, no materials, in the file's coordinates."""
    visual: list
    """The parts (trimesh.Trimesh, with their materials) in the file's coordinates."""
    format: str
    parts: int
    source_vertices: int
    source_faces: int
    cleanup: dict
    """What cleaning removed: merged duplicate vertices, degenerate and duplicate faces."""


def read_scene(path: Path):
    """The file's trimesh.Scene, or a UserError naming what is wrong with the file."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no mesh file at {path}")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path.name}: unknown mesh format {path.suffix or '(no extension)'!r}; "
                        f"use one of {', '.join(FORMATS)}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path.name} is {size / 2**30:.1f} GiB: too large to import (limit 1 GiB, "
                        f"{MAX_FACES:,} faces); decimate it first")
    try:
        return trimesh.load_scene(str(path), file_type=kind, process=False), kind
    except Exception as exc:  # trimesh raises many kinds on a corrupt file
        raise UserError(f"could not read {path.name} as {kind}: {type(exc).__name__}: {exc}") from exc


def load_mesh(path: Path) -> LoadedMesh:
    """Read `path` (see `FORMATS`), place each part by its scene transform, check it and clean it.

    Refused with a UserError: a missing file, an unknown extension, a file trimesh cannot read,
    no triangles (empty, or a point cloud), non-finite vertex coordinates, more than MAX_FACES.
    """
    import trimesh

    scene, kind = read_scene(path)
    parts = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    name = Path(path).name
    if not parts:
        raise UserError(f"{name}: the file has no triangles (an empty mesh, or only points or lines)")
    n_faces = sum(len(p.faces) for p in parts)
    if n_faces > MAX_FACES:
        raise UserError(f"{name} has {n_faces:,} faces: too large to import (limit {MAX_FACES:,}); decimate it first")
    for part in parts:
        used = part.vertices[np.unique(part.faces)]
        if not np.all(np.isfinite(used)):
            raise UserError(f"{name}: {int((~np.isfinite(used).all(axis=1)).sum())} vertices have NaN or "
                            "infinite coordinates")
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    vertices = np.concatenate([np.asarray(p.vertices, np.float64) for p in parts])
    faces = np.concatenate([np.asarray(p.faces) + o for p, o in zip(parts, offsets)])
    solid, cleanup = clean(vertices, faces)
    if len(solid.faces) == 0:
        raise UserError(f"{name}: every face is degenerate (zero area): nothing to import")
    return LoadedMesh(solid=solid, visual=parts, format=kind, parts=len(parts), source_vertices=len(vertices),
                      source_faces=len(faces), cleanup=cleanup)


def clean(vertices: np.ndarray, faces: np.ndarray):
    """(cleaned trimesh.Trimesh, counts removed): vertices at the same position merged (across
    parts and texture seams), then faces of zero area and repeated faces dropped."""
    import trimesh

    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    mesh.remove_unreferenced_vertices()
    n_vertices = len(mesh.vertices)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    merged = n_vertices - len(mesh.vertices)
    n_faces = len(mesh.faces)
    mesh.update_faces(mesh.nondegenerate_faces())
    degenerate = n_faces - len(mesh.faces)
    n_faces = len(mesh.faces)
    mesh.update_faces(mesh.unique_faces())
    duplicate = n_faces - len(mesh.faces)
    mesh.remove_unreferenced_vertices()
    return mesh, {"merged_vertices": int(merged), "degenerate_faces": int(degenerate),
                  "duplicate_faces": int(duplicate)}
