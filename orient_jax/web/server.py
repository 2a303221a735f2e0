"""A static file server for the browser client (`orient-jax serve`).

Standard library only. What plain `python -m http.server` lacks and the page needs:
- MIME types: `.mjs`/`.js` as text/javascript (module scripts are refused otherwise),
  `.wasm` as application/wasm (streaming compilation), `.onnx`, `.glb`, `.json`, `.xml`;
- cross-origin isolation (COOP same-origin + COEP require-corp, and CORP on every response),
  so `SharedArrayBuffer` exists and ONNX Runtime Web can use threads;
- a models folder mounted at `/models/` from anywhere on disk;
- no path outside the served folders: `..`, its percent-encodings and symlinks that lead out
  are refused (403), before any file is opened.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
import urllib.parse
from pathlib import Path

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".data": "application/octet-stream",
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".xml": "application/xml",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".map": "application/json",
}

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}

MODELS_PREFIX = "/models/"


class Forbidden(Exception):
    pass


def resolve(url_path: str, root: Path, models: Path | None) -> Path:
    """URL path -> file under `root` (or under `models` for /models/...); raises Forbidden for
    anything that would leave its folder (.., encoded dots, backslashes, symlinks out)."""
    path = urllib.parse.unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    if "\x00" in path or "\\" in path:
        raise Forbidden(path)
    parts = [p for p in path.split("/") if p]
    if ".." in parts:
        raise Forbidden(path)
    parts = [p for p in parts if p != "."]
    base = root
    if models is not None and (path + "/").startswith(MODELS_PREFIX):
        base, parts = models, parts[1:]
    base = base.resolve()
    target = base.joinpath(*parts) if parts else base
    real = target.resolve()  # follows symlinks
    if real != base and base not in real.parents:
        raise Forbidden(path)
    return real


class Handler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler with the page's MIME types, isolation headers and a jail."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def __init__(self, *args, root: Path, models: Path | None, quiet: bool = False, **kwargs):
        self.root, self.models, self.quiet = root, models, quiet
        super().__init__(*args, directory=str(root), **kwargs)

    def translate_path(self, path: str) -> str:
        return str(resolve(path, self.root, self.models))

    def send_head(self):
        try:
            self.translate_path(self.path)
        except Forbidden:
            self.send_error(403, "Forbidden: outside the served folder")
            return None
        return super().send_head()

    def list_directory(self, path):  # no directory listings
        self.send_error(404, "Not found")
        return None

    def end_headers(self):
        for k, v in ISOLATION_HEADERS.items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def guess_type(self, path):
        return MIME_TYPES.get(os.path.splitext(path)[1].lower()) or super().guess_type(path)

    def log_message(self, format, *args):
        if not self.quiet:
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(root: Path, models: Path | None = None, host: str = "127.0.0.1", port: int = 8000,
                quiet: bool = False) -> Server:
    """A server for `root` (and `models` at /models/); port 0 picks a free port."""
    root = Path(root).resolve()
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} has no index.html")
    if models is not None:
        models = Path(models).resolve()
        if not models.is_dir():
            raise FileNotFoundError(f"models folder {models} does not exist")
    handler = functools.partial(Handler, root=root, models=models, quiet=quiet)
    return Server((host, port), handler)


def url_of(server: Server, query: str = "") -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/{query}"


@contextlib.contextmanager
def serving(root: Path, models: Path | None = None, host: str = "127.0.0.1", port: int = 0):
    """Serve in a background thread for the duration of the block; yields the server."""
    server = make_server(root, models, host, port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def models_query(models: Path) -> str | None:
    """The page's query for a folder mounted at /models/: its gallery when it has one
    (gallery.json), else the folder itself (manifest.json); None when it has neither."""
    if (Path(models) / "gallery.json").is_file():
        return "?gallery=/models/gallery.json"
    if (Path(models) / "manifest.json").is_file():
        return "?models=/models/"
    return None


def serve_until_interrupted(server: Server) -> None:
    """Serve until Ctrl-C, then close the socket."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """Run as a file (`python3 orient_jax/web/server.py`): the demo serves the committed models
    with any Python 3, before (or without) the training stack is installed."""
    import argparse
    import sys

    repo = Path(__file__).resolve().parent.parent.parent
    parser = argparse.ArgumentParser(description="Serve the browser client with the headers it needs.")
    parser.add_argument("--root", default=str(repo / "web"), help="folder with index.html (default: web/)")
    parser.add_argument("--models", default=str(repo / "models"),
                        help="folder mounted at /models/: a models folder (manifest.json) or a gallery's "
                             "(gallery.json; default: the committed models/, every shipped object)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    args = parser.parse_args(argv)
    root, models = Path(args.root), Path(args.models)
    if not (root / "vendor" / "VERSIONS.json").is_file():
        print(f"error: {root / 'vendor' / 'VERSIONS.json'} is missing: run `bash scripts/setup_browser.sh`", file=sys.stderr)
        return 2
    query = models_query(models)
    if query is None:
        print(f"error: {models} has neither manifest.json nor gallery.json: export one with `orient-jax export`",
              file=sys.stderr)
        return 2
    try:
        server = make_server(root, models, args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"serving {root.resolve()} (models: {models.resolve()} at /models/)")
    print(f"open {url_of(server, query)}", flush=True)
    serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
