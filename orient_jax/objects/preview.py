"""preview.png of an object folder: a contact sheet a user reads at a glance to see whether
scale, up axis and texture came through the import.

Six views through the object's own pose camera (object.json "camera", so the object fills each
view as it fills the dataset's images), rendered by Blender (Cycles, the datasets' nominal sun
and ambient light, no randomization) in a subprocess (`blender/preview_object.py`): upright
(the identity rotation: body +Z up, as the upright task stands it) and `RANDOM_VIEWS` seeded
uniform random orientations, 3 x 2 tiles under a caption with the object's name, size and mass.
Blender failing (missing, crashing, timing out) is one UserError line, and nothing is written.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from orient_jax import fileio
from orient_jax.errors import UserError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "blender" / "preview_object.py"
PREVIEW = "preview.png"
RANDOM_VIEWS = 5
"""Random orientations after the upright view (6 views in all)."""
TILE = 192
"""Pixels per view (square)."""
SAMPLES = 16
"""Cycles samples per pixel (the datasets use 8 to 16)."""
SEED = 0
"""Seed of the random orientations: every import of a mesh shows the same views."""
COLUMNS = 3
CAPTION_H = 30
"""Height of the caption strip above the tiles (px)."""
TIMEOUT_S = 600
BACKGROUND = (0.62, 0.66, 0.70)
"""The datasets' nominal background (orient_jax.data.config.LightingConfig), sRGB."""


def preview_quats(seed: int = SEED, count: int = RANDOM_VIEWS) -> np.ndarray:
    """The views' rotations, body -> world [x, y, z, w] (count + 1, 4): upright, then `count` random."""
    from orient_jax.data.randomize import uniform_quaternions

    return np.concatenate([[[0.0, 0.0, 0.0, 1.0]], uniform_quaternions(np.random.default_rng(seed), count)])


def tile_boxes(views: int = RANDOM_VIEWS + 1, tile: int = TILE) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each view on the sheet, in view order (row by row)."""
    return [((k % COLUMNS) * tile, CAPTION_H + (k // COLUMNS) * tile, (k % COLUMNS + 1) * tile,
             CAPTION_H + (k // COLUMNS + 1) * tile) for k in range(views)]


def caption(meta: dict) -> str:
    """'NAME   0.2 x 0.129 x 0.0933 m   0.351 kg' from object.json's content."""
    size = " x ".join(f"{v:.3g}" for v in meta.get("size_m", []))
    mass = meta.get("mass", {}).get("kg")
    return "   ".join(part for part in (str(meta.get("name", "")), f"{size} m" if size else "",
                                         f"{mass:.3g} kg" if mass is not None else "") if part)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(views: list[np.ndarray], text: str, labels: list[str]) -> "Image.Image":  # noqa: F821
    """The RGBA views (straight alpha, each tile x tile) over the nominal background, 3 per row,
    under a caption strip; each view labelled in its corner."""
    from PIL import Image, ImageDraw

    tile = views[0].shape[0]
    rows = -(-len(views) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * tile, CAPTION_H + rows * tile), (255, 255, 255))
    background = np.asarray(BACKGROUND) * 255.0
    for view, box in zip(views, tile_boxes(len(views), tile)):
        alpha = view[..., 3:4].astype(np.float64) / 255.0
        rgb = view[..., :3].astype(np.float64) * alpha + background * (1 - alpha)
        sheet.paste(Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)), box[:2])
    draw = ImageDraw.Draw(sheet)
    draw.text((8, CAPTION_H // 2), text, fill=(20, 20, 20), font=_font(16), anchor="lm")
    small = _font(12)
    for label, box in zip(labels, tile_boxes(len(views), tile)):
        draw.text((box[0] + 5, box[1] + 4), label, fill=(255, 255, 255), font=small, stroke_width=1,
                  stroke_fill=(0, 0, 0))
    for k in range(1, COLUMNS):  # thin separators between the views
        draw.line([(k * tile, CAPTION_H), (k * tile, sheet.height)], fill=(255, 255, 255))
    for r in range(1, rows):
        draw.line([(0, CAPTION_H + r * tile), (sheet.width, CAPTION_H + r * tile)], fill=(255, 255, 255))
    return sheet


def _one_line(text: str) -> str:
    """The last meaningful line of a process's output (Blender's error), for a one-line message."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and "| INFO:" not in line]
    return lines[-1][:300] if lines else "no output"


def render_preview(visual_glb: Path, meta: dict, out_png: Path, tile: int = TILE, samples: int = SAMPLES,
                   seed: int = SEED, timeout: float = TIMEOUT_S) -> Path:
    """Render the preview of the object whose visual mesh is `visual_glb` and whose object.json
    content is `meta` (its name, size, mass and camera) into `out_png` (written atomically, only
    when every view rendered). A UserError, and nothing written, when Blender fails."""
    from PIL import Image

    visual_glb, out_png = Path(visual_glb), Path(out_png)
    if "camera" not in meta:
        raise UserError("the object has no camera to render its preview from")
    quats = preview_quats(seed)
    with tempfile.TemporaryDirectory(prefix="orient-jax-preview-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"visual": str(visual_glb.resolve()), "camera": meta["camera"],
                                   "quats": quats.tolist(), "size": int(tile), "samples": int(samples),
                                   "out_dir": tmp}))
        hint = "; rerun with --no-preview to import without it"
        try:
            proc = subprocess.run([sys.executable, str(SCRIPT), "--job", str(job)], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise UserError(f"preview.png: Blender did not finish rendering the preview within {timeout:g} s"
                            f"{hint}") from exc
        paths = [Path(tmp) / f"view-{k}.png" for k in range(len(quats))]
        if proc.returncode != 0 or not all(p.is_file() for p in paths):
            raise UserError(f"preview.png: Blender failed rendering {visual_glb.name} (exit {proc.returncode}): "
                            f"{_one_line(proc.stderr if proc.stderr.strip() else proc.stdout)}{hint}")
        views = []
        for p in paths:
            with Image.open(p) as img:
                views.append(np.asarray(img.convert("RGBA")))
    labels = ["upright"] + [f"random {k}" for k in range(1, len(quats))]
    buffer = io.BytesIO()
    contact_sheet(views, caption(meta), labels).save(buffer, format="PNG", optimize=True)
    fileio.write_bytes_atomic(out_png, buffer.getvalue())
    return out_png
