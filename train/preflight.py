"""What a training run checks before TensorFlow loads, in about a second: the settings transfer learning needs, the
weights file, the output folder and the data's layout (class folders are listed, no photo is decoded), so that a
mistake is one line at once rather than after a minute of start-up and decoding."""

from __future__ import annotations

import os
from pathlib import Path

from edge.atomic import writable_folder
from edge.errors import UserError
from train import loaders
from train.config import TrainConfig
from train.recipes import Recipe

WEIGHTS_HELP = ("transfer learning starts from ImageNet weights: --weights imagenet (downloaded once, online) or "
                "--weights FILE.weights.h5 (offline: the backbone without its top, see docs/guides/your-photos.md); or "
                "train a small CNN from scratch, no weights: --arch edge_cnn")


def processes() -> int:
    """The processes of the job, as KERAS_DISTRIBUTION_NUM_PROCESSES says (1 without it)."""
    return int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") or 1)


def _transfer(config: TrainConfig) -> None:
    if not config.weights:
        raise UserError(f"--weights: {WEIGHTS_HELP}")
    if config.weights != "imagenet" and not Path(config.weights).is_file():
        raise UserError(f"--weights {config.weights}: no such file; {WEIGHTS_HELP}")
    if config.grayscale:
        raise UserError("--grayscale: ImageNet backbones take RGB input; use --arch base_cnn or cats_dogs_cnn")
    if processes() > 1:
        raise UserError("--arch transfer: one host only (a head trains on cached features in seconds); "
                        "several processes train the end-to-end CNNs")
    if config.mixed_precision:
        raise UserError("--mixed-precision: end-to-end CNNs only; transfer learning trains a small head on cached "
                        "features, where 16-bit compute saves little")


def _data(recipe: Recipe, data: Path | None) -> None:
    if data is None:
        return
    if recipe.load is loaders.folder:
        from train.data import scan

        scan(data, warn=False)
    elif not data.exists():
        raise UserError(f"--data {data}: no such file or folder; {recipe.data_help}")


def check(recipe: Recipe, data: Path | None, out: Path, config: TrainConfig) -> None:
    """UserError for anything known to stop RECIPE's run on DATA into OUT with CONFIG, before any work."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; a run writes a folder, pick a folder name")
    if config.transfer:
        _transfer(config)
    _data(recipe, data)
    writable_folder(out.absolute().parent, "--out")  # before training, not after it
