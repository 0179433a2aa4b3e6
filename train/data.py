"""Folder data sets: DATA/{train,test}/<class>/ as given, or DATA/<class>/ split 80/20 by class with a fixed seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.folders import LabelledFolder, class_folder, load_pixels
from edge.preprocess import to_pixels
from edge.spec import ModelSpec


@dataclass
class Split:
    classes: list[str]
    train_x: np.ndarray  # uint8 pixels (N, H, W, C) at the model's size, from edge.preprocess.to_pixels
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    train_dir: Path  # where calibration images for int8 come from
    skipped: int


def _subset(folder: LabelledFolder, indices) -> LabelledFolder:
    return LabelledFolder(folder.root, folder.classes, [folder.files[i] for i in indices], [folder.targets[i] for i in indices])


def folders(data: Path, test_fraction: float, seed: int) -> tuple[LabelledFolder, LabelledFolder, Path]:
    """(train, test, train_dir): the train/ and test/ sub-folders when both exist, else a stratified split of DATA."""
    data = Path(data)
    if (data / "train").is_dir() and (data / "test").is_dir():
        train, test = class_folder(data / "train"), class_folder(data / "test")
        if train.classes != test.classes:
            raise UserError(f"{data}: train/ has classes {train.classes} but test/ has {test.classes}; make them match")
        return train, test, data / "train"
    from sklearn.model_selection import train_test_split

    folder = class_folder(data)
    counts = np.bincount(folder.targets)
    if counts.min() < 2:
        raise UserError(f"{data}: class {folder.classes[int(counts.argmin())]!r} has {counts.min()} image; "
                        "a train/test split needs at least 2 per class")
    train_idx, test_idx = train_test_split(np.arange(len(folder.files)), test_size=test_fraction,
                                           stratify=folder.targets, random_state=seed)
    return _subset(folder, sorted(train_idx)), _subset(folder, sorted(test_idx)), data


def load(train: LabelledFolder, test: LabelledFolder, train_dir: Path, spec: ModelSpec) -> Split:
    """Decode and resize every image once, through the same function the device uses."""
    decode = lambda image: to_pixels(image, spec)  # noqa: E731
    train_x, train_y = load_pixels(train, decode)
    test_x, test_y = load_pixels(test, decode)
    return Split(train.classes, train_x, train_y, test_x, test_y, train_dir, len(train.skipped) + len(test.skipped))
