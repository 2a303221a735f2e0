"""Read a binary glTF (.glb) with numpy and struct only: enough to check `engine.glb`'s
geometry and materials against `engine_spec` (tests) without a glTF dependency.

glTF is Y up; `to_z_up` maps its coordinates back to ours: (x, y, z) -> (x, -z, y), the
inverse of the exporter's Blender (x, y, z) -> glTF (x, z, -y).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_COMPONENT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(path: Path) -> tuple[dict, bytes]:
    """(the JSON document, the BIN chunk)."""
    data = Path(path).read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or length != len(data):
        raise ValueError(f"{path}: not a glTF 2.0 binary file")
    offset, doc, binary = 12, None, b""
    while offset < length:
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        chunk = data[offset + 8: offset + 8 + chunk_len]
        if chunk_type == 0x4E4F534A:  # "JSON"
            doc = json.loads(chunk)
        elif chunk_type == 0x004E4942:  # "BIN\0"
            binary = chunk
        offset += 8 + chunk_len
    if doc is None:
        raise ValueError(f"{path}: no JSON chunk")
    return doc, binary


def accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENT[acc["componentType"]])
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", dtype.itemsize * width)
    rows = [np.frombuffer(binary, dtype, width, start + i * stride) for i in range(acc["count"])]
    return np.array(rows).reshape(acc["count"], width)


def _trs(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=float).reshape(4, 4).T  # column-major
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m = np.eye(4)
    m[:3, :3] = r * np.array(node.get("scale", [1, 1, 1]))
    m[:3, 3] = node.get("translation", [0, 0, 0])
    return m


def to_z_up(points_y_up: np.ndarray) -> np.ndarray:
    """glTF (Y up) -> our world (Z up): (x, y, z) -> (x, -z, y)."""
    p = np.asarray(points_y_up)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def mesh_nodes(path: Path) -> dict[str, dict]:
    """Every node with a mesh, by node name: {'vertices': (V, 3) in our Z-up world frame,
    'material': {name, base_color, metallic, roughness} of its first primitive}."""
    doc, binary = read_glb(path)
    nodes = doc.get("nodes", [])
    out: dict[str, dict] = {}

    def visit(i: int, parent: np.ndarray) -> None:
        node = nodes[i]
        world = parent @ _trs(node)
        if "mesh" in node:
            verts, material = [], None
            for prim in doc["meshes"][node["mesh"]]["primitives"]:
                v = accessor(doc, binary, prim["attributes"]["POSITION"]).astype(float)
                verts.append(v @ world[:3, :3].T + world[:3, 3])
                if material is None and "material" in prim:
                    mat = doc["materials"][prim["material"]]
                    pbr = mat.get("pbrMetallicRoughness", {})
                    material = {"name": mat.get("name"), "base_color": pbr.get("baseColorFactor", [1, 1, 1, 1]),
                                "metallic": pbr.get("metallicFactor", 1.0), "roughness": pbr.get("roughnessFactor", 1.0)}
            out[node.get("name", f"node{i}")] = {"vertices": to_z_up(np.concatenate(verts)), "material": material}
        for child in node.get("children", []):
            visit(child, world)

    scene = doc["scenes"][doc.get("scene", 0)]
    for root in scene["nodes"]:
        visit(root, np.eye(4))
    return out
