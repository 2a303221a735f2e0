"""Build the engine in Blender from `engine_spec` and export `engine.glb` for the browser.

    .venv/bin/python blender/build_asset.py --out orient_jax/assets/engine.glb

Frames: Blender is Z up (as the world and MuJoCo). glTF is Y up: with `export_yup=True` the
exporter maps Blender (x, y, z) -> glTF (x, z, -y) for positions, normals and node
transforms; a glTF viewer (three.js) therefore shows the body upright with no extra rotation,
and its Y-up world maps back to ours by (x, y, z) -> (x, -z, y).
"""

import argparse
import json
import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scene as scene_lib  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, required=True, help="the .glb to write")
parser.add_argument("--report", type=Path, help="also write the Blender scene's per-part world bounds (JSON)")
args = parser.parse_args()

# 1. An empty scene, then the engine: a root empty (the body frame) and one named mesh per part.
scene = scene_lib.reset()
root, parts, materials = scene_lib.build_engine(scene)
scene["spec_sha256"] = root["spec_sha256"]

# 2. Export a binary glTF, Y up, with materials (pbrMetallicRoughness) and extras (the spec hash).
args.out.parent.mkdir(parents=True, exist_ok=True)
tmp = args.out.with_name(args.out.stem + ".tmp.glb")
bpy.ops.export_scene.gltf(filepath=str(tmp), export_format="GLB", export_yup=True, export_extras=True,
                          export_apply=True, export_texcoords=False, export_normals=True,
                          export_cameras=False, export_lights=False, export_materials="EXPORT",
                          export_vertex_color="NONE", export_copyright="orient-jax (generated from engine_spec.py)")

# 3. Replace the old file atomically.
tmp.replace(args.out)
print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(parts)} parts, {len(materials)} materials)")

# 4. Optionally report the Blender scene's geometry (the tests compare it with the .glb and MJCF).
if args.report:
    args.report.write_text(json.dumps({"bounds": scene_lib.part_world_bounds()}, indent=1))
