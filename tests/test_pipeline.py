"""The whole pipeline at the `tiny` preset (real Blender, training, export, parity, bundle) for an
imported object (the wedge of `object_helpers.py`: the engine is one object among others, and
this run covers what is object-specific too), SIGKILLed twice and resumed; its cache; deploy to
a directory / over rsync / to nginx, the page served from the bundle; a gallery bundle of the
engine and the object behind the page's picker."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from cli_helpers import run_cli
from object_helpers import import_wedge
from orient_jax import object_ref
from orient_jax.errors import UserError
from orient_jax.pipeline import deploy as deploy_lib
from orient_jax.pipeline.run import run_pipeline
from orient_jax.pipeline.stages import sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.blender]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(base folder, bundle, kill log, object folder); the run folder is base / "run"."""
    if not (REPO / "web" / "vendor" / "VERSIONS.json").is_file():
        pytest.fail("web/vendor missing: run bash scripts/setup_browser.sh (scripts/test.sh does)")
    import sys
    sys.path.insert(0, str(REPO / "benchmarks"))
    from pipeline_faults import run_with_kills

    # The short form of the fault benchmark: SIGKILL the pipeline twice at random points, resume,
    # and verify every recorded hash, every shard and the bundle (raises on any mismatch).
    root = tmp_path_factory.mktemp("pipeline")
    wedge = import_wedge(root)
    logs: list[str] = []
    report = run_with_kills(root / "run", "tiny", kills=2, seed=0, max_delay_s=40.0, log=logs.append, object_dir=wedge)
    assert report["verification"]["images_verified"] == 96, report
    return root, root / "run" / "dist", logs, wedge


def test_pipeline_runs_every_stage_and_records_it(tiny_run):
    root, dist, logs, wedge = tiny_run
    obj = object_ref.resolve(wedge)
    manifest = json.loads((root / "run" / "manifest.json").read_text())
    stages = manifest["stages"]
    assert set(stages) == {"render_train", "render_val", "train_pose", "eval_pose", "train_policy", "export", "bundle"}
    for name, record in stages.items():
        assert record["status"] == "done", name
        assert record["outputs"] and record["duration_s"] >= 0
    assert manifest["versions"]["bpy"] and manifest["versions"]["jax2onnx"]
    # Every stage that depends on the object has its files among its inputs.
    assert manifest["config"]["object"] == obj.record()
    digests = {sha256_file(p) for p in obj.files}
    for name in ("train_policy", "export"):
        assert digests <= set(stages[name]["inputs"].values()), name
    for name in ("render_train", "render_val"):  # the look, not the physics
        assert set(stages[name]["inputs"].values()) == {sha256_file(obj.glb)}, name
    for split in ("render_train", "render_val"):  # renders of the object, from its camera
        data = json.loads((root / "run" / split / "data" / "manifest.json").read_text())
        assert data["object"]["name"] == "wedge" and data["camera"] == obj.camera
    # The policy trained on the object's MJCF against the error model the pose evaluation
    # wrote, and carries a copy of both.
    policy = json.loads((root / "run" / "train_policy" / "policy" / "policy.json").read_text())
    assert policy["mjcf"] == "object.xml" and policy["env_config"]["noise"]["model_path"] == "pose_error_model.json"
    assert ((root / "run" / "train_policy" / "policy" / "pose_error_model.json").read_bytes()
            == (root / "run" / "eval_pose" / "pose_error_model.json").read_bytes())
    # The bundle: the page and the object's models, hashes verified.
    manifest = deploy_lib.check_bundle(dist)
    models = dist / "public" / "models"
    for entry in manifest["models"].values():
        assert sha256_file(models / entry["file"]) == entry["sha256"]
    assert (dist / "index.html").is_file() and (dist / "_headers").is_file()
    assert manifest["asset"]["mjcf"] == "object.xml" and (models / "object.glb").read_bytes() == obj.glb.read_bytes()
    assert manifest["object"]["name"] == "wedge" and manifest["camera"] == obj.camera
    assert manifest["models"]["pose"]["trained"] and "policy_goal" not in manifest["models"]
    assert manifest["parity"]["pass"]


def test_second_run_is_a_no_op(tiny_run):
    root, _, _, wedge = tiny_run
    logs: list[str] = []
    t0 = time.perf_counter()
    run_pipeline("tiny", root / "run", until="bundle", log=logs.append, object_dir=wedge)
    assert all("cached" in line for line in logs), logs
    assert time.perf_counter() - t0 < 60


def test_failing_stage_stops_with_its_name_and_the_next_run_resumes(tiny_run, tmp_path, monkeypatch):
    root, _, _, wedge = tiny_run
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    (run / "export" / "stage.json").unlink()  # the export must run again
    from orient_jax.export import gate

    real_export = gate.export_models

    def failing_export(*args, **kwargs):
        raise UserError("parity policy: action max abs 3e-02 > 1e-05")  # an injected gate failure

    monkeypatch.setattr(gate, "export_models", failing_export)
    logs: list[str] = []
    with pytest.raises(UserError, match=r"stage 'export' failed \(inputs: .*train_policy/policy.*\): parity policy"):
        run_pipeline("tiny", run, until="bundle", log=logs.append, object_dir=wedge)
    assert json.loads((run / "manifest.json").read_text())["stages"]["export"]["status"] == "failed"
    assert not (run / "export" / "stage.json").exists()
    assert any("[train_pose] cached" in line for line in logs)

    monkeypatch.setattr(gate, "export_models", real_export)
    logs.clear()
    run_pipeline("tiny", run, until="bundle", log=logs.append, object_dir=wedge)
    ran = [line.split("]")[0][1:] for line in logs if line.endswith("running")]
    assert ran and ran[0] == "export" and set(ran) <= {"export", "bundle"}, logs  # resumed at the failed stage
    assert json.loads((run / "manifest.json").read_text())["stages"]["export"]["status"] == "done"


def test_deploy_to_a_directory_is_atomic_and_refuses_a_broken_bundle(tiny_run, tmp_path):
    _, dist, _, _ = tiny_run
    target = tmp_path / "site"
    deploy_lib.deploy(dist, str(target), log=lambda m: None)
    assert (target / "index.html").read_bytes() == (dist / "index.html").read_bytes()
    broken = tmp_path / "broken"
    shutil.copytree(dist, broken)
    (broken / "public" / "models" / "policy.onnx").write_bytes(b"not a model")
    before = sha256_file(target / "public" / "models" / "policy.onnx")
    with pytest.raises(UserError, match="policy.onnx does not match its sha256"):
        deploy_lib.deploy(broken, str(target), log=lambda m: None)
    assert sha256_file(target / "public" / "models" / "policy.onnx") == before


def test_deploy_over_rsync_remote_shell(tiny_run, tmp_path):
    """`host:PATH` goes through rsync's remote shell; a local stand-in for ssh runs the far side."""
    if not shutil.which("rsync"):
        pytest.fail("rsync missing (scripts/setup_browser.sh installs it)")
    _, dist, _, _ = tiny_run
    fake_ssh = tmp_path / "fake-ssh"
    # ssh's arguments are [options] host command: drop up to the host, run the command here.
    fake_ssh.write_text('#!/bin/sh\nwhile [ "$1" != example.invalid ]; do shift; done\nshift\nexec sh -c "$*"\n')
    fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IEXEC)
    os.environ["RSYNC_RSH"] = str(fake_ssh)
    try:
        deploy_lib.deploy(dist, f"deploy@example.invalid:{tmp_path / 'remote'}", log=lambda m: None)
    finally:
        del os.environ["RSYNC_RSH"]
    assert (tmp_path / "remote" / "public" / "models" / "manifest.json").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_page_from_the_bundle_served_by_nginx(tiny_run, tmp_path):
    if not shutil.which("nginx"):
        pytest.fail("nginx missing (scripts/setup_browser.sh installs it)")
    import web_helpers as wh

    _, dist, _, _ = tiny_run
    port = _free_port()
    site = tmp_path / "site"
    deploy_lib.deploy(dist, str(site), nginx_port=port, log=lambda m: None)
    conf = tmp_path / "nginx.conf"
    # Workers run as this user: pytest's private temp folders are unreadable to www-data.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""{user} daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{}}
http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};
fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};
include {site}/nginx.conf; }}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        last_error = None
        for _ in range(100):
            try:
                response = urllib.request.urlopen(url + "vendor/VERSIONS.json", timeout=1)
                break
            except OSError as exc:
                last_error = exc
                time.sleep(0.1)
        else:
            log = (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else ""
            pytest.fail(f"nginx did not serve the page: {last_error}; exit {proc.poll()}; {log[-2000:]}")
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        wasm = next((site / "vendor").rglob("*.wasm")).relative_to(site)
        assert urllib.request.urlopen(url + str(wasm)).headers["Content-Type"] == "application/wasm"
        with wh.browser() as ctx:
            page, errors = wh.open_page(ctx, url + "?seed=1")
            page.wait_for_function("orientApp.state().t > 0.5", timeout=60_000)
            assert page.evaluate("crossOriginIsolated") is True
            # The object's MJCF and mesh (the manifest's `asset`), pose model, policy and physics.
            fetched = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
            assert any(u.endswith("/models/object.xml") for u in fetched), fetched
            assert any(u.endswith("/models/object.glb") for u in fetched), fetched
            assert not any("engine." in u for u in fetched), fetched
            assert "no policy_goal.onnx" in page.evaluate("document.body.innerText")
            assert page.evaluate("document.title").endswith("wedge")
            assert page.evaluate("document.getElementById('object-picker').hidden")  # one object: no picker
            assert errors == [], errors
    finally:
        proc.terminate()
        proc.wait(10)


GALLERY_STATE = """() => ({name: document.getElementById('object-name').textContent,
    picker: [...document.querySelectorAll('#object-picker option')].map((o) => o.value),
    mjcf: window.orientApp.manifest && window.orientApp.manifest.asset.mjcf,
    error: window.orientApp.error ? String(window.orientApp.error) : null})"""


@pytest.mark.browser
def test_a_gallery_bundle_shows_every_object_behind_a_picker(tiny_run, tmp_path):
    """`orient-jax bundle --models A --models B`: one page, the first object by default, a picker
    and ?object=NAME for the others, each with its own MJCF; an unknown name is one error line."""
    import web_helpers as wh
    from orient_jax.pipeline import gallery
    from orient_jax.pipeline.deploy import check_bundle
    from orient_jax.web import server as srv

    root, _, _, _ = tiny_run
    models = root / "run" / "export" / "models"
    dist = tmp_path / "dist"
    out = run_cli("bundle", "--models", str(REPO / "models" / "export"), "--models", str(models), "--out", str(dist))
    assert out.returncode == 0 and "engine, wedge" in out.stdout, out.stderr[-2000:]
    assert [n for n, _ in gallery.read(dist / "public" / "gallery.json")] == ["engine", "wedge"]
    assert check_bundle(dist)["object"]["name"] == "engine"
    (dist / "public" / "objects" / "wedge" / "policy.onnx").write_bytes(b"changed")  # every object is checked
    with pytest.raises(UserError, match="policy.onnx does not match"):
        check_bundle(dist)
    run_cli("bundle", "--models", str(REPO / "models" / "export"), "--models", str(models), "--out", str(dist))
    # Bad galleries: one line each, nothing written.
    twice = run_cli("bundle", "--models", str(models), "--models", str(models), "--out", str(tmp_path / "twice"))
    assert twice.returncode == 2 and "ship the object 'wedge'" in twice.stderr and not (tmp_path / "twice").exists()
    both = run_cli("bundle", "--models", str(models), "--gallery", str(dist / "public" / "gallery.json"),
                   "--out", str(tmp_path / "both"))
    assert both.returncode == 2 and "not both" in both.stderr
    with srv.serving(dist) as server, wh.browser() as ctx:
        page, errors = wh.open_page(ctx, srv.url_of(server, "?seed=1&physics=paused"))
        assert page.evaluate(GALLERY_STATE) == {"name": "engine", "picker": ["engine", "wedge"], "mjcf": "engine.xml",
                                                "error": None}
        page.select_option("#object-picker", "wedge")  # reloads with ?object=wedge, the other parameters kept
        page.wait_for_function("() => window.orientApp && window.orientApp.ready", timeout=60_000)
        assert "object=wedge" in page.url and "seed=1" in page.url
        assert page.evaluate(GALLERY_STATE)["mjcf"] == "object.xml"
        assert page.evaluate("document.title").endswith("wedge") and errors == [], errors
        page, _ = wh.open_page(ctx, srv.url_of(server, "?object=nope"), expect_error=True)
        assert "?object=nope: not in the gallery; it has engine, wedge" in page.evaluate(GALLERY_STATE)["error"]
