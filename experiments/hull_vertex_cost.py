"""What a collision hull's vertex count costs in MJX, and what it buys in shape.

An imported object's convex hull is simplified to `orient_jax.objects.collision.MAX_HULL_VERTICES`
vertices. This measures both sides of that choice on one shape, a 0.2 m-radius sphere (the
worst case for a simplified hull: curved everywhere): the MJX step time of the object's MJCF
(the importer's own, floor, walls, motors) at a batch of random drops, and the largest gap
between the simplified hull and the true one (how far the object can sink into the floor).
"""

from __future__ import annotations

import argparse

import common  # noqa: F401  (puts the repo on sys.path)


def measure(cap: int, batch: int, steps: int) -> dict:
    import mujoco
    import numpy as np
    import trimesh

    from orient_jax.assets.mjcf import PhysicsConfig
    from orient_jax.objects import collision, mjcf

    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.2)
    hull = collision.simplify_hull(sphere.vertices, cap)
    mass = 1000.0 * sphere.volume
    inertia = np.eye(3) * 0.4 * mass * 0.2 ** 2
    xml = mjcf.build_mjcf("ball", [hull.vertices], mass, inertia, 0.2, 1.0, mjcf.scaled_config(0.2, PhysicsConfig()))
    us, _ = common.mjx_step_cost(mujoco.MjModel.from_xml_string(xml), batch, steps)
    return {"cap": cap, "vertices": int(len(hull.vertices)), "gap_mm": round(hull.max_deviation * 1000, 2),
            "us_per_env_step": round(us, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caps", type=int, nargs="+", default=[32, 64, 128, 192, 256])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=50, help="physics steps per timed call")
    common.add_output_args(parser)
    args = parser.parse_args()
    rows = []
    for cap in args.caps:
        row = measure(cap, args.batch, args.steps)
        print(row, flush=True)
        rows.append(row)
    table = common.markdown_table(["hull vertex cap", "vertices", "gap on a 0.2 m sphere (mm)", "us per env-step"],
                                  [[r["cap"], r["vertices"], r["gap_mm"], r["us_per_env_step"]] for r in rows])
    common.write_results(args.out, "hull_vertex_cost", table, {"batch": args.batch, "steps": args.steps, "rows": rows},
                         notes=f"MJX on CPU, batch {args.batch}, Euler at 5 ms, one jit call of {args.steps} steps "
                               "timed after a warm-up call.")


if __name__ == "__main__":
    main()
