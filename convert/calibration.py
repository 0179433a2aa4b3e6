"""Calibration images for int8: a class-stratified sample of training images, through edge.preprocess.prepare."""

from __future__ import annotations

import numpy as np

from edge.folders import LabelledFolder, load_pixels
from edge.preprocess import normalize, to_pixels
from edge.spec import ModelSpec


def sample_files(folder: LabelledFolder, count: int, seed: int = 0) -> LabelledFolder:
    """Up to COUNT files, the same share from every class, chosen with a fixed seed."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(folder.targets)
    per_class = max(1, count // len(folder.classes))
    picked = []
    for index in range(len(folder.classes)):
        members = np.flatnonzero(targets == index)
        picked += list(rng.choice(members, size=min(per_class, len(members)), replace=False))
    picked.sort()
    return LabelledFolder(folder.root, folder.classes, [folder.files[i] for i in picked], [folder.targets[i] for i in picked])


def calibration_inputs(folder: LabelledFolder, spec: ModelSpec, count: int, seed: int = 0) -> np.ndarray:
    """float32 (N, H, W, C) model inputs for int8 calibration."""
    pixels, _ = load_pixels(sample_files(folder, count, seed), lambda image: to_pixels(image, spec))
    return normalize(pixels, spec)
