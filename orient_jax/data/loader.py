"""Open a rendered dataset: validate its manifest and shards, memory-map the images.

    ds = open_dataset("data/train")            # UserError naming the bad file on any problem
    images, quats = ds.get(np.arange(64))      # uint8 (64, H, W, 3), float32 (64, 4)
    for images, quats in ds.batches(64, seed=0, epoch=0): ...
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

import numpy as np

from orient_jax.data import shards
from orient_jax.errors import UserError

NORM_TOLERANCE = 1e-3


class Dataset:
    """A validated dataset: labels in memory, images memory-mapped per shard."""

    def __init__(self, path: Path, manifest: dict, images: list[np.ndarray], labels: np.ndarray):
        self.path = Path(path)
        self.manifest = manifest
        self._shard_images = images
        self.labels = labels  # (N, 4) float32 [x, y, z, w]
        counts = np.array([len(a) for a in images], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    @property
    def camera(self) -> dict:
        """The manifest's camera: position, look_at, up, fov_y_deg, width, height."""
        return self.manifest["camera"]

    @property
    def symmetry(self):
        """The rendered object's symmetry (`orient_jax.symmetry.Symmetry`), from the card of the
        object folder the manifest names (trivial when it names none or the card has none)."""
        from orient_jax.objects.folder import symmetry_of
        from orient_jax.symmetry import Symmetry

        folder = (self.manifest.get("object") or {}).get("dir")
        return symmetry_of(Path(folder)) if folder else Symmetry()

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.manifest["image_shape"])

    @property
    def fingerprint(self) -> str:
        """sha256 over the shard hashes and the config: identifies the data (cheap, no file reads)."""
        key = json.dumps({"config": self.manifest["config"], "shards": self.manifest["shards"]}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()

    def __len__(self) -> int:
        return int(self._starts[-1])

    def images(self, indices) -> np.ndarray:
        """uint8 (B, H, W, 3) images at `indices` (any order; sorted indices read fastest)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"index out of range 0..{len(self) - 1}")
        out = np.empty((indices.size, *self.image_shape), np.uint8)
        shard_of = np.searchsorted(self._starts, indices, side="right") - 1
        for s in np.unique(shard_of):
            where = np.nonzero(shard_of == s)[0]
            out[where] = self._shard_images[s][indices[where] - self._starts[s]]
        return out

    def get(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images (B, H, W, 3), float32 quaternions (B, 4)) at `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return self.images(indices), self.labels[indices]

    def batches(self, batch_size: int, seed: int = 0, shuffle: bool = True, drop_remainder: bool = True,
                epoch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of (uint8 images (B, H, W, 3), float32 quats (B, 4)) batches.

        The order is a permutation seeded by (seed, epoch), so epoch k is the same on every run;
        within a batch the indices are sorted (memory-map locality).
        """
        if batch_size < 1:
            raise UserError("batch_size must be at least 1")
        n = len(self)
        order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_remainder else n
        for start in range(0, stop, batch_size):
            yield self.get(np.sort(order[start:start + batch_size]))


def _fail(path: Path, why: str):
    raise UserError(f"{path}: {why}")


def _load(path: Path, mmap: bool) -> np.ndarray:
    if not path.is_file():
        _fail(path, "missing (render it again: `orient-jax data render` with the same settings resumes)")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file
        _fail(path, f"corrupt .npy ({type(exc).__name__}: {exc})")


def open_dataset(path, verify_hashes: bool = True) -> Dataset:
    """Validate DATA_DIR/manifest.json and every shard it lists; raise UserError naming the bad file.

    Checks: manifest format and version, image shape, each shard's files exist and parse as
    .npy, dtype and shape (count, H, W, 3) uint8 / (count, 4) float32, labels unit to 1e-3
    with w >= 0, and (unless `verify_hashes=False`, faster) each file's sha256.
    """
    path = Path(path)
    mpath = path / shards.MANIFEST
    if not path.is_dir():
        _fail(path, "no such dataset folder")
    if not mpath.is_file():
        hint = " (shards present: run `orient-jax data finalize`)" if (path / shards.CONFIG).exists() else ""
        _fail(mpath, "missing: not a finished dataset from `orient-jax data render`" + hint)
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        _fail(mpath, f"corrupt JSON ({exc})")
    if manifest.get("format") != shards.FORMAT or manifest.get("version") != shards.VERSION:
        _fail(mpath, f"unsupported dataset format {manifest.get('format')!r} version {manifest.get('version')!r} "
                     f"(this code reads {shards.FORMAT} version {shards.VERSION})")
    try:
        h, w, c = (int(v) for v in manifest["image_shape"])
        entries = manifest["shards"]
        camera = manifest["camera"]
    except (KeyError, TypeError, ValueError) as exc:
        _fail(mpath, f"malformed manifest ({type(exc).__name__}: {exc})")
    if c != 3 or h < 1 or w < 1 or (camera.get("height"), camera.get("width")) != (h, w):
        _fail(mpath, f"bad image shape {manifest['image_shape']} (camera {camera.get('width')}x{camera.get('height')})")
    images, labels = [], []
    for entry in entries:
        count = int(entry["count"])
        ipath, lpath = path / entry["images"], path / entry["labels"]
        for p, key in ((ipath, "images"), (lpath, "labels")):
            if verify_hashes and p.is_file() and shards.sha256_file(p) != entry["sha256"][key]:
                _fail(p, "sha256 does not match the manifest (modified or corrupt; delete it and rerun the render)")
        img = _load(ipath, mmap=True)
        if img.dtype != np.uint8 or img.shape != (count, h, w, 3):
            _fail(ipath, f"expected uint8 {(count, h, w, 3)}, found {img.dtype} {img.shape}")
        lab = _load(lpath, mmap=False)
        if lab.dtype != np.float32 or lab.shape != (count, 4):
            _fail(lpath, f"expected float32 {(count, 4)}, found {lab.dtype} {lab.shape}")
        norm_err = np.abs(np.linalg.norm(lab.astype(np.float64), axis=1) - 1.0)
        if not np.all(np.isfinite(lab)) or norm_err.max(initial=0) > NORM_TOLERANCE:
            bad = int(np.argmax(np.where(np.isfinite(norm_err), norm_err, np.inf)))
            _fail(lpath, f"label {bad} is not a unit quaternion (|norm - 1| = {norm_err[bad]:.3g} > {NORM_TOLERANCE})")
        if np.any(lab[:, 3] < -1e-6):
            _fail(lpath, f"label {int(np.argmin(lab[:, 3]))} has w < 0 (labels are canonical, w >= 0)")
        images.append(img)
        labels.append(lab)
    total = sum(len(a) for a in images)
    if total != manifest.get("num_images", total) or total == 0:
        _fail(mpath, f"shards hold {total} images, the manifest says {manifest.get('num_images')}")
    return Dataset(path, manifest, images, np.concatenate(labels))
