"""Pictures of the browser client for the docs: docs/img/page.png (the whole page, after the
policy, seeing through the pose model, has turned the engine upright) and docs/img/loop.webp
(a short animated loop of the main view: drop, flip upright, hold).

    .venv/bin/python scripts/capture_page.py [--models models/export] [--seed 1] [--out docs/img]

Serves the page with the project's server (`orient_jax.web.server`) and drives headless
Chromium (/usr/bin/chromium, Playwright, software WebGL) like tests/test_web.py. The seed fixes
the drop (seed 1: nearly upside down). Both pictures have vision in the loop (?obs=predicted)
and draw at full resolution with MSAA (?quality=high). The screenshot is of the page running
in lockstep (one control step per frame: its stats panel shows this machine's frame rate at a
1000 x 640 window); the animation is stepped from a paused page, a fixed number of control
steps per frame, so it plays at the simulation's own speed whatever this machine's frame rate.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import web_helpers as wh  # noqa: E402

NEXT_FRAME = "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def screenshot(page, clip=None):
    from PIL import Image

    return Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")


def capture_page(ctx, url: str, out: Path, width: int) -> Path:
    """The page in lockstep at full resolution until the engine is upright and held (success),
    then a moment more (its stats panel shows this machine's frame rate)."""
    page, errors = wh.open_page(ctx, url + "&physics=lockstep")
    page.wait_for_function("orientApp.state().success || orientApp.state().failed", timeout=120_000)
    page.wait_for_timeout(1500)  # the frame rate and the plot settle
    img = screenshot(page)
    page.close()
    if errors:
        raise RuntimeError(f"console errors: {errors}")
    if img.width != width:
        img = img.resize((width, round(img.height * width / img.width)), resample=3)  # bicubic
    img.save(out, optimize=True)
    return out


def capture_loop(ctx, url: str, out: Path, width: int, seconds: float, steps_per_frame: int, quality: int) -> Path:
    """The main view, cropped about the engine and its prediction's ghost, one frame every
    `steps_per_frame` control steps from the drop on."""
    page, errors = wh.open_page(ctx, url + "&physics=paused")
    dt = page.evaluate("orientApp.manifest.physics.control_dt")
    box = page.locator("#view").bounding_box()
    # The engine and its prediction's ghost above it fill the upper 80 % of the main view: a
    # 4:3 crop of that, centred.
    ch = 0.8 * box["height"]
    cw = min(box["width"], 4 / 3 * ch)
    clip = {"x": box["x"] + (box["width"] - cw) / 2, "y": box["y"] + 0.02 * box["height"], "width": cw, "height": ch}
    frames = []
    n = round(seconds / (steps_per_frame * dt))
    for _ in range(n):
        page.evaluate(NEXT_FRAME)
        frames.append(screenshot(page, clip))
        page.evaluate(f"orientApp.debug.run({steps_per_frame})")
    s = page.evaluate("orientApp.state()")
    page.close()
    if errors:
        raise RuntimeError(f"console errors: {errors}")
    height = round(ch * width / cw)
    frames = [f.resize((width, height), resample=1) for f in frames]  # Lanczos
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=round(1000 * steps_per_frame * dt), loop=0,
                   quality=quality, method=6)
    print(f"  {n} frames, {1000 * steps_per_frame * dt:.0f} ms each; at the end t = {s['t']:.2f} s, "
          f"tilt {s['tiltDeg']:.1f} deg, success {s['success']}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=REPO / "models" / "export",
                   help="models folder with manifest.json (default: the committed models/export)")
    p.add_argument("--seed", type=int, default=1, help="the page's ?seed= (default 1: dropped nearly upside down)")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="output folder (default docs/img)")
    p.add_argument("--width", type=int, default=1000, help="page.png width, px (default 1000)")
    p.add_argument("--loop-width", type=int, default=480, help="loop.webp width, px (default 480)")
    p.add_argument("--seconds", type=float, default=3.2, help="loop.webp length, simulated seconds (default 3.2)")
    p.add_argument("--steps-per-frame", type=int, default=3,
                   help="control steps per loop.webp frame (default 3: 60 ms, 16.7 frames/s)")
    p.add_argument("--quality", type=int, default=70, help="loop.webp lossy quality 0-100 (default 70)")
    args = p.parse_args()

    why = wh.missing_prerequisites()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    if not (args.models / "manifest.json").is_file():
        print(f"error: {args.models} has no manifest.json (`orient-jax export --out DIR` makes one)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from orient_jax.web.server import serving

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with serving(wh.WEB, args.models.resolve()) as server, sync_playwright() as pw:
        # ?quality=high: full resolution with MSAA (a software rasterizer's ?quality=auto drops both).
        url = f"http://127.0.0.1:{server.server_address[1]}/?models=/models/&seed={args.seed}&obs=predicted&quality=high"
        browser = pw.chromium.launch(executable_path=wh.CHROMIUM, headless=True, args=wh.CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": args.width, "height": 640}, device_scale_factor=1)
            print("page.png …", flush=True)
            png = capture_page(ctx, url, args.out / "page.png", args.width)
            ctx.close()
            ctx = browser.new_context(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
            print("loop.webp …", flush=True)
            webp = capture_loop(ctx, url, args.out / "loop.webp", args.loop_width, args.seconds,
                                args.steps_per_frame, args.quality)
            ctx.close()
        finally:
            browser.close()
    for f in (png, webp):
        print(f"wrote {f.relative_to(REPO) if f.is_relative_to(REPO) else f} ({f.stat().st_size / 1024:.0f} KiB)")
    print(f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
