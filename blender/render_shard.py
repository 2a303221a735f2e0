"""Render ONE shard of a dataset (images + labels), atomically.

    .venv/bin/python blender/render_shard.py --data-dir DATA_DIR --shard 3

Reads DATA_DIR/config.json (written by `orient-jax data render`, which spawns this script, one
process per shard, so Blender's leaks die with it): the built-in engine, or the object folder
it names (`object_dir`: its visual.glb). Everything random comes from
`orient_jax.data.randomize.sample_shard(config, shard)`; this script only poses the scene.
Prints "progress K CPU_S" after each image for the orchestrator's progress bar.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scene as scene_lib  # noqa: E402  (also puts the repo's orient_jax on sys.path)

from orient_jax.assets import engine_spec  # noqa: E402
from orient_jax.data import randomize, shards  # noqa: E402
from orient_jax.data.config import LIGHT_FAMILIES, with_object  # noqa: E402
from orient_jax.objects import folder  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-dir", type=Path, required=True, help="dataset folder holding config.json")
parser.add_argument("--shard", type=int, required=True, help="shard index")
parser.add_argument("--limit", type=int, help="render only the first N images (benchmarks; writes nothing)")
args = parser.parse_args()

# 1. The dataset config and every random quantity of this shard (labels, lights, colours, camera, noise).
config = shards.read_config(args.data_dir)
cam_cfg = config.camera

# 2. The scene: the object (root empty = body frame at the world origin), camera, sun, ambient world.
scene = scene_lib.reset()
if config.object_dir:  # an imported object folder: its visual.glb, each material's colour/texture jittered
    with_object(config)  # refuses an object imported again since the dataset was started (stale)
    root, material_list = scene_lib.build_object(scene, Path(config.object_dir) / folder.VISUAL)
    params = randomize.sample_shard(config, args.shard, num_materials=len(material_list))

    def set_materials(i: int) -> None:
        for mat, gain in zip(material_list, params.material_gain[i]):
            scene_lib.set_material_gain(mat, gain)
else:  # the built-in engine, from engine_spec
    params = randomize.sample_shard(config, args.shard)
    root, parts, materials = scene_lib.build_engine(scene)
    material_list = [materials[name] for name in engine_spec.MATERIALS]

    def set_materials(i: int) -> None:
        for mat, rgb in zip(material_list, params.material_rgb[i]):
            scene_lib.set_material_color(mat, rgb)
camera = scene_lib.add_camera(scene)
sun = scene_lib.add_sun(scene)
world = scene_lib.add_world(scene)
sky = bool(np.any(params.light_family == LIGHT_FAMILIES.index("sky")))  # any image of the shard lit by "sky"
if sky:
    scene_lib.add_sky(world)
scene_lib.configure_render(scene, config.renderer, cam_cfg.width, cam_cfg.height)
if config.object_dir and config.renderer.engine == "workbench":
    scene.display.shading.color_type = "TEXTURE"  # an imported object's image textures (else its colours)

# 3. Render each image into a private temp folder inside the dataset folder (same filesystem: rename is atomic).
tmp = Path(tempfile.mkdtemp(prefix=f"{shards.TMP_PREFIX}{args.shard:05d}-", dir=args.data_dir))
count = params.count if args.limit is None else min(args.limit, params.count)
renders = np.zeros((count, cam_cfg.height, cam_cfg.width, 4), np.uint8)
for i in range(count):
    # 3a. Pose the object by its label: q maps body -> world.
    scene_lib.set_rotation(root, params.quats[i])
    # 3b. Domain randomization of this image (identity values when switched off).
    scene_lib.set_camera(camera, params.cam_position[i], params.cam_look_at[i], cam_cfg.up, params.fov_y_deg[i])
    scene_lib.set_sun(sun, params.sun_direction[i], params.sun_strength[i], params.sun_color[i])
    if sky:  # a sky-lit image, or a plain one (its sky one colour) in a shard with sky-lit images
        scene_lib.set_sky(world, params.sky_top[i], params.sky_bottom[i], params.sky_patch[i],
                          params.sky_patchiness[i], params.sky_scale[i])
    else:
        scene_lib.set_ambient(world, params.ambient_color[i])
    set_materials(i)
    scene_lib.set_seed(scene, params.render_seed[i])
    # 3c. Render RGBA over a transparent film.
    renders[i] = scene_lib.render_rgba(scene, tmp / "frame.png")
    print(f"progress {i + 1} {time.process_time():.4f}", flush=True)  # images done, CPU seconds so far
# 3d. Composite each background (a distractors one draws on the shard's other renders) and add sensor noise.
images = np.stack([randomize.finish_image(renders[i], params, i, renders) for i in range(count)])

# 4. Write the arrays and the shard record, then move them into place: images, labels, record last.
if args.limit is not None:
    shutil.rmtree(tmp)
    sys.exit(0)
(tmp / "frame.png").unlink(missing_ok=True)
names = {"images": shards.images_name(args.shard), "labels": shards.labels_name(args.shard)}
np.save(tmp / names["images"], images)
np.save(tmp / names["labels"], params.quats)
record = {"index": args.shard, "count": count, "files": names, "blender": bpy.app.version_string,
          "sha256": {key: shards.sha256_file(tmp / name) for key, name in names.items()}}
(tmp / shards.record_name(args.shard)).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
for name in (names["images"], names["labels"], shards.record_name(args.shard)):
    os.replace(tmp / name, args.data_dir / name)
tmp.rmdir()
print(f"done {args.shard} {count}", flush=True)
