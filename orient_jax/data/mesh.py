"""Render meshes of the engine's parts (numpy, no bpy), in the body frame (metres, Z up).

`blender/scene.py` turns these into Blender meshes, which the glTF exporter writes to
`engine.glb`; the tests compare that file's geometry back against `engine_spec`.
"""

from __future__ import annotations

import numpy as np

from orient_jax.assets import engine_spec

CYLINDER_SEGMENTS = 32  # a multiple of 4, so a cylinder's bounding box is exactly its radius


def part_mesh(part: engine_spec.Part, segments: int = CYLINDER_SEGMENTS) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """(vertices (V, 3) in the body frame, polygons as vertex-index tuples wound outward)."""
    if part.kind == "box":
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        local = signs * np.asarray(part.size)
        # Corner k has bits (x, y, z) = (k >> 2, k >> 1, k) & 1; one quad per face.
        faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    elif part.kind == "cylinder":
        r, h = part.size
        phi = 2 * np.pi * np.arange(segments) / segments
        ring = np.c_[r * np.cos(phi), r * np.sin(phi)]
        local_z = np.concatenate([np.c_[ring, np.full(segments, -h)], np.c_[ring, np.full(segments, h)]])
        # Cyclic permutation of the axes (a proper rotation): the length runs along `axis`.
        local = local_z[:, {"z": (0, 1, 2), "x": (2, 0, 1), "y": (1, 2, 0)}[part.axis]]
        n = segments
        faces = [(i, (i + 1) % n, n + (i + 1) % n, n + i) for i in range(n)]
        faces += [tuple(range(n, 2 * n)), tuple(reversed(range(n)))]
    else:
        raise ValueError(f"unknown part kind {part.kind!r}")
    # Wind every face outward (the primitives are convex around their centre).
    fixed = []
    for face in faces:
        p = local[list(face)]
        normal = np.cross(p[1] - p[0], p[2] - p[0])
        fixed.append(face if normal @ p.mean(0) > 0 else tuple(reversed(face)))
    return local + np.asarray(part.pos), fixed


def engine_bounds() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-part axis-aligned (min, max) in the body frame, from the spec."""
    return {p.name: (np.asarray(p.pos) - p.half_extents(), np.asarray(p.pos) + p.half_extents()) for p in engine_spec.PARTS}


def spec_fingerprint() -> str:
    """sha256 of the parts and materials: the .glb records the one it was built from."""
    import hashlib

    text = repr((engine_spec.PARTS, tuple(engine_spec.MATERIALS.values()), CYLINDER_SEGMENTS))
    return hashlib.sha256(text.encode()).hexdigest()
