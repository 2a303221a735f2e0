"""A human check that labels match images: each image with its label drawn as the body's axes
(X red, Y green, Z blue, from the body origin) projected through the manifest camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from orient_jax.data.camera import project_axes
from orient_jax.data.loader import Dataset

AXIS_COLORS = ((230, 30, 30), (20, 200, 40), (40, 80, 255))


def annotate(image: np.ndarray, quat: np.ndarray, camera: dict, scale: int = 2, length: float = 0.2,
             caption: str | None = None) -> Image.Image:
    """The image scaled up `scale` times with the label's body axes drawn over it."""
    h, w = image.shape[:2]
    img = Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    origin, tips = project_axes(camera, quat, length=length)
    to_px = lambda p: (float((p[0] + 0.5) * scale - 0.5), float((p[1] + 0.5) * scale - 0.5))
    for tip, color in zip(tips, AXIS_COLORS):
        draw.line([to_px(origin), to_px(tip)], fill=color, width=max(1, scale))
        x, y = to_px(tip)
        draw.ellipse([x - scale, y - scale, x + scale, y + scale], fill=color)
    if caption:
        draw.text((3, 2), caption, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return img


def _frames(dataset: Dataset, count: int, scale: int) -> list[Image.Image]:
    idx = np.arange(min(count, len(dataset)))
    images, quats = dataset.get(idx)
    return [annotate(im, q, dataset.camera, scale, caption=f"#{i} q=[{', '.join(f'{v:+.2f}' for v in q)}]")
            for i, im, q in zip(idx, images, quats)]


def write_preview(dataset: Dataset, prefix: Path, count: int = 16, columns: int = 4, scale: int = 2,
                  gif_frames: int = 24) -> tuple[Path, Path]:
    """Write PREFIX.png (a contact sheet of the first `count` images) and PREFIX.gif (an animation)."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    frames = _frames(dataset, count, scale)
    tile_w, tile_h = frames[0].size
    rows = -(-len(frames) // columns)
    sheet = Image.new("RGB", (tile_w * min(columns, len(frames)), tile_h * rows), (0, 0, 0))
    for k, frame in enumerate(frames):
        sheet.paste(frame, ((k % columns) * tile_w, (k // columns) * tile_h))
    png, gif = prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".gif")
    tmp = png.with_name(png.stem + ".tmp.png")
    sheet.save(tmp)
    tmp.replace(png)
    anim = _frames(dataset, gif_frames, scale)
    tmp = gif.with_name(gif.stem + ".tmp.gif")
    anim[0].save(tmp, save_all=True, append_images=anim[1:], duration=500, loop=0)
    tmp.replace(gif)
    return png, gif
