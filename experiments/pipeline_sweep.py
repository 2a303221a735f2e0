"""The outside check, on meshes nobody chose: import, the tiny pipeline, then the page in Chromium.

For each mesh, as a user would run it (each command in its own process):

    orient-jax object import MESH --out DIR --up y --size 0.25
    orient-jax pipeline --object DIR --preset tiny --no-serve

then serves the bundle on 127.0.0.1 and opens it in headless Chromium. Outcomes:

- ran: the pipeline finished and the page loaded the object's own MJCF and mesh, named it,
  stepped the physics with the pose model and policy in the loop (seeded episodes with the
  policy seeing the pose model's estimates), and logged no console error;
- refused: the import said no in one `error:` line and wrote nothing (see import_sweep.py);
- broken: anything else. The bar: none broken.

The tiny preset's models are barely trained (a few steps), so success in the episodes is not
a bar here; that the loop runs on the page is. Meshes come from trimesh's test models:

    git clone https://github.com/mikedh/trimesh /tmp/tm && git -C /tmp/tm checkout a513c0e2
    .venv/bin/python experiments/pipeline_sweep.py /tmp/tm/models/{chair_model.obj,...}

Work folders go to `--workdir` (emptied first); results to experiments/results/pipeline_sweep.*.
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import REPO, add_output_args, markdown_table, run_cli, write_results  # noqa: E402
from import_sweep import add_mesh_args, find_meshes, import_one  # noqa: E402

import web_helpers as wh  # noqa: E402
from orient_jax.errors import UserError  # noqa: E402
from orient_jax.objects import folder  # noqa: E402

NAME = "pipeline_sweep"
OJ = str(REPO / ".venv" / "bin" / "orient-jax")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_mesh_args(p)
    p.add_argument("--episodes", type=int, default=3, help="seeded episodes on each page (default 3)")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds one pipeline may take (default 1200)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / NAME, help="object and run folders (emptied first)")
    add_output_args(p)
    return p.parse_args(argv)


def run_pipeline(obj: Path, root: Path, dist: Path, timeout: float) -> dict:
    cmd = [OJ, "pipeline", "--object", str(obj), "--preset", "tiny", "--no-serve", "--root", str(root),
           "--dist", str(dist)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": f"pipeline still running after {timeout:.0f} s"}
    seconds = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-3:]
        return {"ok": False, "pipeline_s": seconds, "why": f"pipeline exit {proc.returncode}: " + " / ".join(tail)}
    if not (dist / "index.html").is_file():
        return {"ok": False, "pipeline_s": seconds, "why": "pipeline exit 0 but no bundle"}
    return {"ok": True, "pipeline_s": seconds}


def check_page(ctx, dist: Path, name: str, episodes: int) -> dict:
    """Open the bundle's page; what a user would see, as numbers. Raises AssertionError on a fault."""
    from orient_jax.web.server import serving, url_of

    with serving(dist) as server:
        page, errors = wh.open_page(ctx, url_of(server, "?seed=1"))
        try:
            page.wait_for_function("orientApp.state().t > 0.5", timeout=60_000)
            fetched = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
            assert any(u.endswith("/models/object.xml") for u in fetched), "the page did not load the object's MJCF"
            assert any(u.endswith("/models/object.glb") for u in fetched), "the page did not load the object's mesh"
            shown = page.evaluate("document.getElementById('object-name').textContent")
            assert name in shown, f"the page names {shown!r}, not {name!r}"
            loop = wh.episodes(page, episodes, "predicted")
            state = page.evaluate("orientApp.state()")
            assert errors == [], f"console errors: {errors[:3]}"
            return {"page_object": shown, "page_t_s": round(float(state["t"]), 2),
                    "episodes": episodes, "upright_share_tiny_models": loop["success_rate"]}
        finally:
            page.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    why = wh.missing_prerequisites()
    if why:
        raise UserError(why)
    meshes = find_meshes(args.meshes)
    import_args = shlex.split(args.import_args)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    results = []
    with wh.browser() as ctx:
        for i, mesh in enumerate(meshes):
            name = f"m{i:02d}-{mesh.stem}".lower().replace(" ", "-")
            obj = args.workdir / "objects" / name
            result = {"mesh": mesh.name, "bytes": mesh.stat().st_size,
                      **import_one(mesh, obj, import_args, args.timeout)}
            result["import_s"] = result.pop("seconds")
            if result["outcome"] == "imported":
                piped = run_pipeline(obj, args.workdir / "runs" / name, args.workdir / "dist" / name, args.timeout)
                result["pipeline_s"] = piped.get("pipeline_s")
                if not piped["ok"]:
                    result.update(outcome="broken", why=piped["why"])
                else:
                    try:
                        shown_as = folder.read_object(obj)["name"]
                        result.update(outcome="ran", **check_page(ctx, args.workdir / "dist" / name, shown_as,
                                                                  args.episodes))
                    except Exception as exc:  # noqa: BLE001 - any page fault is the finding
                        result.update(outcome="broken", why=f"page: {exc}".splitlines()[0])
            results.append(result)
            print(f"[{i + 1}/{len(meshes)}] {mesh.name}: {result['outcome']}"
                  + (f": {result['why']}" if "why" in result else ""), flush=True)

    counts = {k: sum(r["outcome"] == k for r in results) for k in ("ran", "refused", "broken")}
    rows = []
    for r in results:
        if r["outcome"] == "ran":
            what = (f"{r['faces']:,} faces, {r['parts']} part(s), hull {r['hull_vertices']} vertices"
                    + (f", {r['textured_parts']} textured" if r["textured_parts"] else "")
                    + f"; page: {r['page_t_s']} s simulated, {r['episodes']} episodes")
        else:
            what = r["why"]
        rows.append([r["mesh"], f"{r['bytes']:,}", f"**{r['outcome']}**", r["import_s"],
                     r.get("pipeline_s") or "", what.replace("|", "/")])
    table = markdown_table(["mesh", "bytes", "outcome", "import s", "tiny pipeline s", "what the page showed, or the error"],
                           rows, align="lrlrrl")
    notes = (f"{len(results)} meshes{' from ' + args.source if args.source else ''}: "
             f"`orient-jax object import MESH --out DIR {args.import_args}`, then "
             f"`orient-jax pipeline --object DIR --preset tiny --no-serve`, then the bundle's page in headless "
             f"Chromium: {counts['ran']} ran, {counts['refused']} refused at import with one line, "
             f"**{counts['broken']} broken**.")
    write_results(args.out, NAME, table, {"import_args": args.import_args, "source": args.source,
                                          "counts": counts, "results": results}, notes=notes)
    return 1 if counts["broken"] else 0


if __name__ == "__main__":
    run_cli(main)
