"""One convex hull or a convex decomposition (CoACD): what each costs in MJX and what it changes.

For each committed outside mesh, `orient-jax object import` is run twice, `--collision hull` and
`--collision decompose`, and the two object folders are compared on:

- MJX cost: microseconds per env-step of the object's MJCF (floor, walls, motors) at a batch of
  random drops, one jit call of `--steps` physics steps timed after a warm-up call, both
  collision shapes measured in the same run (the ratio is what counts on a shared machine);
- contacts: the mean number of active contacts per env once the drops have landed;
- fidelity: the same seeded drops (random orientation, no torque, 2 s) stepped in C MuJoCo with
  each MJCF; where each comes to rest (the angle between the two final orientations) and whether
  it rests on the same face (its up axis within 5 deg);
- the import: time, hull count and vertices, and the torque limit it derives from its rests.

    .venv/bin/python experiments/collision_decompose.py [--objects duck bunny palm] [--drops 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO, add_output_args, markdown_table, mjx_step_cost, run_cli, write_results

NAME = "collision_decompose"
IMPORTS = {  # as scripts/gallery.sh imports them
    "duck": ("duck/duck.obj", ["--up", "y", "--size", "0.2"]),
    "bunny": ("bunny/bunny.obj", ["--up", "y", "--size", "0.2"]),
    "palm": ("palm/palm.obj", ["--up=-y", "--scale", "0.001"]),
}


def import_object(name: str, kind: str, out: Path) -> dict:
    import json

    from orient_jax import cli

    mesh, args = IMPORTS[name]
    t = time.perf_counter()
    code = cli.main(["object", "import", str(REPO / "objects" / "sources" / mesh), *args, "--collision", kind,
                     "--no-preview", "--out", str(out), "--force"])
    if code != 0:
        raise RuntimeError(f"import of {name} ({kind}) failed")
    meta = json.loads((out / "object.json").read_text())
    meta["wall_s"] = time.perf_counter() - t
    return meta


def mjx_cost(xml: Path, batch: int, steps: int) -> tuple[float, float]:
    """(us per env-step, mean active contacts per env after landing) of the MJCF in MJX."""
    import mujoco

    us, data = mjx_step_cost(mujoco.MjModel.from_xml_path(str(xml)), batch, steps)
    contact = data._impl.contact if hasattr(data, "_impl") else data.contact
    return us, float(np.asarray(contact.dist <= 0).sum(axis=-1).mean())


def rests(xml: Path, quats: np.ndarray, seconds: float = 2.0) -> np.ndarray:
    """Final orientations [w, x, y, z] of seeded drops (no torque) in C MuJoCo (N, 4)."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(xml))
    out = []
    for q in quats:
        d = mujoco.MjData(model)
        d.qpos[3:7] = q
        mujoco.mj_forward(model, d)
        mujoco.mj_step(model, d, nstep=round(seconds / model.opt.timestep))
        out.append(d.qpos[3:7].copy())
    return np.array(out)


def up_axis(q: np.ndarray) -> np.ndarray:
    """The body's +Z in the world for quaternions [w, x, y, z] (N, 3)."""
    w, x, y, z = q.T
    return np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (deg) between unit vectors (N, 3)."""
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=1), -1, 1)))


def perturb(q: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """Quaternions [w, x, y, z] (N, 4) each turned by `angle` rad about a random axis."""
    axis = rng.normal(size=(len(q), 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    w1, v1 = np.cos(angle / 2), np.sin(angle / 2) * axis
    w2, v2 = q[:, :1], q[:, 1:]
    out = np.concatenate([w1 * w2 - np.sum(v1 * v2, 1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)], 1)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", nargs="+", default=list(IMPORTS), choices=list(IMPORTS))
    parser.add_argument("--drops", type=int, default=200, help="seeded drops per object for the rest comparison")
    parser.add_argument("--batch", type=int, default=256, help="MJX batch for the cost")
    parser.add_argument("--steps", type=int, default=50, help="physics steps per timed MJX call")
    add_output_args(parser)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    rows, data = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.objects:
            quats = rng.normal(size=(args.drops, 4))
            quats /= np.linalg.norm(quats, axis=1, keepdims=True)
            result = {}
            for kind in ("hull", "decompose"):
                out = Path(tmp) / f"{name}-{kind}"
                meta = import_object(name, kind, out)
                us, contacts = mjx_cost(out / "object.xml", args.batch, args.steps)
                result[kind] = {"import_s": meta["wall_s"], "hulls": len(meta["collision"]["hulls"]),
                                "vertices": sum(h["vertices"] for h in meta["collision"]["hulls"]),
                                "torque_nm": meta["torque"]["limit_nm"], "us_per_env_step": us,
                                "contacts": contacts, "rests": rests(out / "object.xml", quats)}
                print(f"{name} {kind}: {result[kind]['hulls']} hull(s), {us:.1f} us/env-step, "
                      f"{contacts:.1f} contacts", flush=True)
            h, d = result["hull"], result["decompose"]
            # Chaos yardstick: the hull against itself from starts turned by 1e-6 rad.
            h["rests_perturbed"] = rests(Path(tmp) / f"{name}-hull" / "object.xml", perturb(quats, 1e-6, rng))
            same_face_chaos = float(np.mean(_angle(up_axis(h["rests"]), up_axis(h["rests_perturbed"])) <= 5.0))
            dots = np.abs(np.sum(h["rests"] * d["rests"], axis=1))
            angle = np.degrees(2 * np.arccos(np.clip(dots, -1, 1)))
            same_face = float(np.mean(_angle(up_axis(h["rests"]), up_axis(d["rests"])) <= 5.0))
            for kind, r in result.items():
                rows.append([name, kind, r["hulls"], r["vertices"], f"{r['import_s']:.1f}", f"{r['us_per_env_step']:.1f}",
                             f"{r['us_per_env_step'] / h['us_per_env_step']:.2f}x", f"{r['contacts']:.1f}",
                             f"{r['torque_nm']:.3g}",
                             f"{100 * same_face_chaos:.0f} % (itself, 1e-6 rad)" if kind == "hull" else f"{100 * same_face:.0f} %",
                             "" if kind == "hull" else f"{np.median(angle):.2g} / {np.percentile(angle, 90):.2g}"])
            data[name] = {k: {kk: vv for kk, vv in r.items() if not kk.startswith("rests")} for k, r in result.items()}
            data[name]["same_rest_face"] = same_face
            data[name]["same_rest_face_hull_perturbed"] = same_face_chaos
            data[name]["rest_angle_deg_median_p90"] = [float(np.median(angle)), float(np.percentile(angle, 90))]

    table = markdown_table(["object", "collision", "hulls", "vertices", "import (s)", "MJX us/env-step", "vs hull",
                            "contacts after landing", "torque limit (N m)", "same rest face as the hull",
                            "rest orientation gap, median / p90 (deg)"], rows, align="ll" + "r" * 9)
    notes = (f"MJX on CPU, batch {args.batch}, Euler at 5 ms, {args.steps} steps per timed call after a warm-up; "
             f"rests: {args.drops} seeded drops per object, 2 s, no torque, C MuJoCo. A rest's orientation "
             "about the vertical is chaotic (where it slides and spins), so the face it lands on (up axis within "
             "5 deg) is the comparison; the hull row's figure is the yardstick: the same hull from starts turned by "
             "1e-6 rad, i.e. how often chaos alone changes the face.")
    write_results(args.out, NAME, table, {"batch": args.batch, "steps": args.steps, "drops": args.drops, "objects": data},
                  notes=notes)
    return 0


if __name__ == "__main__":
    run_cli(main)
