"""`orient-jax serve`: serve the browser client (web/) with the headers it needs."""

from __future__ import annotations

from pathlib import Path

from orient_jax.errors import UserError

REPO = Path(__file__).resolve().parent.parent.parent


def cmd_serve(args) -> int:
    from orient_jax.web import server as srv

    root = Path(args.root)
    if not (root / "index.html").is_file():
        raise UserError(f"{root} has no index.html (--root should be the web/ folder)")
    if not (root / "vendor" / "VERSIONS.json").is_file():
        raise UserError(f"{root / 'vendor'} is missing: run `bash scripts/setup_browser.sh` "
                        "(or `npm ci && node scripts/vendor.mjs` in web/)")
    models = Path(args.models) if args.models else None
    query = srv.models_query(models) if models is not None else ""
    if query is None:
        raise UserError(f"{models} has neither manifest.json nor gallery.json (fill it with `orient-jax export --out {models}`)")
    try:
        server = srv.make_server(root, models, args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"serving {root.resolve()}" + (f" (models: {models.resolve()} at /models/)" if models else ""))
    print(f"open {srv.url_of(server, query)}", flush=True)
    srv.serve_until_interrupted(server)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve the browser client (web/) with COOP/COEP headers")
    p.add_argument("--root", default=str(REPO / "web"), help="folder with index.html (default: the repo's web/)")
    p.add_argument("--models", help="folder to mount at /models/: a models folder (manifest.json, *.onnx, the "
                                    "object's MJCF and glb) or a gallery's (gallery.json, e.g. models/) "
                                    "(default: the page loads web/public/)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.set_defaults(func=cmd_serve)
