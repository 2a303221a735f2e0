"""`orient-jax serve`'s server (no browser): MIME types, isolation headers, and the jail."""

from __future__ import annotations

import http.client
import os

import pytest

from orient_jax.web.server import serving


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    (root / "src").mkdir()
    (root / "src" / "app.mjs").write_text("export const x = 1;")
    (root / "a.wasm").write_bytes(b"\0asm\1\0\0\0")
    models = tmp_path_factory.mktemp("models")
    (models / "manifest.json").write_text('{"version": 1}')
    (models / "pose.onnx").write_bytes(b"onnx")
    (models / "engine.glb").write_bytes(b"glTF")
    (models / "engine.xml").write_text("<mujoco/>")
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, root / "escape.txt")
    os.symlink(secret.parent, root / "escape_dir")
    with serving(root, models) as server:
        yield server.server_address[1]


def get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)  # http.client sends the path as given (no normalization)
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res.status, res.msg, body  # res.msg: headers, case-insensitive


@pytest.mark.parametrize("path,mime", [
    ("/", "text/html"), ("/src/app.mjs", "text/javascript"), ("/a.wasm", "application/wasm"),
    ("/models/manifest.json", "application/json"), ("/models/pose.onnx", "application/octet-stream"),
    ("/models/engine.glb", "model/gltf-binary"), ("/models/engine.xml", "application/xml"),
])
def test_serves_with_mime_types_and_isolation_headers(site, path, mime):
    status, headers, _ = get(site, path)
    assert status == 200
    assert headers["Content-Type"].startswith(mime)
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/src/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/models/../index.html", "/models/%2e%2e/index.html", "/..%5csecret.txt", "/escape.txt", "/escape_dir/secret.txt",
])
def test_refuses_paths_outside_its_folders(site, path):
    status, _, body = get(site, path)
    assert status in (403, 404), (path, status)
    assert b"secret" not in body


def test_no_directory_listing(site):
    status, _, _ = get(site, "/src/")
    assert status == 404


def test_the_demo_serves_the_committed_bundle_with_any_python(tmp_path):
    """`bash scripts/demo.sh` runs the server as a plain file (no package import, so no jax or
    mujoco): it serves every committed object (models/gallery.json) with the page's headers,
    and a folder with neither a manifest nor a gallery is one `error:` line."""
    import json
    import re
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    server = repo / "orient_jax" / "web" / "server.py"
    web = tmp_path / "web"
    (web / "vendor").mkdir(parents=True)
    (web / "vendor" / "VERSIONS.json").write_text("{}")
    (web / "index.html").write_text("<!doctype html><title>demo</title>")
    # -S -I: no site-packages, isolated: only the standard library is importable.
    proc = subprocess.Popen([sys.executable, "-S", "-I", str(server), "--root", str(web), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        url = re.search(r"open (http://127\.0\.0\.1:(\d+)/\S*)", lines[1])
        assert url and url.group(1).endswith("?gallery=/models/gallery.json"), lines
        status, headers, body = get(int(url.group(2)), "/models/gallery.json")
        assert status == 200 and headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        gallery = json.loads(body)
        assert gallery["objects"][0] == {"name": "engine", "models": "export/"}
        for entry in gallery["objects"]:  # every committed object's manifest is served
            status, _, body = get(int(url.group(2)), f"/models/{entry['models']}manifest.json")
            assert status == 200 and json.loads(body)["object"]["name"] == entry["name"]
            assert body == (repo / "models" / entry["models"] / "manifest.json").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = subprocess.run([sys.executable, "-S", "-I", str(server), "--root", str(web), "--models", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and out.stderr.startswith("error:") and len(out.stderr.strip().splitlines()) == 1
