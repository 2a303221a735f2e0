"""Render a dataset: plan shards, run one `blender/render_shard.py` process per shard (each
exits after its shard, so Blender's leaks never accumulate), show progress, and assemble the
manifest once every shard exists.

Cluster use: `--shard i --num-shards n` renders only the shards with index % n == i, so an
array job of n tasks splits the work with no coordination; whichever task finishes last
writes the manifest (or run `orient-jax data finalize DIR`). Reruns skip complete shards
(hash verified) and redo anything a killed process left half-written.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from orient_jax.data import shards
from orient_jax.data.config import DatasetConfig, with_object
from orient_jax.errors import UserError

REPO = Path(__file__).resolve().parents[2]
RENDER_SCRIPT = REPO / "blender" / "render_shard.py"


class _Worker:
    """One `render_shard.py` subprocess; a thread reads its output (progress lines, log tail)."""

    def __init__(self, data_dir: Path, shard: int):
        self.shard, self.done = shard, 0
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.proc = subprocess.Popen(
            [sys.executable, str(RENDER_SCRIPT), "--data-dir", str(data_dir), "--shard", str(shard)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("progress "):
                self.done = int(line.split()[1])
            else:
                self.tail.append(line.rstrip())


def owned_shards(config: DatasetConfig, shard: int = 0, num_shards: int = 1) -> list[int]:
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise UserError(f"--shard must be in 0..{num_shards - 1} (got --shard {shard} --num-shards {num_shards})")
    return [i for i in range(config.num_shards) if i % num_shards == shard]


def _clean_temp(data_dir: Path, indices: list[int]) -> None:
    """Remove temp folders that killed workers left for the shards we are about to render."""
    for i in indices:
        for tmp in data_dir.glob(f"{shards.TMP_PREFIX}{i:05d}-*"):
            shutil.rmtree(tmp, ignore_errors=True)


def render_dataset(data_dir: Path, config: DatasetConfig, workers: int = 1, shard: int = 0, num_shards: int = 1,
                   verify: bool = True, console: Console | None = None, show_progress: bool = True) -> dict | None:
    """Render the missing shards this task owns; return the manifest once all shards exist, else None."""
    console = console or Console(stderr=True)
    data_dir = Path(data_dir)
    if workers < 1:
        raise UserError("--workers must be at least 1")
    config = with_object(config)  # the object folder checked, its camera and object.json hash recorded
    if (data_dir / shards.CONFIG).exists():
        existing = shards.read_config(data_dir)
        if existing.object_dir and existing.object_dir == config.object_dir:
            with_object(existing)  # a UserError when the object was imported again since (stale)
    shards.write_config(data_dir, config)
    owned = owned_shards(config, shard, num_shards)
    todo = [i for i in owned if not shards.shard_complete(data_dir, i, config.shard_count(i), verify)]
    _clean_temp(data_dir, todo)
    total = sum(config.shard_count(i) for i in todo)
    if todo:
        what = f"object {config.object_name!r} ({config.object_dir})" if config.object_dir else "the engine"
        console.print(f"rendering {len(todo)} of {len(owned)} owned shards ({total:,} images) of {what} with "
                      f"{config.renderer.engine}, {workers} worker(s) -> {data_dir}")
    progress = Progress(TextColumn("[bold]render[/]"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} images"),
                        TextColumn("{task.fields[ips]:>6.1f} img/s"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=not show_progress or not todo)
    queue, running, finished, retries = list(todo), [], 0, collections.Counter()
    start = time.perf_counter()
    try:
        with progress:
            task = progress.add_task("render", total=total, ips=0.0)
            while queue or running:
                while queue and len(running) < workers:
                    running.append(_Worker(data_dir, queue.pop(0)))
                time.sleep(0.2)
                for w in list(running):
                    if w.proc.poll() is None:
                        continue
                    w.thread.join(timeout=5)
                    running.remove(w)
                    if w.proc.returncode == 0 and shards.shard_complete(data_dir, w.shard, config.shard_count(w.shard), verify=False):
                        finished += config.shard_count(w.shard)
                    elif retries[w.shard] < 1:  # one retry: a transient crash should not stop a long job
                        retries[w.shard] += 1
                        console.print(f"[yellow]shard {w.shard} failed (exit {w.proc.returncode}); retrying[/]")
                        queue.insert(0, w.shard)
                    else:
                        raise RuntimeError(f"rendering shard {w.shard} failed (exit {w.proc.returncode}):\n" + "\n".join(w.tail))
                done = finished + sum(w.done for w in running)
                progress.update(task, completed=done, ips=done / max(time.perf_counter() - start, 1e-9))
    finally:
        for w in running:  # interrupted or failed: stop the other workers too
            w.proc.kill()
            w.proc.wait()
    elapsed = time.perf_counter() - start
    if todo:
        console.print(f"rendered {total:,} images in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} img/s)")
    everything = all(shards.read_record(data_dir, i) is not None for i in range(config.num_shards))
    if not everything:
        have = sum(shards.read_record(data_dir, i) is not None for i in range(config.num_shards))
        console.print(f"{have} of {config.num_shards} shards present; the manifest is written when all are "
                      f"(the last task writes it, or run `orient-jax data finalize {data_dir}`)")
        return None
    return shards.assemble_manifest(data_dir, verify=verify)
