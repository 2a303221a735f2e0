"""The whole pipeline at the `tiny` preset (real Blender, training, export, parity, bundle),
its cache, deploy to a directory / over rsync / to nginx, and the page served from the bundle."""

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

from orient_jax.errors import UserError
from orient_jax.pipeline import deploy as deploy_lib
from orient_jax.pipeline.run import run_pipeline
from orient_jax.pipeline.stages import sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.blender]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if not (REPO / "web" / "vendor" / "VERSIONS.json").is_file():
        pytest.fail("web/vendor missing: run bash scripts/setup_browser.sh (scripts/test.sh does)")
    import sys
    sys.path.insert(0, str(REPO / "benchmarks"))
    from pipeline_faults import run_with_kills

    # The short form of the fault benchmark: SIGKILL the pipeline twice at random points, resume,
    # and verify every recorded hash, every shard and the bundle (raises on any mismatch).
    root = tmp_path_factory.mktemp("pipeline")
    logs: list[str] = []
    report = run_with_kills(root / "run", "tiny", kills=2, seed=0, max_delay_s=40.0, log=logs.append)
    assert report["verification"]["images_verified"] == 96, report
    return root, root / "run" / "dist", logs


def test_pipeline_runs_every_stage_and_records_it(tiny_run):
    root, dist, logs = tiny_run
    manifest = json.loads((root / "run" / "manifest.json").read_text())
    stages = manifest["stages"]
    assert set(stages) == {"render_train", "render_val", "train_pose", "eval_pose", "train_policy", "export", "bundle"}
    for name, record in stages.items():
        assert record["status"] == "done", name
        assert record["outputs"] and record["duration_s"] >= 0
    assert manifest["versions"]["bpy"] and manifest["versions"]["jax2onnx"]
    # The bundle: the page and models whose hashes match the models manifest.
    models = json.loads((dist / "public" / "models" / "manifest.json").read_text())
    for entry in models["models"].values():
        assert sha256_file(dist / "public" / "models" / entry["file"]) == entry["sha256"]
    assert (dist / "index.html").is_file() and (dist / "_headers").is_file()
    policy = json.loads((root / "run" / "train_policy" / "policy" / "policy.json").read_text())
    # The policy trained against the error model the pose evaluation wrote, and carries a copy.
    assert policy["env_config"]["noise"]["model_path"] == "pose_error_model.json"
    assert ((root / "run" / "train_policy" / "policy" / "pose_error_model.json").read_bytes()
            == (root / "run" / "eval_pose" / "pose_error_model.json").read_bytes())


def test_second_run_is_a_no_op(tiny_run):
    root, _, _ = tiny_run
    logs: list[str] = []
    t0 = time.perf_counter()
    run_pipeline("tiny", root / "run", until="bundle", log=logs.append)
    assert all("cached" in line for line in logs), logs
    assert time.perf_counter() - t0 < 60


def test_failing_stage_stops_with_its_name_and_the_next_run_resumes(tiny_run, tmp_path, monkeypatch):
    root, _, _ = tiny_run
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
        run_pipeline("tiny", run, until="bundle", log=logs.append)
    assert json.loads((run / "manifest.json").read_text())["stages"]["export"]["status"] == "failed"
    assert not (run / "export" / "stage.json").exists()
    assert any("[train_pose] cached" in line for line in logs)

    monkeypatch.setattr(gate, "export_models", real_export)
    logs.clear()
    run_pipeline("tiny", run, until="bundle", log=logs.append)
    ran = [line.split("]")[0][1:] for line in logs if line.endswith("running")]
    assert ran and ran[0] == "export" and set(ran) <= {"export", "bundle"}, logs  # resumed at the failed stage
    assert json.loads((run / "manifest.json").read_text())["stages"]["export"]["status"] == "done"


def test_deploy_to_a_directory_is_atomic_and_refuses_a_broken_bundle(tiny_run, tmp_path):
    _, dist, _ = tiny_run
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
    _, dist, _ = tiny_run
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

    _, dist, _ = tiny_run
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
            page, errors = wh.open_page(ctx, url + "?seed=1&physics=lockstep&obs=truth")
            page.wait_for_function("orientApp.state().t > 0.2", timeout=60_000)
            assert page.evaluate("crossOriginIsolated") is True
            assert errors == [], errors
    finally:
        proc.terminate()
        proc.wait(10)
