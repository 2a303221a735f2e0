"""Helpers for the browser tests and benchmarks: headless Debian Chromium via Playwright, a
models folder to serve, and the page's server on a free port."""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

MANIFEST = {
    "version": 1,
    "asset": {"mjcf": "engine.xml", "glb": "engine.glb"},
    "physics": {"timestep": 0.005, "control_dt": 0.02, "integrator": "Euler", "action_scale": [3.94, 3.94, 3.94]},
    "camera": {"position": [0.45, -0.45, 0.36], "look_at": [0, 0, 0], "up": [0, 0, 1], "fov_y_deg": 40,
               "width": 128, "height": 128},
    "success": {"tilt_deg": 10, "ang_vel": 0.5, "hold_s": 1.0, "within_s": 10},
    "models": {"pose": {"file": "pose.onnx"}, "policy": {"file": "policy.onnx"}},
    "parity": {},
}


def missing_prerequisites() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing (bash scripts/setup_browser.sh installs it)"
    if not (WEB / "vendor" / "VERSIONS.json").is_file():
        return "web/vendor missing (bash scripts/setup_browser.sh)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def exported_models() -> Path | None:
    """web/public/models when `orient-jax export` has filled it, else the shipped, parity-checked
    export the repo commits (models/export: trained pose model and policies)."""
    for d in (WEB / "public" / "models", REPO / "models" / "export"):
        if all((d / f).is_file() for f in ("manifest.json", "policy.onnx", "pose.onnx")):
            return d
    return None


def build_dev_models(out: Path) -> Path:
    """A models folder from what the repo has: the shipped upright policy, an untrained pose
    net (random weights), engine.xml (and engine.glb when the asset build made one)."""
    import jax2onnx
    from flax import nnx

    from orient_jax.pose.model import PoseNet, PoseNetConfig
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import make_policy_fn

    out.mkdir(parents=True, exist_ok=True)
    net = PoseNet(PoseNetConfig(widths=(8, 16, 32, 32, 64), extra_convs=(), hidden=64), rngs=nnx.Rngs(0))
    net.eval()
    jax2onnx.to_onnx(net, [("N", 128, 128, 3)], model_name="pose", input_names=["image"], output_names=["quat"],
                     return_mode="file", output_path=str(out / "pose.onnx"), export_mode="web")
    policy = make_policy_fn(load_policy(REPO / "models" / "checkpoints" / "upright"))
    jax2onnx.to_onnx(policy, [("N", 4), ("N", 3), ("N", 3)], model_name="policy",
                     input_names=["quat", "ang_vel", "prev_action"], output_names=["action"],
                     return_mode="file", output_path=str(out / "policy.onnx"), export_mode="web")
    for name in ("pose.onnx", "policy.onnx"):
        strip_value_info(out / name)
    shutil.copy(REPO / "orient_jax" / "assets" / "engine.xml", out / "engine.xml")
    manifest = json.loads(json.dumps(MANIFEST))
    glb = REPO / "orient_jax" / "assets" / "engine.glb"
    if glb.is_file():
        shutil.copy(glb, out / "engine.glb")
    else:
        manifest["asset"].pop("glb")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def strip_value_info(path: Path) -> None:
    """Drop intermediate shape annotations. jax2onnx 0.17.1 writes NHWC shapes on tensors its
    conv lowering keeps in NCHW; Python onnxruntime 1.32 merges leniently, onnxruntime-web 1.30
    refuses the model ("Can't merge shape info"). The shapes are re-inferred at load."""
    import onnx

    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(path))


@contextlib.contextmanager
def browser(webgpu: bool = False, pw=None):
    """A headless Chromium context (persistent, empty profile); yields the context. Pass `pw`
    (a running sync Playwright) to open a second browser beside a first one."""
    from playwright.sync_api import sync_playwright

    args = CHROMIUM_ARGS + (["--enable-unsafe-webgpu"] if webgpu else [])
    with contextlib.ExitStack() as stack:
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="orient-chromium-"))
        if pw is None:
            pw = stack.enter_context(sync_playwright())
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=args,
                                                    viewport={"width": 1200, "height": 760})
        try:
            yield ctx
        finally:
            ctx.close()


def open_page(ctx, url: str, timeout_s: float = 60.0, expect_error: bool = False):
    """Open the page; wait for orientApp.ready (or .error). Returns (page, console errors list)."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(url)
    page.wait_for_function("window.orientApp && (window.orientApp.ready || window.orientApp.error)",
                           timeout=timeout_s * 1000)
    if not expect_error:
        err = page.evaluate("window.orientApp.error")
        assert err is None, f"page error: {err}; console: {errors}"
    return page, errors


def episodes(page, n: int, obs: str) -> dict:
    """n seeded random starts (the page's ?seed= sequence) with the policy seeing `obs`."""
    page.evaluate(f"orientApp.setObservation('{obs}')")
    page.evaluate("orientApp.setMode('policy')")
    ok, times = 0, []
    for _ in range(n):
        page.evaluate("orientApp.reset()")
        s = page.evaluate("orientApp.debug.run(520, {untilDone: true})")
        if s["success"]:
            ok += 1
            times.append(s["successT"])
    return {"episodes": n, "success_rate": ok / n,
            "time_to_success_median_s": statistics.median(times) if times else None}


def push_recovery(page, n: int, impulse: float, seed: int, obs: str, within_s: float = 5.0) -> dict:
    """Upright and still, then a shove: an angular impulse of `impulse` N m s about a random
    horizontal axis, delivered as a torque over 0.1 s while the policy acts (contacts act on it
    too; 3 N m s throws the engine onto a side or its top). Recovered: success (held 1 s)
    declared within `within_s` of the push."""
    rng = np.random.default_rng(seed)
    page.evaluate(f"orientApp.setObservation('{obs}')")
    page.evaluate("orientApp.setMode('policy')")
    ok, peaks, times = 0, [], []
    for _ in range(n):
        page.evaluate("orientApp.reset([0, 0, 0, 1])")
        page.evaluate("orientApp.debug.run(50)")  # settle upright
        axis = np.array([*rng.normal(size=2), 0.0])
        axis *= impulse / np.linalg.norm(axis)
        page.evaluate("([a]) => { orientApp.debug.restartEpisode(); orientApp.debug.push(a); }", [axis.tolist()])
        peak, s = 0.0, None
        while True:  # 0.1 s chunks: the peak tilt shows how hard the push was
            s = page.evaluate("orientApp.debug.run(5)")
            peak = max(peak, s["tiltDeg"])
            if s["success"] or s["t"] >= within_s - 1e-9:
                break
        peaks.append(peak)
        if s["success"] and s["successT"] <= within_s + 1e-9:
            ok += 1
            times.append(s["successT"])
    return {"pushes": n, "angular_impulse_Nms": impulse, "pulse_s": 0.1, "within_s": within_s, "obs": obs,
            "recovery_rate": ok / n, "peak_tilt_median_deg": float(np.median(peaks)),
            "peak_tilt_over_45deg": float(np.mean(np.array(peaks) > 45)),
            "recovery_time_median_s": statistics.median(times) if times else None}
