"""Import meshes nobody chose for the importer: is every outcome an object or one clear line?

Runs `orient-jax object import MESH --out DIR --up y --size 0.25` (the command issue #25's
outside check runs; `--import-args` changes the options) on every mesh given, as a user would,
each in its own process, and sorts the outcome:

- imported: exit 0, a complete object folder (object.json, object.xml, visual.glb, preview.png)
  whose MJCF MuJoCo loads, with a positive mass and a collision hull;
- refused: a non-zero exit with exactly one `error: ...` line on stderr and no folder written;
- broken: anything else (a traceback, several lines, a half-written folder, a folder MuJoCo
  cannot load). The bar: none broken.

A good source of meshes that were not made for this importer is trimesh's own test models
(obj with and without materials, stl ascii and binary, ply with colours, glb/gltf scenes with
nested nodes and textures, and empty, point-only and broken files):

    git clone https://github.com/mikedh/trimesh /tmp/trimesh && git -C /tmp/trimesh checkout a513c0e
    .venv/bin/python experiments/import_sweep.py /tmp/trimesh/models \
        --source "trimesh's test models (mikedh/trimesh at a513c0e2)"

Object folders go to `--workdir` (removed first); results to experiments/results/import_sweep.*.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, add_output_args, markdown_table, run_cli, write_results  # noqa: E402

from orient_jax.errors import UserError  # noqa: E402
from orient_jax.objects import folder  # noqa: E402

NAME = "import_sweep"
FORMATS = (".obj", ".stl", ".ply", ".glb", ".gltf")
FOLDER_FILES = (*folder.REQUIRED, folder.PREVIEW)


def add_mesh_args(p: argparse.ArgumentParser) -> None:
    """The meshes and how each is imported (shared with pipeline_sweep.py)."""
    p.add_argument("meshes", nargs="+", type=Path, help="mesh files, or folders searched (recursively) for them")
    p.add_argument("--import-args", default="--up y --size 0.25",
                   help="options passed to every import (default: '--up y --size 0.25')")
    p.add_argument("--source", default="", help="where the meshes come from, for the results' notes")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_mesh_args(p)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one import may take (default 600)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / NAME, help="object folders (emptied first)")
    add_output_args(p)
    return p.parse_args(argv)


def find_meshes(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    if not found:
        raise UserError(f"no {', '.join(FORMATS)} files in {', '.join(map(str, paths))}")
    return found


def check_folder(out: Path) -> tuple[str, dict]:
    """('imported', facts) for a complete, loadable object folder, else ('broken', {why})."""
    import mujoco

    missing = [f for f in FOLDER_FILES if not (out / f).is_file()]
    if missing:
        return "broken", {"why": f"folder lacks {', '.join(missing)}"}
    try:
        meta = folder.read_object(out)  # as every stage reads it
    except UserError as exc:
        return "broken", {"why": f"object.json: {exc}"}
    try:
        model = mujoco.MjModel.from_xml_path(str(out / folder.MJCF))
    except Exception as exc:  # noqa: BLE001 - any load failure is the finding
        return "broken", {"why": f"MuJoCo cannot load object.xml: {exc}"}
    mass = float(model.body_subtreemass[0])
    hulls = len(meta["collision"]["hulls"])
    if not mass > 0 or hulls < 1:
        return "broken", {"why": f"mass {mass} kg, {hulls} hulls"}
    return "imported", {
        "faces": meta["source"]["faces"], "parts": meta["source"]["parts"],
        "mass_kg": round(mass, 4), "from": meta["mass"]["from"],
        "hull_vertices": sum(h["vertices"] for h in meta["collision"]["hulls"]),
        "torque_nm": meta["torque"]["limit_nm"],
        "textured_parts": meta["visual"].get("textured_parts", 0),
        "warnings": meta.get("warnings", []),
    }


def import_one(mesh: Path, out: Path, import_args: list[str], timeout: float) -> dict:
    cmd = [str(REPO / ".venv" / "bin" / "orient-jax"), "object", "import", str(mesh), "--out", str(out), *import_args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"outcome": "broken", "why": f"still running after {timeout:.0f} s", "seconds": timeout}
    seconds = round(time.perf_counter() - start, 1)
    errors = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    if proc.returncode == 0:
        outcome, facts = check_folder(out)
        return {"outcome": outcome, "seconds": seconds, **facts}
    if out.exists():
        return {"outcome": "broken", "seconds": seconds, "why": f"exit {proc.returncode} left {out.name}/ behind"}
    if len(errors) == 1 and errors[0].startswith("error: ") and "Traceback" not in proc.stderr:
        return {"outcome": "refused", "seconds": seconds, "why": errors[0][len("error: "):]}
    return {"outcome": "broken", "seconds": seconds, "why": f"exit {proc.returncode}: " + " / ".join(errors[-3:])}


def main(argv=None) -> int:
    args = parse_args(argv)
    meshes = find_meshes(args.meshes)
    import_args = shlex.split(args.import_args)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    results = []
    for i, mesh in enumerate(meshes):
        out = args.workdir / f"{i:03d}-{mesh.stem}"
        result = {"mesh": mesh.name, "format": mesh.suffix.lower().lstrip("."), "bytes": mesh.stat().st_size,
                  **import_one(mesh, out, import_args, args.timeout)}
        results.append(result)
        print(f"[{i + 1}/{len(meshes)}] {mesh.name}: {result['outcome']} ({result['seconds']} s)"
              + (f": {result['why']}" if "why" in result else ""), flush=True)

    counts = {k: sum(r["outcome"] == k for r in results) for k in ("imported", "refused", "broken")}
    rows = []
    for r in results:
        if r["outcome"] == "imported":
            what = (f"{r['faces']:,} faces, {r['parts']} part(s), {r['mass_kg']} kg (from {r['from']}), "
                    f"hull {r['hull_vertices']} vertices, torque {r['torque_nm']} N m"
                    + (f", {r['textured_parts']} textured" if r["textured_parts"] else "")
                    + (f"; warning: {'; '.join(r['warnings'])}" if r["warnings"] else ""))
        else:
            what = r["why"]
        rows.append([r["mesh"], f"{r['bytes']:,}", f"**{r['outcome']}**", r["seconds"], what.replace("|", "/")])
    table = markdown_table(["mesh", "bytes", "outcome", "s", "object, or the error line"], rows, align="lrlrl")
    notes = (f"{len(results)} meshes{' from ' + args.source if args.source else ''}, each imported with "
             f"`orient-jax object import MESH --out DIR {args.import_args}` in its own process: "
             f"{counts['imported']} imported, {counts['refused']} refused with one line and nothing written, "
             f"**{counts['broken']} broken**. Times include Blender's preview.")
    write_results(args.out, NAME, table, {"import_args": args.import_args, "source": args.source,
                                          "counts": counts, "results": results}, notes=notes)
    return 1 if counts["broken"] else 0


if __name__ == "__main__":
    run_cli(main)
