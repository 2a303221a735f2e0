"""`orient-jax object ...`: bring a user's mesh in as an object folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_import(args) -> int:
    from orient_jax.objects import symmetry
    from orient_jax.objects.importer import ImportOptions, import_object

    options = ImportOptions(up=args.up, size=args.size, scale=args.scale, mass=args.mass, density=args.density,
                            collision=args.collision, name=args.name, source_note=args.source_note, force=args.force,
                            preview=not args.no_preview, symmetry=args.symmetry)
    meta = import_object(Path(args.mesh), Path(args.out), options)
    m, t, hull = meta["mass"], meta["torque"], meta["collision"]["hulls"]
    size = " x ".join(f"{v:.3g}" for v in meta["size_m"])
    print(f"imported {meta['source']['file']} as {meta['name']!r} into {args.out} in {meta['import_seconds']:.1f} s")
    print(f"  size {size} m (scale {meta['transform']['scale']:.4g}, up {meta['transform']['up_axis']}), "
          f"bounding radius {meta['bounding_radius_m']:.3g} m")
    print(f"  mass {m['kg']:.4g} kg from the {'mesh' if m['from'] == 'mesh' else 'convex hull'} "
          f"({m['density_kg_m3']:.4g} kg/m3)")
    print(f"  collision: {len(hull)} hull(s), " + ", ".join(
        f"{h['vertices']} of {h['source_vertices']} vertices (max gap {h['max_deviation_m'] * 1000:.2g} mm)" for h in hull))
    v = meta["visual"]
    print(f"  visual.glb: {v['parts']} part(s), {v['faces']:,} faces, {v['textured_parts']} with an image texture")
    print(f"  torque limit {t['limit_nm']:.3g} N m ({t['rule']}); {len(meta['rests'])} rests from "
          f"{t['settled']}/{t['drops']} drops")
    print(f"  symmetry: {symmetry.summary_line(meta['symmetry'])}")
    if meta["preview"]:
        print(f"  {meta['preview']}: upright and 5 random orientations through the pose camera")
    print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in meta["timings_s"].items()))
    for warning in meta["warnings"]:
        print(f"  warning: {warning}")
    return 0


def cmd_engine(args) -> int:
    from orient_jax.objects.engine import write_engine

    meta = write_engine(Path(args.out), force=args.force, preview=not args.no_preview)
    print(f"wrote the built-in engine's object folder to {args.out}: {meta['mass']['kg']:.6g} kg, torque limit "
          f"{meta['torque']['limit_nm']:g} N m, {len(meta['rests'])} rests")
    return 0


def register(sub) -> None:
    from orient_jax.objects import collision, importer, load, mass, symmetry

    obj = sub.add_parser("object", help="import a mesh (.obj/.stl/.ply/.glb/.gltf) as an object to learn",
                         description="Object folders: the MJCF, visual mesh and facts (mass, inertia, torque limit, "
                                     "camera) of an object the pose model and the policies are trained for.")
    osub = obj.add_subparsers(dest="object_command", metavar="SUBCOMMAND")
    obj.set_defaults(func=lambda args: (obj.print_help(), 1)[1])

    p = osub.add_parser(
        "import", help="turn a mesh file into an object folder (object.json, object.xml, visual.glb, preview.png)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read MESH (.obj with its .mtl and textures, .stl, .ply, .glb/.gltf; several parts are joined), "
                    "turn it so its --up axis points up and scale it to metres, compute mass and inertia as a uniform "
                    "solid (from the mesh if it is closed, else from its convex hull), recentre it on its centre of "
                    f"mass, build a convex collision hull of at most {collision.MAX_HULL_VERTICES} vertices, drop it "
                    "from random orientations to find its rests and set the torque limit (enough to tip it out of "
                    "its hardest rest and for a share of a straight roll to upright, never enough to throw it), "
                    "find its symmetry (--symmetry auto: the turns that map its surface and colours onto "
                    "themselves, recorded in object.json so pose errors are taken modulo them), "
                    "render preview.png (Blender: upright and 5 random orientations through its pose camera), "
                    "and write the folder OUT atomically: nothing is written if any step fails.",
        epilog="examples:\n"
               "  orient-jax object import scans/mug.obj --out objects/mug --up y --size 0.12\n"
               "  orient-jax object import part.stl --out objects/bracket --scale 0.001 --mass 0.4   # mm -> m\n"
               "  orient-jax object import can.stl --out objects/can --size 0.15 --symmetry z:inf   # a can\n"
               "  orient-jax object import box.obj --out objects/box --size 0.15 --symmetry z:4,x:2  # square box\n"
               "  orient-jax object import toy.glb --out objects/toy --up y --size 0.2 \\\n"
               "      --source-note 'Toy by A. Person, CC-BY 4.0, https://example.org/toy'")
    p.add_argument("mesh", metavar="MESH", help=f"the mesh file ({', '.join(load.FORMATS)}); at most "
                                                  f"{load.MAX_FACES:,} faces")
    p.add_argument("--out", required=True, metavar="DIR", help="the object folder to write (e.g. objects/NAME); "
                                                                 "must not exist or be empty, unless --force")
    p.add_argument("--up", choices=list(importer.UP_AXES), default="z",
                   help="the mesh's up axis: this axis points up when the object is upright (default z; glTF files "
                        "and many DCC exports are y)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=float, metavar="METRES", help="scale so the longest extent is this many metres")
    size.add_argument("--scale", type=float, metavar="S",
                      help="multiply the mesh's coordinates by S to get metres (0.001 for millimetres; default 1)")
    weight = p.add_mutually_exclusive_group()
    weight.add_argument("--mass", type=float, metavar="KG", help="the object's mass in kg")
    weight.add_argument("--density", type=float, metavar="KG_PER_M3",
                        help=f"the solid's density (default {mass.DEFAULT_DENSITY:g} kg/m3 when --mass is not given)")
    p.add_argument("--collision", choices=collision.KINDS, default="hull",
                   help="hull (default): one convex hull, up to 4 floor contacts, cheapest in MJX, and exact for "
                        "an object on a flat floor (a plane only ever touches the convex hull); decompose: a convex "
                        f"decomposition by CoACD into at most {collision.DECOMPOSE_MAX_PARTS} hulls (more contacts, "
                        "slower; for non-convex objects in arenas with other shapes)")
    p.add_argument("--symmetry", default="auto", metavar="auto|none|SPEC",
                   help="which orientations look alike (their pose errors count as zero): auto (default) finds the "
                        "turns that move the surface (and its colours) by at most "
                        f"{100 * symmetry.TOLERANCE:g} %% of the bounding radius over "
                        f"{symmetry.PERCENTILE:g} %% of it; none: asymmetric; or SPEC to declare them (checked against "
                        "the geometry: a contradiction is a warning). " + symmetry.SPEC_HELP.replace("%", "%%"))
    p.add_argument("--name", help="the object's name (default: the --out folder's name)")
    p.add_argument("--source-note", metavar="TEXT",
                   help="where the mesh comes from and its licence, kept in object.json")
    p.add_argument("--no-preview", action="store_true",
                   help="skip preview.png (renders of the object, upright and at 5 random orientations, by Blender: "
                        "a few seconds)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_import)

    p = osub.add_parser("engine", help="write the built-in engine as an object folder (the default object of every stage)",
                        description="Write the built-in engine's object folder: object.xml byte-identical to "
                                    "orient_jax/assets/engine.xml, its visual.glb, and object.json and preview.png by "
                                    "the importer's own code (drops, torque limit, camera). `--object objects/engine` "
                                    "then runs exactly what a run without --object runs.")
    p.add_argument("--out", default="objects/engine", metavar="DIR", help="the folder to write (default objects/engine)")
    p.add_argument("--no-preview", action="store_true", help="skip preview.png")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_engine)
