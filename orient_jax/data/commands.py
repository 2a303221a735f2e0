"""`orient-jax data ...`: render, finalize, verify and preview synthetic datasets."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from orient_jax.errors import UserError


def _config(args):
    from orient_jax import config as config_lib
    from orient_jax.data.config import DatasetConfig, DomainRandomization, RendererConfig, with_object

    base = DatasetConfig(num_images=args.num_images, seed=args.seed, shard_size=args.shard_size,
                         renderer=RendererConfig(engine=args.renderer, samples=args.samples),
                         object_dir=args.object or "")
    base = with_object(base)  # the object's own camera, before any --set camera.* override
    if args.no_dr is not None:
        base = dataclasses.replace(base, dr=DomainRandomization().disabled(args.no_dr))
    return config_lib.apply_overrides(base, args.set or [])


def cmd_render(args) -> int:
    from orient_jax.data.render import render_dataset

    manifest = render_dataset(Path(args.out), _config(args), workers=args.workers, shard=args.shard,
                              num_shards=args.num_shards, show_progress=not args.no_progress)
    if manifest:
        print(f"dataset complete: {manifest['num_images']} images in {len(manifest['shards'])} shards, {Path(args.out) / 'manifest.json'}")
    return 0


def cmd_finalize(args) -> int:
    from orient_jax.data.shards import assemble_manifest

    manifest = assemble_manifest(Path(args.dir))
    print(f"wrote {Path(args.dir) / 'manifest.json'}: {manifest['num_images']} images in {len(manifest['shards'])} shards")
    return 0


def cmd_verify(args) -> int:
    from orient_jax.data.loader import open_dataset

    ds = open_dataset(Path(args.dir), verify_hashes=not args.no_hash)
    cam = ds.camera
    obj = ds.manifest.get("object") or {"name": "engine"}
    print(f"ok: {len(ds)} images {ds.image_shape} of {obj['name']!r} in {len(ds.manifest['shards'])} shards, renderer "
          f"{ds.manifest['renderer']['engine']}, camera at {cam['position']} looking at {cam['look_at']}, "
          f"fov {cam['fov_y_deg']} deg" + ("" if args.no_hash else ", hashes verified"))
    return 0


def cmd_preview(args) -> int:
    from orient_jax.data.loader import open_dataset
    from orient_jax.data.preview import write_preview

    if args.count < 1:
        raise UserError("--count must be at least 1")
    ds = open_dataset(Path(args.dir), verify_hashes=False)
    png, gif = write_preview(ds, Path(args.out), count=args.count)
    print(f"wrote {png} and {gif}")
    return 0


def register(sub) -> None:
    from orient_jax.data.config import RENDERERS, DomainRandomization

    dr_names = [f.name for f in dataclasses.fields(DomainRandomization)]
    data = sub.add_parser("data", help="render, verify and preview synthetic image datasets (Blender)",
                          description="Synthetic images of the engine or an imported object for the pose CNN, rendered "
                                      "by Blender (bpy) in shards: DIR/shard-XXXXX.{images,labels}.npy + manifest.json.")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 1)[1])

    p = dsub.add_parser("render", help="render a dataset (resumes: complete shards are skipped)",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Render NUM_IMAGES images of the engine (or of an imported object, --object DIR) "
                                    "at uniformly random orientations, with domain randomization, one Blender process "
                                    "per shard.",
                        epilog="examples:\n"
                               "  orient-jax data render --out data/train --num-images 20000 --seed 0 --workers 2\n"
                               "  orient-jax data render --out data/val --num-images 2000 --seed 1\n"
                               "  # cluster array job, task $I of 8 (the last to finish writes the manifest):\n"
                               "  orient-jax data render --out data/big --num-images 200000 --shard $I --num-shards 8\n"
                               "  orient-jax data render --out data/mug --num-images 10000 --object objects/mug --samples 8\n"
                               "  orient-jax data render --out data/clean --num-images 512 --no-dr   # all randomization off\n"
                               "  orient-jax data render ... --no-dr background sensor_noise      # some off\n"
                               "  orient-jax data render ... --set camera.fov_y_deg=35 --set dr.sensor_noise=5\n"
                               "  orient-jax data render ... --set dr.light_families=studio,sky --set dr.background_families=clutter\n"
                               "  orient-jax data render ... --set dr.light_families=studio --set dr.background_families=plain \\\n"
                               "      --set dr.exposure_ev=0 --set dr.blur_px=0   # the classic randomization (the shipped models')")
    p.add_argument("--out", required=True, help="dataset folder (created; rerun the same command to resume)")
    p.add_argument("--num-images", type=int, required=True, help="images in the dataset")
    p.add_argument("--object", metavar="DIR",
                   help="render this object folder (from `orient-jax object import`), through its own pose camera, "
                        "instead of the built-in engine")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (use a different one for validation/test sets)")
    p.add_argument("--workers", type=int, default=1, help="local render processes (one per core; default 1)")
    p.add_argument("--shard", type=int, default=0, help="this task's index for --num-shards (default 0)")
    p.add_argument("--num-shards", type=int, default=1,
                   help="split the shards over this many independent tasks: task i renders shards with index %% n == i")
    p.add_argument("--shard-size", type=int, default=256, help="images per shard file (default 256)")
    p.add_argument("--renderer", choices=RENDERERS, default="cycles",
                   help="cycles (default: CPU path tracing, PBR + sun shadows) or workbench (faster, flat studio light)")
    p.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel (default 16, denoiser off)")
    p.add_argument("--no-dr", nargs="*", metavar="NAME",
                   help=f"switch domain randomization off: all with no NAME, else the named ones ({', '.join(dr_names)})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any dataset config value, e.g. camera.fov_y_deg=35, lighting.sun_strength=4, dr.sensor_noise=5")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_render)

    p = dsub.add_parser("finalize", help="(re)write DIR/manifest.json from the shard records (after split cluster jobs)")
    p.add_argument("dir", help="dataset folder")
    p.set_defaults(func=cmd_finalize)

    p = dsub.add_parser("verify", help="validate a dataset: manifest, shapes, label norms, sha256 of every shard")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--no-hash", action="store_true", help="skip the sha256 check (faster)")
    p.set_defaults(func=cmd_verify)

    p = dsub.add_parser("preview", help="contact sheet PNG + animated GIF with each label drawn as body axes",
                        description="Draw each image's label as the body's X (red), Y (green), Z (blue) axes, "
                                    "projected through the manifest camera, so a human can check labels match images.")
    p.add_argument("dir", help="dataset folder")
    p.add_argument("--out", required=True, help="output prefix: writes PREFIX.png and PREFIX.gif")
    p.add_argument("--count", type=int, default=16, help="images on the contact sheet (default 16)")
    p.set_defaults(func=cmd_preview)
