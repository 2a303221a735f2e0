"""Hashing and atomic writes, shared by every part that publishes files.

Atomic means a reader (or a killed-and-rerun writer) sees either the old file or folder or the
new one, never half of one: write beside the target, then `os.replace`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, data: Any, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=True, default=str) + "\n")


def publish_dir(staged: Path, dest: Path) -> Path:
    """Swap the finished folder `staged` in as `dest` (the old one, if any, is removed)."""
    staged, dest = Path(staged), Path(dest)
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staged, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def local_checkpointer():
    """An orbax PyTree checkpointer that involves only this process.

    The small artifacts (policy, pose model) are written by process 0 alone and read by each
    process on its own; orbax's default checkpointer would wait at a cross-process barrier
    for processes that never come.
    """
    import jax
    import orbax.checkpoint as ocp

    me = jax.process_index()
    options = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
    return ocp.Checkpointer(ocp.PyTreeCheckpointHandler(multiprocessing_options=options), multiprocessing_options=options)
