"""Photos decoded once, through the same edge.preprocess.to_pixels the device uses, into an on-disk cache of raw
uint8 rows, and read back a batch at a time: memory stays flat however many photos a folder holds. One store for
train and convert: `convert quantize` finds the entries `train` built for the same files at the same spec (its test
split, its training photos for calibration) and decodes nothing again.

An entry is keyed by the file list (paths, sizes, modification times) and the spec's pixel fields, so a cache from
another spec or file list is never reused; it is built under a temporary name and renamed when complete, and it
records the CRC-32 of its files, checked before every use: a damaged entry (bit rot, a bad copy of a shared cache)
is said in one line and decoded again, never trained on. Reads use
pread, not mmap: pages a run has read stay in the system's page cache, not in the process's resident memory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np

from edge.atomic import disk_full, staged_folder
from edge.errors import UserError
from edge.folders import LabelledFolder, decoded, kept_targets
from edge.preprocess import to_pixels
from edge.reading import file_crc32
from edge.spec import ModelSpec

VERSION = 2  # bumped when the layout or the decoding changes (2: checksums in meta.json)
PIXEL_FIELDS = ("height", "width", "channels", "color_order", "resize")


def default_root() -> Path:
    """EDGE_CACHE_DIR, else ~/.cache/edge-classifier-toolkit/pixels."""
    return Path(os.environ.get("EDGE_CACHE_DIR") or Path.home() / ".cache" / "edge-classifier-toolkit" / "pixels")


def key(folder: LabelledFolder, spec: ModelSpec) -> str:
    digest = hashlib.sha256(json.dumps([VERSION] + [getattr(spec, f) for f in PIXEL_FIELDS]).encode())
    for path, target in zip(folder.files, folder.targets):
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{target}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


class PixelFile:
    """The cached rows as a read-only array: len, shape, dtype, and indexing by int, slice or index array."""

    def __init__(self, path: Path, shape: tuple[int, ...]):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(np.uint8)
        self.row = int(np.prod(shape[1:]))
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, start: int, count: int) -> np.ndarray:
        raw = os.pread(self._fd, count * self.row, start * self.row)
        return np.frombuffer(raw, np.uint8).reshape(count, *self.shape[1:])

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            rows = self._rows(start, max(0, stop - start))
            return rows[::step] if step != 1 else rows
        if np.isscalar(index):
            return self._rows(int(index) % len(self), 1)[0]
        indices = np.asarray(index, np.int64).reshape(-1)
        out = np.empty((len(indices), *self.shape[1:]), np.uint8)
        for position, row in enumerate(indices):
            out[position] = self._rows(int(row), 1)[0]
        return out

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class Rows:
    """Some rows of a PixelFile, in the order of INDICES, indexed as an array of them (read when indexed)."""

    def __init__(self, pixels: PixelFile, indices):
        self.pixels, self.indices = pixels, np.asarray(indices, np.int64)
        self.shape, self.dtype = (len(self.indices), *pixels.shape[1:]), pixels.dtype

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        picked = self.indices[index]
        return self.pixels[int(picked)] if np.isscalar(picked) else self.pixels[picked]


def _checked(entry: Path) -> tuple[PixelFile, np.ndarray, list]:
    """(pixels, targets, skipped) of ENTRY after checking its files against meta.json; ValueError says what is off."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        shape, crc, skipped = [int(n) for n in meta["shape"]], meta["crc32"], list(meta["skipped"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"meta.json unreadable ({exc})") from None
    rows = entry / "pixels.u8"
    if rows.stat().st_size != int(np.prod(shape)) or file_crc32(rows) != crc["pixels.u8"]:
        raise ValueError("pixels.u8 does not match its size and checksum")
    if file_crc32(entry / "targets.npy") != crc["targets.npy"]:
        raise ValueError("targets.npy does not match its checksum")
    targets = np.load(entry / "targets.npy", allow_pickle=False)
    if targets.shape != (shape[0],):
        raise ValueError("targets.npy does not match pixels.u8")
    return PixelFile(rows, shape), targets, skipped


def _sound(entry: Path, folder: LabelledFolder) -> tuple[PixelFile, np.ndarray] | None:
    """(pixels, targets) of the complete, sound ENTRY, or None; skipped files are recorded in folder.skipped. A
    damaged entry is said and removed."""
    if not (entry / "meta.json").is_file():
        return None
    try:
        pixels, targets, skipped = _checked(entry)
    except (OSError, ValueError) as exc:
        print(f"warning: pixel cache {entry}: damaged ({exc}); decoding the photos again", file=sys.stderr)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    folder.skipped[:] = [Path(p) for p in skipped]
    return pixels, targets


def existing(folder: LabelledFolder, spec: ModelSpec, root: Path | None = None) -> tuple[PixelFile, np.ndarray] | None:
    """(pixels, targets) of a complete, sound entry for FOLDER at SPEC under ROOT, or None; skipped files are
    recorded in folder.skipped as `cached` does. A damaged entry is said and removed."""
    return _sound((root or default_root()) / key(folder, spec), folder)


def cached(folder: LabelledFolder, spec: ModelSpec, root: Path | None = None) -> tuple[PixelFile, np.ndarray, bool]:
    """(pixels, targets, built): FOLDER's images at SPEC's size from the cache under ROOT, decoding them first when
    no complete entry matches. Unreadable files are skipped (and recorded in folder.skipped) as in edge.folders."""
    root = root or default_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--cache-dir {root}: cannot make the pixel cache there ({exc.strerror}); give a writable "
                        "folder (or set EDGE_CACHE_DIR)") from None
    entry = root / key(folder, spec)
    found = _sound(entry, folder)
    if found is None:
        try:
            _build(entry, folder, spec)
        except OSError as exc:
            if not disk_full(exc):
                raise
            raise UserError(f"pixel cache {root}: no space left on its disk for the decoded pixels of {folder.root}; "
                            "free some space, or move the cache to a disk with room (EDGE_CACHE_DIR, or train's "
                            "--cache-dir)") from None
        found = _sound(entry, folder)  # read back as any later run reads it (or the entry another run completed)
        if found is None:
            raise UserError(f"--cache-dir {root}: the pixel cache entry just written does not read back (disk full or "
                            "failing?); free some space or choose another folder")
        return (*found, True)
    return (*found, False)


def _build(entry: Path, folder: LabelledFolder, spec: ModelSpec) -> None:
    """Decode FOLDER at SPEC into the cache ENTRY, written as decoded: one block of images is held in memory."""
    with staged_folder(entry, flag="--cache-dir", keep_first=True) as tmp, open(tmp / "pixels.u8", "wb") as rows:
        keep, shape, crc = [], None, 0
        for index, image in decoded(folder, lambda image: to_pixels(image, spec)):
            block = image.tobytes()
            rows.write(block)
            crc = zlib.crc32(block, crc)
            keep.append(index)
            shape = image.shape
        rows.close()
        np.save(tmp / "targets.npy", kept_targets(folder, keep))
        meta = {"shape": [len(keep), *shape], "skipped": [str(p) for p in folder.skipped],
                "crc32": {"pixels.u8": crc, "targets.npy": file_crc32(tmp / "targets.npy")}}
        (tmp / "meta.json").write_text(json.dumps(meta))

