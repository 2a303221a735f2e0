"""The imported object the pipeline and `--object` tests share: a small asymmetric wedge (a
skewed, tapered prism: no symmetry plane) generated with trimesh and imported at 0.25 m with the
real `orient-jax object import`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from cli_helpers import run_cli

WEDGE = np.array([[0, 0, 0], [1.0, 0, 0], [0.8, 0.6, 0], [0.1, 0.5, 0],
                  [0.15, 0.1, 0.7], [0.6, 0.05, 0.5], [0.5, 0.4, 0.55], [0.2, 0.35, 0.65]])
"""Corners of the wedge (arbitrary units; --size 0.25 makes its longest extent 0.25 m)."""


def import_wedge(folder: Path) -> Path:
    """`orient-jax object import wedge.stl --out FOLDER/wedge --size 0.25 --no-preview`."""
    mesh_path = folder / "wedge.stl"
    trimesh.convex.convex_hull(WEDGE).export(mesh_path)
    out = run_cli("object", "import", str(mesh_path), "--out", str(folder / "wedge"), "--size", "0.25", "--no-preview")
    assert out.returncode == 0, out.stderr[-3000:]
    return folder / "wedge"


def import_box(out: Path, symmetry=None) -> Path:
    """A 2 x 2 x 1.5 box (a square cross-section) imported at 0.15 m into `out` without a preview;
    `symmetry` (an `orient_jax.symmetry.Symmetry`): written into its card as the group to use."""
    import json

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mesh_path = out.parent / f"{out.name}.stl"
    trimesh.creation.box((2.0, 2.0, 1.5)).export(mesh_path)
    result = run_cli("object", "import", str(mesh_path), "--out", str(out), "--size", "0.15", "--no-preview")
    assert result.returncode == 0, result.stderr[-3000:]
    if symmetry is not None:
        card = json.loads((out / "object.json").read_text())
        card["symmetry"] = symmetry.to_card()
        (out / "object.json").write_text(json.dumps(card, indent=2, sort_keys=True))
    return out
