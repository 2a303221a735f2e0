"""Helpers for the browser tests and benchmarks: headless Debian Chromium via Playwright, a
models folder to serve, and the page's server on a free port."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

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
    """web/public/models when `orient-jax export` has filled it."""
    d = WEB / "public" / "models"
    return d if (d / "manifest.json").is_file() and (d / "policy.onnx").is_file() and (d / "pose.onnx").is_file() else None


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
