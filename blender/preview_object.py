"""Render the views of an object's preview.png (one RGBA PNG per orientation), nominal scene.

    .venv/bin/python blender/preview_object.py --job JOB.json

JOB.json (written by `orient_jax.objects.preview.render_preview`, which spawns this script and
assembles the contact sheet): {"visual": visual.glb, "camera": object.json's camera, "quats":
[[x, y, z, w], ...], "size": px, "samples": Cycles samples, "out_dir": folder}. Writes
OUT_DIR/view-K.png (straight-alpha RGBA over a transparent film) for each quaternion, through
the object's pose camera at `size` x `size` px, under the datasets' nominal sun and ambient
light (no randomization): the background is composited by the caller.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scene as scene_lib  # noqa: E402  (also puts the repo's orient_jax on sys.path)

from orient_jax.data import randomize  # noqa: E402
from orient_jax.data.config import DatasetConfig, RendererConfig, object_camera  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--job", type=Path, required=True, help="the job (JSON)")
args = parser.parse_args()

job = json.loads(args.job.read_text())
out_dir = Path(job["out_dir"])
config = DatasetConfig(camera=object_camera({"camera": job["camera"]}, "the preview job"))
cam, light = config.camera, config.lighting

scene = scene_lib.reset()
root, materials = scene_lib.build_object(scene, job["visual"])
camera = scene_lib.add_camera(scene)
sun = scene_lib.add_sun(scene)
world = scene_lib.add_world(scene)
# All cores (threads 0 = auto): one process renders every view.
scene_lib.configure_render(scene, RendererConfig(samples=int(job["samples"]), threads=0), job["size"], job["size"])
scene_lib.set_camera(camera, cam.position, cam.look_at, cam.up, cam.fov_y_deg)  # same field of view, larger image
scene_lib.set_sun(sun, randomize.nominal_sun_direction(config), light.sun_strength, (1.0, 1.0, 1.0))
scene_lib.set_ambient(world, [light.ambient] * 3)
scene_lib.set_seed(scene, 0)
for k, q in enumerate(job["quats"]):
    scene_lib.set_rotation(root, q)
    scene_lib.render_rgba(scene, out_dir / f"view-{k}.png")
    print(f"view {k + 1}/{len(job['quats'])}", flush=True)
