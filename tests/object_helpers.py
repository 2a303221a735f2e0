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
