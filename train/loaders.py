"""Recipe loaders: (data path, TrainConfig) -> Dataset, the examples as arrays with the spec that turns a camera
frame into the model's input. Folder photos are decoded once at the model's size, through edge.preprocess."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import edge
from edge.errors import UserError
from edge.folders import read_arrays
from edge.spec import ModelSpec
from train import array_formats, fashion_mnist
from train.config import TrainConfig

TEST_LIST = "test_files.txt"  # in the run folder: the photos held out of a folder that training split
CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class Dataset:
    spec: ModelSpec
    x: np.ndarray  # training examples: uint8 pixels at the model's size (a pixel_cache.PixelFile for photos), or floats
    y: np.ndarray  # class indices, or values for regression
    test_x: np.ndarray | None = None  # None: k-fold cross-validation on x
    test_y: np.ndarray | None = None
    source: str = ""
    from_folder: bool = False  # photos on disk: calibration reads them there, the run folder keeps no copy
    skipped_files: int = 0  # unreadable images
    leaked_test_files: int = 0  # test files byte-identical to a training file
    test_list: list[str] | None = None  # photos held out of a folder without train/ and test/ (paths under `source`)


def _spec(config: TrainConfig, recipe: str, **fields) -> ModelSpec:
    spec = ModelSpec(**fields)
    return spec.with_provenance(recipe=recipe, model=config.backbone if config.transfer else config.model,
                                toolkit_version=edge.__version__)


def _file_list_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def _limited(x, y, test_x, test_y, limit: int):
    """The first LIMIT training and LIMIT/6 test examples (at least 10), as Fashion-MNIST's split is 60k/10k."""
    if not limit:
        return x, y, test_x, test_y
    test = max(10, limit // 6)
    return x[:limit], y[:limit], test_x[:test], test_y[:test]


def folder(data: Path, config: TrainConfig, recipe: str) -> Dataset:
    """A folder of class folders (DATA/{train,test}/<class>/ or DATA/<class>/, split by config.test_fraction)."""
    from train import data as folders

    train, test, train_dir = folders.folders(data, config.test_fraction, config.seed)
    if config.transfer:
        from train.backbones import BACKBONES

        chosen = BACKBONES[config.backbone]
        scaling = dict(color_order=chosen.color_order, channels=3, scale=chosen.scale, offset=chosen.offset)
    else:
        scaling = dict(color_order="gray" if config.grayscale else "rgb", channels=1 if config.grayscale else 3,
                       scale=1 / 255, offset=0.0)
    spec = _spec(config, recipe, task="binary" if len(train.classes) == 2 else "multiclass", labels=tuple(train.classes),
                 height=config.size, width=config.size, resize=config.resize, **scaling)
    split = train_dir == data  # a folder of class folders, split here: the held-out photos are listed in the run folder
    spec = spec.with_provenance(train_data=str(train_dir.resolve()), train_data_hash=_file_list_hash(train.files),
                                test_data=TEST_LIST if split else str(test.root.resolve()))
    started = time.perf_counter()
    pixels = folders.load(train, test, train_dir, spec, Path(config.cache_dir) if config.cache_dir else None, config.in_memory)
    print(f"data: {len(pixels.train_y)} train / {len(pixels.test_y)} test images, classes {pixels.classes}, "
          f"decoded in {time.perf_counter() - started:.0f} s")
    return Dataset(spec, pixels.train_x, pixels.train_y, pixels.test_x, pixels.test_y, str(data), True, pixels.skipped,
                   pixels.leaked, [str(f.relative_to(data)) for f in test.files] if split else None)


def fashion(data: Path | None, config: TrainConfig, recipe: str) -> Dataset:
    """Fashion-MNIST's four IDX files (the Debian package's when DATA is None)."""
    train_x, train_y, test_x, test_y, source = fashion_mnist.load(data)
    spec = _spec(config, recipe, task="multiclass", labels=fashion_mnist.LABELS, height=28, width=28, channels=1,
                 color_order="gray", resize="stretch", scale=1 / 255, offset=0.0)
    return Dataset(spec, *_limited(train_x, train_y, test_x, test_y, config.limit), source)


def cifar10(data: Path, config: TrainConfig, recipe: str) -> Dataset:
    """CIFAR-10 saved as one .npz: x_train (N, 32, 32, 3) uint8, y_train (N,) or (N, 1), x_test, y_test."""
    arrays = read_arrays(data, ("x_train", "y_train", "x_test", "y_test"))
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"].reshape(-1)
        if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3) or len(y) != len(x):
            raise UserError(f"--data {data}: x_{part} is {x.dtype} {x.shape} with {len(y)} labels; want uint8 (N, 32, 32, 3) "
                            "and N labels")
        if len(y) and (y.min() < 0 or y.max() >= len(CIFAR10_LABELS)):
            raise UserError(f"--data {data}: y_{part} holds {y.min()}..{y.max()}; CIFAR-10 classes are 0-9")
        arrays[f"y_{part}"] = y.astype(np.int64)
    spec = _spec(config, recipe, task="multiclass", labels=CIFAR10_LABELS, height=32, width=32, channels=3,
                 color_order="rgb", resize="stretch", scale=1 / 255, offset=0.0)
    return Dataset(spec, *_limited(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], config.limit),
                   str(data))


def emojis(data: Path, config: TrainConfig, recipe: str) -> Dataset:
    """The emoji text file; k-fold over every row."""
    x, y, labels = array_formats.read_emojis(data)
    spec = _spec(config, recipe, task="binary" if len(labels) == 2 else "multiclass", labels=labels, height=32, width=32,
                 channels=1, color_order="gray", resize="stretch", scale=1 / 255, offset=0.0)
    return Dataset(spec, x, y, source=str(data))


def navigability(data: Path, config: TrainConfig, recipe: str) -> Dataset:
    """Elevation tiles from an .npz, standardised by their mean and deviation (the spec carries both to the device)."""
    x, y = array_formats.read_navigability(data)
    mean, std = float(x.mean()), float(x.std()) or 1.0
    spec = _spec(config, recipe, task="regression", labels=(), height=20, width=20, channels=4, color_order="none",
                 resize="stretch", scale=1 / std, offset=-mean / std)
    return Dataset(spec, x, y, source=str(data))
