"""What every experiment script shares: where results go and how they are written.

Each script `experiments/<name>.py` writes, under `--out` (default `experiments/results/`):
`<name>.md` (the README table, headed by the exact command that produced it), `<name>.json`
(the numbers and the command) and `<name>.png` (the plot). Files are written atomically, so
an interrupted experiment never leaves a half-written table behind.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from orient_jax import fileio  # noqa: E402

DEFAULT_OUT = REPO / "experiments" / "results"


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for <name>.md/.json/.png (default {DEFAULT_OUT.relative_to(REPO)})")


def command_line() -> str:
    """The command that reproduces this run, relative to the repo root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join([".venv/bin/python", str(script), *map(shlex.quote, sys.argv[1:])])


def markdown_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub table; `align` is one char per column ('l' or 'r', default: numbers right)."""
    if align is None:
        align = "".join("r" if isinstance(c, (int, float)) else "l" for c in rows[0]) if rows else "l" * len(headers)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(out: Path, name: str, table_md: str, data: dict, figure=None, notes: str = "") -> dict[str, Path]:
    """Write `<name>.md`, `<name>.json` and (given a matplotlib figure) `<name>.png` atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = command_line()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = f"`{cmd}`\n\n{table_md.strip()}\n"
    if notes:
        md += f"\n{notes.strip()}\n"
    md += f"\n<sub>{stamp}, {platform.machine()}, {_cores()} cores</sub>\n"
    paths = {"md": out / f"{name}.md", "json": out / f"{name}.json"}
    fileio.write_text_atomic(paths["md"], md)
    fileio.write_json_atomic(paths["json"], {"command": cmd, "time": stamp, **data})
    if figure is not None:
        paths["png"] = out / f"{name}.png"
        tmp = paths["png"].with_name(paths["png"].name + ".tmp.png")
        figure.savefig(tmp, dpi=120, bbox_inches="tight")
        tmp.replace(paths["png"])
    for p in paths.values():
        print(f"wrote {p}")
    return paths


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def rel(path: Path) -> str:
    """`path` relative to the repo root when inside it (for tables a reader can rerun)."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def run_cli(main) -> None:
    """Run an experiment's `main()`: a user mistake is one `error:` line (exit 2), not a traceback."""
    from orient_jax.errors import UserError

    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to continue (finished runs are reused)", file=sys.stderr)
        sys.exit(130)


def mjx_step_cost(model, batch: int, steps: int):
    """MJX cost of `model` (an MjModel): microseconds per env-step at `batch` random drops (one
    jit call of `steps` physics steps, timed after a warm-up call), and the batch's final data."""
    import time

    import jax
    import jax.numpy as jnp
    import mujoco
    from mujoco import mjx

    mx = mjx.put_model(model)
    d0 = mjx.put_data(model, mujoco.MjData(model))

    def init(key):
        q = jax.random.normal(key, (4,))
        return d0.replace(qpos=d0.qpos.at[3:7].set(q / jnp.linalg.norm(q)))

    data = jax.vmap(init)(jax.random.split(jax.random.PRNGKey(0), batch))

    @jax.jit
    def run(d):
        return jax.lax.scan(lambda d, _: (jax.vmap(mjx.step, in_axes=(None, 0))(mx, d), None), d, None, length=steps)[0]

    data = run(data)
    jax.block_until_ready(data.qpos)
    t = time.perf_counter()
    data = run(data)
    jax.block_until_ready(data.qpos)
    return (time.perf_counter() - t) / steps / batch * 1e6, data


def errors_deg(model_dir: Path, dataset):
    """A pose model's error on every image of `dataset` (an open dataset), degrees, modulo the
    dataset object's symmetry."""
    import jax.numpy as jnp
    import numpy as np

    from orient_jax import symmetry as symmetry_lib
    from orient_jax.pose.checkpoint import load_pose
    from orient_jax.pose.evaluate import predict

    pred, true = predict(load_pose(model_dir), dataset)
    return np.asarray(jnp.rad2deg(symmetry_lib.error_angle(jnp.asarray(pred), jnp.asarray(true), dataset.symmetry)))
