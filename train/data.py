"""Folder data sets: DATA/{train,test}/<class>/ as given, or DATA/<class>/ split 80/20 by class with a fixed seed."""

from __future__ import annotations

import csv
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.folders import LabelledFolder, class_folder, load_pixels, split_folders
from edge.preprocess import to_pixels
from edge.spec import ModelSpec


@dataclass
class Split:
    classes: list[str]
    train_x: np.ndarray  # uint8 pixels (N, H, W, C) at the model's size, from edge.preprocess.to_pixels (or a PixelFile)
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    train_dir: Path  # where calibration images for int8 come from
    skipped: int
    leaked: int = 0  # test files byte-identical to a training file


def _subset(folder: LabelledFolder, indices) -> LabelledFolder:
    return LabelledFolder(folder.root, folder.classes, [folder.files[i] for i in indices], [folder.targets[i] for i in indices])


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def check_labels_file(data: Path, folder: LabelledFolder) -> None:
    """DATA/labels.csv (columns filepath, label; paths relative to DATA) must agree with the class folders."""
    path = data / "labels.csv"
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"filepath", "label"} <= set(rows[0]):
        raise UserError(f"{path}: needs the columns filepath and label; fix the header or remove the file")
    disagree = [r for r in rows if Path(r["filepath"]).parent.name != r["label"]]
    if disagree:
        first = disagree[0]
        raise UserError(f"{path}: {len(disagree)} rows disagree with the folders, e.g. {first['filepath']} is labelled "
                        f"{first['label']!r}; move the files or fix the labels")
    listed = {str(Path(r["filepath"])) for r in rows}
    missing = [f for f in folder.files if str(f.relative_to(data)) not in listed]
    if missing:
        _warn(f"{path}: {len(missing)} images in the folders are not listed, e.g. {missing[0]}")


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def leaked(train: LabelledFolder, test: LabelledFolder) -> int:
    """Test files byte-identical to a training file (leakage); warns with an example."""
    train_digests = {_digest(p): p for p in train.files}
    pairs = [(p, train_digests[d]) for p in test.files if (d := _digest(p)) in train_digests]
    if pairs:
        _warn(f"{len(pairs)} test images are byte-identical to training images (leakage inflates test accuracy), "
              f"e.g. {pairs[0][0]} == {pairs[0][1]}; remove them from one side")
    return len(pairs)


def _few(folder: LabelledFolder, where: str) -> None:
    counts = np.bincount(folder.targets, minlength=len(folder.classes))
    for name, count in zip(folder.classes, counts):
        if count < 2:
            _warn(f"{where}: class {name!r} has {count} image; it can hardly be learned or measured, add more")


def scan(data: Path, warn: bool = True) -> tuple[LabelledFolder, LabelledFolder | None]:
    """The class folders of DATA, listed without decoding a photo: (train, test) for DATA/{train,test}/<class>/,
    (every photo, None) for DATA/<class>/, which is then split; UserError for a layout a run cannot use (no class
    folders, one class, an empty class, classes that differ between train/ and test/, a class too small to split).
    WARN: warn about entries that are left out (the pre-flight check lists quietly, the run once more, aloud)."""
    data = Path(data)
    if split_folders(data):
        train, test = class_folder(data / "train", warn=warn), class_folder(data / "test", warn=warn)
        if train.classes != test.classes:
            raise UserError(f"{data}: train/ has classes {train.classes} but test/ has {test.classes}; make them match")
        return train, test
    folder = class_folder(data, warn=warn)
    counts = np.bincount(folder.targets)
    if counts.min() < 2:
        raise UserError(f"{data}: class {folder.classes[int(counts.argmin())]!r} has {counts.min()} image; "
                        "a train/test split needs at least 2 per class")
    return folder, None


def folders(data: Path, test_fraction: float, seed: int) -> tuple[LabelledFolder, LabelledFolder, Path]:
    """(train, test, train_dir): the train/ and test/ sub-folders when both exist, else a stratified split of DATA."""
    data = Path(data)
    train, test = scan(data)
    if test is not None:
        check_labels_file(data, LabelledFolder(data, train.classes, train.files + test.files, train.targets + test.targets))
        _few(train, str(data / "train"))
        return train, test, data / "train"
    from sklearn.model_selection import train_test_split

    check_labels_file(data, train)
    train_idx, test_idx = train_test_split(np.arange(len(train.files)), test_size=test_fraction,
                                           stratify=train.targets, random_state=seed)
    return _subset(train, sorted(train_idx)), _subset(train, sorted(test_idx)), data


def load(train: LabelledFolder, test: LabelledFolder, train_dir: Path, spec: ModelSpec, cache: Path | None = None,
         in_memory: bool = False) -> Split:
    """Decode and resize every image once, through the same function the device uses: into the on-disk cache
    under CACHE (edge/pixel_cache.py; pixels are then read a batch at a time), or into memory."""
    if in_memory:
        decode = lambda image: to_pixels(image, spec)  # noqa: E731
        (train_x, train_y), (test_x, test_y) = load_pixels(train, decode), load_pixels(test, decode)
    else:
        from edge import pixel_cache

        (train_x, train_y, built), (test_x, test_y, _) = pixel_cache.cached(train, spec, cache), pixel_cache.cached(test, spec, cache)
        print(f"pixel cache: {train_x.path.parent} ({'built' if built else 'reused'}; --cache-dir or EDGE_CACHE_DIR "
              "moves it)")
    skipped = len(train.skipped) + len(test.skipped)
    if skipped:
        _warn(f"{skipped} unreadable images skipped ({len(train.skipped)} train, {len(test.skipped)} test)")
    return Split(train.classes, train_x, train_y, test_x, test_y, train_dir, skipped, leaked(train, test))
