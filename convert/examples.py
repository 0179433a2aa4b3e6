"""Held-out and calibration examples: a folder of class folders (images), or an .npz with arrays `x` and `y`
(raw values, e.g. 20x20x4 elevation tiles with a score). Pixels stay uint8 (photos are decoded once into the pixel
cache that `train` fills too, edge/pixel_cache.py, and read back a batch at a time) and go through
edge.preprocess.normalize one batch at a time, so that neither the size of a data set nor the calibration count
drives memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge.errors import UserError
from edge import pixel_cache
from edge.folders import LabelledFolder, class_folder, read_xy, stratified
from edge.preprocess import normalize
from edge.progress import progress
from edge.spec import ModelSpec

BATCH = 32  # examples per predict call: bounds the activations any runner holds at once


@dataclass
class Examples:
    pixels: np.ndarray  # uint8 model pixels (N, H, W, C) from the pixel cache, or the raw rows of an .npz
    targets: np.ndarray  # class indices, or values for regression
    spec: ModelSpec
    files: list[Path] | None = None  # the images they came from, when they came from images

    def __len__(self) -> int:
        return len(self.pixels)

    def batches(self, size: int = BATCH, what: str = "") -> Iterator[np.ndarray]:
        """Float32 model inputs, SIZE examples at a time, in order; with WHAT, counted on a progress bar."""
        starts = range(0, len(self), size)
        for start in progress(starts, len(starts), what, "batches") if what else starts:
            yield normalize(self.pixels[start : start + size], self.spec)

    def scores(self, predict: Callable[[np.ndarray], np.ndarray], size: int = BATCH, what: str = "") -> np.ndarray:
        """PREDICT (float batch -> scores) over every example, batch by batch (WHAT names the progress bar)."""
        return np.concatenate([np.asarray(predict(batch)) for batch in self.batches(size, what)])


def _arrays(path: Path, spec: ModelSpec, flag: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_xy(path, flag)
    if x.shape[1:] != spec.input_shape or len(y) != len(x):
        raise UserError(f"{flag} {path}: x has shape {x.shape} and y {y.shape}; the model wants x (N, "
                        f"{', '.join(map(str, spec.input_shape))}) and one y per row")
    if spec.task != "regression" and not np.isin(y, np.arange(len(spec.labels))).all():
        raise UserError(f"{flag} {path}: y must hold class indices 0..{len(spec.labels) - 1} for this model")
    return x, y


def _folder(path: Path, spec: ModelSpec, flag: str) -> LabelledFolder:
    if spec.task == "regression":
        raise UserError(f"{flag} {path}: a regression model needs an .npz with arrays x and y, not an image folder")
    folder = class_folder(path)
    if folder.classes != list(spec.labels):
        raise UserError(f"{flag} {path}: class folders {folder.classes} do not match the model's labels "
                        f"{list(spec.labels)}; point {flag} at data for this model")
    return folder


def _decoded(folder: LabelledFolder, spec: ModelSpec, cache: Path | None) -> Examples:
    """FOLDER's photos at SPEC's size from the pixel cache under CACHE, decoded there first if no entry matches."""
    pixels, targets, _ = pixel_cache.cached(folder, spec, cache)
    skipped = set(folder.skipped)
    return Examples(pixels, targets, spec, [f for f in folder.files if f not in skipped])


def _listed(path: Path, spec: ModelSpec) -> LabelledFolder:
    """The photos a list file names (one `<class>/<file>` per line, under the training folder the spec records):
    what `train` held out of a folder it split."""
    root = Path(spec.provenance.train_data)
    files = [root / line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    missing = [f for f in files if not f.is_file()]
    if missing or not files:
        raise UserError(f"{path}: lists {len(files)} held-out photos under {root}, {len(missing)} of them missing "
                        f"(e.g. {missing[0] if missing else 'none listed'}); give --data with held-out class folders")
    unknown = sorted({f.parent.name for f in files} - set(spec.labels))
    if unknown:
        raise UserError(f"{path}: classes {unknown} are not the model's labels {list(spec.labels)}; give --data")
    return LabelledFolder(root, list(spec.labels), files, [spec.labels.index(f.parent.name) for f in files])


def load(path: Path, spec: ModelSpec, flag: str = "--data", cache: Path | None = None) -> Examples:
    """Every example of PATH (class folders, an .npz, or a list of held-out photos that `train` wrote); unreadable
    images are skipped with a warning. Photos come from the pixel cache under CACHE (default: edge/pixel_cache.py's)."""
    if path.suffix == ".npz":
        x, y = _arrays(path, spec, flag)
        return Examples(x, y.astype(np.float32 if spec.task == "regression" else np.int64), spec)
    return _decoded(_listed(path, spec) if path.suffix == ".txt" else _folder(path, spec, flag), spec, cache)


def calibration(path: Path, spec: ModelSpec, count: int, seed: int = 0, held_out: Examples | None = None,
                cache: Path | None = None) -> Examples:
    """Up to COUNT examples for int8 calibration, stratified by class, chosen with a fixed seed; never one of the
    HELD_OUT photos (the training folder of a split run holds the test photos too). Where `train` cached these very
    photos under CACHE, the chosen rows are read from its entry; otherwise only the chosen photos are decoded."""
    rng = np.random.default_rng(seed)
    if path.suffix == ".npz":
        x, y = _arrays(path, spec, "--calib")
        rows = np.sort(rng.choice(len(x), size=min(count, len(x)), replace=False)) if spec.task == "regression" \
            else stratified(y, count, rng)
        return Examples(x[rows], y[rows], spec)
    folder = _folder(path, spec, "--calib")
    if held_out is not None and held_out.files:
        test = {f.resolve() for f in held_out.files}
        kept = [i for i, f in enumerate(folder.files) if f.resolve() not in test]
        folder = LabelledFolder(folder.root, folder.classes, [folder.files[i] for i in kept],
                                [folder.targets[i] for i in kept])
    rows = stratified(np.asarray(folder.targets), count, rng)
    whole = pixel_cache.existing(folder, spec, cache)
    if whole is not None and not folder.skipped:  # row i of the entry is folder.files[i]
        return Examples(pixel_cache.Rows(whole[0], rows), whole[1][rows], spec, [folder.files[i] for i in rows])
    return _decoded(LabelledFolder(folder.root, folder.classes, [folder.files[i] for i in rows],
                                   [folder.targets[i] for i in rows]), spec, cache)
