"""`orient-jax pipeline`, `orient-jax bundle`, `orient-jax deploy`."""

from __future__ import annotations

from pathlib import Path

from orient_jax.errors import UserError

DEFAULT_GALLERY = "models/gallery.json"


def cmd_pipeline(args) -> int:
    from orient_jax.pipeline.run import run_pipeline

    obj = None
    if args.object:  # checked before any stage runs, and names the default run folder
        from orient_jax.pipeline.run import check_object

        obj = check_object(args.object)
    root = Path(args.root or f"runs/pipeline-{args.preset}" + (f"-{obj.name}" if obj else ""))
    out = run_pipeline(args.preset, root, workers=args.workers, until=args.until,
                       dist=None if args.until else Path(args.dist), object_dir=args.object,
                       render_overrides=tuple(args.render_set or ()), pose_init=args.pose_init,
                       pose_overrides=tuple(args.pose_set or ()), policy_overrides=tuple(args.policy_set or ()))
    print(f"run manifest: {root / 'manifest.json'}")
    if args.until:
        print(f"stopped after stage {args.until}: {out}")
        return 0
    print(f"bundle: {out} (deploy it with `orient-jax deploy --bundle {out} --to DIR|user@host:PATH`)")
    if args.no_serve:
        return 0
    from orient_jax.web import server as srv

    server = srv.make_server(out, None, "127.0.0.1", args.port)
    print(f"serving the page: open {srv.url_of(server)}  (Ctrl-C stops)", flush=True)
    srv.serve_until_interrupted(server)
    return 0


def cmd_bundle(args) -> int:
    from orient_jax.pipeline import gallery
    from orient_jax.pipeline.run import build_bundle

    if args.gallery and args.models:
        raise UserError("give --models or --gallery, not both")
    if args.models:
        folders = [Path(m) for m in args.models]
    elif args.gallery or Path(DEFAULT_GALLERY).is_file():
        folders = [m for _, m in gallery.read(Path(args.gallery or DEFAULT_GALLERY))]
    else:
        folders = [Path("models/export")]
    obj = None
    if args.object:
        from orient_jax import object_ref

        obj = object_ref.resolve(args.object)
    out = build_bundle(folders, Path(args.out), obj)
    print(f"bundle written to {out}: {', '.join(name for name, _ in gallery.entries(folders))}")
    return 0


def cmd_deploy(args) -> int:
    from orient_jax.pipeline.deploy import deploy

    where = deploy(Path(args.bundle), args.to, nginx_port=args.nginx_port)
    print(f"deployed to {where}")
    if args.nginx_port is not None and ":" not in args.to:
        print(f"nginx server block: {Path(where) / 'nginx.conf'} (include it from /etc/nginx/sites-enabled/)")
    return 0


def register(sub) -> None:
    from orient_jax.pipeline.run import PRESETS

    p = sub.add_parser("pipeline", help="data -> pose -> error model -> policy -> export + parity -> bundle -> serve",
                       description="Run the whole product: render the datasets, train and evaluate the pose model, "
                                   "train the policy against the pose model's measured errors, export both to ONNX "
                                   "behind the parity gate, bundle the static page and serve it. Every stage is "
                                   "cached by the hash of its config and inputs; rerun the same command to resume.")
    p.add_argument("--preset", default="cpu-quick", help=f"scale: one of {', '.join(PRESETS)} (default cpu-quick, ~41 min on 2 cores)")
    p.add_argument("--object", metavar="DIR",
                   help="an object folder (`orient-jax object import MESH --out DIR`) to run every stage for: its renders, "
                        "pose model, policy, export and page (default: the built-in engine)")
    p.add_argument("--root", help="run folder: one subfolder per stage + manifest.json (default runs/pipeline-PRESET, "
                                  "runs/pipeline-PRESET-NAME for --object)")
    p.add_argument("--workers", type=int, help="render processes (default: one per CPU core)")
    p.add_argument("--until", help="stop after this stage (render_train, render_val, train_pose, eval_pose, train_policy, "
                                   "[train_goal,] export, bundle)")
    p.add_argument("--dist", default="dist", help="where the finished bundle is copied (default dist/)")
    p.add_argument("--port", type=int, default=8000, help="port of the page server on 127.0.0.1 (default 8000)")
    p.add_argument("--no-serve", action="store_true", help="stop after building the bundle")
    p.add_argument("--render-set", action="append", metavar="KEY=VALUE",
                   help="override a dataset config value of both renders, as `data render --set` does (repeat it), "
                        "e.g. dr.light_families=studio,sky or dr.blur_px=0")
    p.add_argument("--pose-set", action="append", metavar="KEY=VALUE",
                   help="override a pose training config value of the preset, as `train-pose --set` does (repeat it), "
                        "e.g. steps=2400 or learning_rate=1e-3")
    p.add_argument("--policy-set", action="append", metavar="KEY=VALUE",
                   help="override a PPO config value of the preset's policies, as `train --set ppo.KEY=VALUE` does "
                        "(repeat it), e.g. total_steps=3000000")
    p.add_argument("--pose-init", metavar="MODEL|none",
                   help="the pose model whose weights start the pose training (default: the shipped engine pose model, "
                        "models/checkpoints/pose, except for the tiny preset's smaller net); 'none' trains from scratch")
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("bundle", help="assemble the static page and a models folder into one deployable folder")
    p.add_argument("--models", action="append", metavar="DIR",
                   help="a models folder from `orient-jax export`; repeat it for a gallery (the first is the "
                        "page's default object, a picker and ?object=NAME show the others)")
    p.add_argument("--gallery", metavar="FILE",
                   help=f"a gallery.json listing models folders (default: {DEFAULT_GALLERY}, the committed "
                        "engine and imported objects, when neither option is given; else models/export)")
    p.add_argument("--out", default="dist", help="bundle folder (default dist/)")
    p.add_argument("--object", metavar="DIR", help="check that the first models folder ships this object folder's MJCF")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("deploy", help="copy the bundle to a directory or over ssh (rsync), with nginx/_headers configs",
                       description="Checks the bundle (page + models whose sha256 match the manifest), writes _headers "
                                   "(COOP/COEP + MIME types for static hosts), then copies it: to a local directory "
                                   "(swapped in atomically) or to [user@]host:PATH with rsync over ssh.")
    p.add_argument("--to", required=True, help="destination: a directory, or [user@]host:PATH")
    p.add_argument("--bundle", default="dist", help="the bundle to deploy (default dist/)")
    p.add_argument("--nginx-port", type=int, help="also write nginx.conf serving the deployed folder on 127.0.0.1:PORT")
    p.set_defaults(func=cmd_deploy)
