"""A tiny stage runner: cached by the hash of each stage's config and inputs, recorded in a
run manifest, atomic, resumable.

A stage is a function of (config, input paths) that writes into its own folder. Its cache key
is sha256(name, config, sha256 of every input). When `stage.json` in its folder holds the same
key and every recorded output still has its recorded hash, the stage is skipped. Otherwise it
runs (stages resume their own work: the renderer skips finished shards, training restarts from
its last checkpoint) and `stage.json` is written last, atomically, so a killed stage is never
mistaken for a finished one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
import traceback
from pathlib import Path
from typing import Callable

from orient_jax.errors import UserError
from orient_jax.fileio import sha256_file, write_json_atomic  # noqa: F401 (re-exported)


STARTED = "started.json"
"""Written in a stage's folder when it starts: the key its work belongs to (a kill leaves it)."""


class StageFailed(UserError):
    """A stage raised: the message names the stage and its inputs; rerun to resume from it."""


def sha256_tree(path: Path, skip: Callable[[Path], bool] = lambda p: False) -> str:
    """Hash of a file, or of a folder's files (relative names + contents, sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise FileNotFoundError(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not skip(p.relative_to(path))):
        h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_file(f).encode() + b"\n")
    return h.hexdigest()


@dataclasses.dataclass
class Stage:
    """One step of the pipeline.

    `run(ctx)` does the work inside `ctx.dir` and returns metrics (a JSON-able dict).
    `inputs`: paths (files or folders) whose content the result depends on.
    `outputs`: paths relative to the stage folder that the stage produces (hashed and verified).
    `fingerprint`: optional cheap hash of an output (e.g. a dataset's manifest, which already
    holds every shard's hash) instead of hashing every byte again.
    """

    name: str
    run: Callable[["StageContext"], dict]
    config: dict
    inputs: list[Path]
    outputs: list[str]
    fingerprint: dict[str, Callable[[Path], str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StageContext:
    dir: Path
    config: dict
    inputs: list[Path]
    log: Callable[[str], None]


def _output_hash(stage: Stage, folder: Path, rel: str) -> str:
    fn = stage.fingerprint.get(rel)
    return fn(folder / rel) if fn else sha256_tree(folder / rel, skip=lambda p: p.name.startswith("."))


class Runner:
    """Runs stages in order under `root`, recording each in `root/manifest.json`."""

    def __init__(self, root: Path, run_config: dict, log: Callable[[str], None] = print):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.manifest_path = self.root / "manifest.json"
        self.known: dict[str, str] = {}  # output path -> hash, from stages already run or checked
        self.manifest = {"version": 1, "config": run_config, "versions": versions(), "stages": {}}
        if self.manifest_path.exists():
            try:
                old = json.loads(self.manifest_path.read_text())
                self.manifest["stages"] = old.get("stages", {})
            except json.JSONDecodeError:
                pass  # rebuilt from the stages' own records as they are checked

    def key(self, stage: Stage) -> tuple[str, dict]:
        input_hashes = {}
        for path in stage.inputs:
            if not Path(path).exists():
                raise StageFailed(f"stage {stage.name}: input {path} does not exist")
            resolved = str(Path(path).resolve())
            input_hashes[str(path)] = self.known.get(resolved) or sha256_tree(path, skip=lambda p: p.name.startswith("."))
        blob = json.dumps({"stage": stage.name, "config": stage.config, "inputs": sorted(input_hashes.values())},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest(), input_hashes

    def cached(self, stage: Stage, key: str) -> dict | None:
        record_path = self.root / stage.name / "stage.json"
        if not record_path.exists():
            return None
        try:
            record = json.loads(record_path.read_text())
        except json.JSONDecodeError:
            return None
        if record.get("key") != key:
            return None
        folder = self.root / stage.name
        for rel, digest in record.get("outputs", {}).items():
            if not (folder / rel).exists() or _output_hash(stage, folder, rel) != digest:
                return None
        return record

    def run(self, stage: Stage) -> dict:
        """Run (or skip) one stage; returns its record."""
        key, input_hashes = self.key(stage)
        if (record := self.cached(stage, key)) is not None:
            self.log(f"[{stage.name}] cached (key {key[:12]}), skipped")
            record["skipped"] = True
            self._record(stage.name, record)
            return record
        folder = self.root / stage.name
        if self._stale(folder, key):
            # Work left by a run with other inputs or config (finished or killed) is not resumed:
            # a dataset, a training run or a checkpoint of another object would be refused or,
            # worse, continued.
            self.log(f"[{stage.name}] its inputs or config changed since its folder was written: starting afresh")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / STARTED, {"key": key})
        self.log(f"[{stage.name}] running")
        started = time.time()
        try:
            metrics = stage.run(StageContext(folder, stage.config, stage.inputs, self.log)) or {}
            missing = [rel for rel in stage.outputs if not (folder / rel).exists()]
            if missing:
                raise RuntimeError(f"did not produce {', '.join(missing)}")
        except BaseException as exc:
            failed = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "key": key, "inputs": input_hashes,
                      "started": started, "duration_s": time.time() - started}
            self._record(stage.name, failed)
            if isinstance(exc, KeyboardInterrupt):
                raise
            inputs = ", ".join(str(p) for p in stage.inputs) or "no inputs"
            detail = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            (folder / "error.log").write_text(traceback.format_exc())
            raise StageFailed(f"stage '{stage.name}' failed (inputs: {inputs}): {detail}. "
                              f"Fix it and rerun the same command: finished stages are cached and "
                              f"'{stage.name}' resumes (traceback in {folder / 'error.log'})") from exc
        record = {"status": "done", "key": key, "config": stage.config, "inputs": input_hashes,
                  "outputs": {rel: _output_hash(stage, folder, rel) for rel in stage.outputs},
                  "metrics": metrics, "started": started, "duration_s": round(time.time() - started, 2)}
        write_json_atomic(folder / "stage.json", record)
        self._record(stage.name, record)
        self.log(f"[{stage.name}] done in {record['duration_s']:.0f} s")
        return record

    @staticmethod
    def _stale(folder: Path, key: str) -> bool:
        """Whether `folder` holds work of another key: a finished stage's record (stage.json) or
        a started one's (started.json) that names a different key. A folder with neither is
        resumed as it is."""
        for name in ("stage.json", STARTED):
            try:
                recorded = json.loads((folder / name).read_text()).get("key")
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
            return recorded != key
        return False

    def _record(self, name: str, record: dict) -> None:
        for rel, digest in record.get("outputs", {}).items():
            self.known[str((self.root / name / rel).resolve())] = digest
        self.manifest["stages"][name] = record
        write_json_atomic(self.manifest_path, self.manifest)


def versions() -> dict:
    """Versions of the tools every artifact depends on."""
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for pkg in ("orient-jax", "jax", "jaxlib", "flax", "optax", "mujoco", "mujoco-mjx", "brax", "orbax-checkpoint",
                "bpy", "jax2onnx", "onnx", "onnxruntime"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out
