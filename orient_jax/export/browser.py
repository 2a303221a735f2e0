"""The browser leg of parity: onnxruntime (Python) vs ONNX Runtime Web (wasm) in headless Chromium.

Self-contained: the harness page lives in `benchmarks/parity/browser/` with its own pinned
onnxruntime-web; a small HTTP server on 127.0.0.1 (started and stopped here) serves the page,
ORT's files and this run's models and inputs; Playwright drives Debian's Chromium with a fresh
empty profile. Nothing is fetched from the network.
"""

from __future__ import annotations

import functools
import http.server
import json
import tempfile
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from orient_jax.errors import UserError
from orient_jax.export import parity as parity_lib
from orient_jax.export.contract import Contract, session

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIR = REPO_ROOT / "benchmarks" / "parity" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BROWSER_BATCHES = (1, 7, 64)


def ort_web_dir() -> tuple[Path, str]:
    """(folder with ort.wasm.min.mjs and its wasm, version): the harness's own install, else web/vendor/."""
    own = HARNESS_DIR / "node_modules" / "onnxruntime-web"
    if (own / "dist" / "ort.wasm.min.mjs").is_file():
        return own / "dist", json.loads((own / "package.json").read_text())["version"]
    vendor = REPO_ROOT / "web" / "vendor" / "onnxruntime-web"
    if (vendor / "ort.wasm.min.mjs").is_file():
        versions = REPO_ROOT / "web" / "vendor" / "VERSIONS.json"
        version = json.loads(versions.read_text()).get("onnxruntime-web", "?") if versions.is_file() else "?"
        return vendor, version
    raise UserError(f"onnxruntime-web is not installed: run `npm ci` in {HARNESS_DIR.relative_to(REPO_ROOT)}")


def available() -> str | None:
    """None when the browser leg can run here, else why not."""
    try:
        import playwright  # noqa: F401
    except ModuleNotFoundError:
        return "the Python package `playwright` is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (scripts/setup_browser.sh installs it)"
    try:
        ort_web_dir()
    except UserError as exc:
        return str(exc)
    return None


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
                      ".bin": "application/octet-stream"}

    def __init__(self, *args, routes: dict[str, Path], **kwargs):
        self.routes = routes
        super().__init__(*args, directory=str(routes[""]), **kwargs)

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, folder in self.routes.items():
            if prefix and path.startswith(f"/{prefix}/"):
                rel = path[len(prefix) + 2:]
                target = (folder / rel).resolve()
                return str(target) if target.is_relative_to(folder.resolve()) else str(folder / "__forbidden__")
        return super().translate_path(path)

    def log_message(self, *args):  # quiet
        pass


class _Server:
    def __init__(self, routes: dict[str, Path]):
        handler = functools.partial(_Handler, routes=routes)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def run_in_browser(jobs: list[dict], data_dir: Path, timeout_s: float = 300.0) -> tuple[list[dict], str]:
    """Run harness jobs (URLs relative to /data/) in headless Chromium; (results, ORT Web version)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    why = available()
    if why:
        raise UserError(f"browser parity unavailable: {why}")
    ort_dir, version = ort_web_dir()
    routes = {"": HARNESS_DIR, "ort": ort_dir, "data": Path(data_dir)}
    console: list[str] = []
    with _Server(routes) as base, tempfile.TemporaryDirectory(prefix="parity-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = ctx.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(f"{base}/index.html")
            try:
                page.wait_for_function("window.harnessReady === true", timeout=60_000)
            except PlaywrightError as exc:
                raise UserError(f"the parity harness did not load: {'; '.join(console) or exc}") from exc
            for job in jobs:
                job["model"] = f"{base}/data/{job['model']}"
                for spec in job["feeds"].values():
                    spec["url"] = f"{base}/data/{spec['url']}"
            try:
                results = page.evaluate("jobs => window.runJobs(jobs)", jobs)
            except PlaywrightError as exc:
                raise UserError(f"ONNX Runtime Web failed: {str(exc).splitlines()[0]} {'; '.join(console)}") from exc
            web_version = page.evaluate("window.ortVersion") or version
        finally:
            ctx.close()
    return results, web_version


def browser_parity(folder: Path, contracts: dict[str, Contract], *, seed: int = 0, dataset_images: np.ndarray | None = None,
                   batches=BROWSER_BATCHES) -> dict:
    """onnxruntime vs ORT Web on the parity cases of each `<name>.onnx` in `folder`."""
    folder = Path(folder)
    n = max(batches)
    with tempfile.TemporaryDirectory(prefix="parity-web-") as tmp:
        data = Path(tmp)
        jobs, plan = [], []
        for name, contract in contracts.items():
            model_file = folder / f"{name}.onnx"
            (data / model_file.name).write_bytes(model_file.read_bytes())
            if contract.kind == "pose":
                size = contract.inputs["image"][1][1]
                cases = parity_lib.pose_cases(size, n, seed, dataset_images)
            else:
                cases = parity_lib.policy_cases(contract.kind == "policy_goal", n, seed, memory=contract.memory)
            sess = session(model_file)
            out_names = list(contract.outputs)
            for case, feeds in cases.items():
                specs = {}
                for k, v in feeds.items():
                    fname = f"{name}-{case}-{k}.bin"
                    (data / fname).write_bytes(np.ascontiguousarray(v, np.float32).tobytes())
                    specs[k] = {"url": fname, "dims": list(v.shape)}
                usable = [b for b in batches if b <= len(next(iter(feeds.values())))]
                jobs.append({"model": model_file.name, "feeds": specs, "batches": usable})
                want = {b: sess.run(out_names, {k: v[:b] for k, v in feeds.items()}) for b in usable}
                plan.append((name, contract.kind, case, out_names, want))
        results, version = run_in_browser(jobs, data)
    report: dict = {"onnxruntime_web": version, "backend": "wasm, 1 thread", "models": {}}
    failures = []
    per_model: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    for (name, kind, case, out_names, want), got in zip(plan, results):
        rows = per_model.setdefault(name, {})
        rows[case] = {}
        for b, refs in want.items():
            cell = got[str(b)]
            outs = [np.asarray(cell["outputs"][o]["data"], np.float32).reshape(cell["outputs"][o]["dims"]) for o in out_names]
            rows[case][str(b)] = parity_lib.errors("policy" if kind != "pose" else "pose", refs[0], outs[0])
            if len(outs) > 1:  # memory_out: what the page feeds back
                rows[case][str(b)].update(parity_lib.memory_errors(refs[1], outs[1]))
            timings.setdefault(name, {}).setdefault(str(b), []).append(cell["ms"])
    for name, rows in per_model.items():
        kind = "pose" if contracts[name].kind == "pose" else "policy"
        summary = parity_lib.summarize(kind, rows)
        summary["ms_median"] = {b: float(np.median(v)) for b, v in timings[name].items()}
        report["models"][name] = summary
        failures += [f"{name}: {f}" for f in summary["failures"]]
    report["failures"] = failures
    report["pass"] = not failures
    return report
