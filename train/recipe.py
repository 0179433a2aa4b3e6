"""One recipe for a folder of class folders: the reference base CNN trained end to end with augmentation, or a
frozen MobileNetV2 backbone whose features are computed once and a small head trained on them."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import edge
from convert import keras_file
from edge.atomic import write_text
from edge.errors import UserError
from edge.preprocess import normalize
from edge.spec import ModelSpec
from train import data as datasets
from train import models, report


@dataclass(frozen=True)
class Settings:
    architecture: str  # "base_cnn" or "mobilenet_v2"
    size: int
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    weights: str | None = None  # MobileNetV2 weights: a .weights.h5 file or "imagenet"
    augment_passes: int = 0  # extra augmented passes through the frozen backbone (transfer only)
    grayscale: bool = False  # one-channel input (base_cnn only), as the reference cats-vs-dogs CNN
    test_fraction: float = 0.2


PREPROCESSING = {  # how each architecture wants its pixels
    "base_cnn": dict(scale=1 / 255, offset=0.0),
    "mobilenet_v2": dict(scale=1 / 127.5, offset=-1.0),
}


def _file_list_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def _loss(num_classes: int) -> str:
    return "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"


def _batches(x: np.ndarray, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]


def _train_base_cnn(split: datasets.Split, spec: ModelSpec, settings: Settings):
    import keras
    import tensorflow as tf

    model = models.base_cnn(spec.input_shape, len(spec.labels))
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=_loss(len(spec.labels)), metrics=["accuracy"])
    augment = models.augmentation(settings.seed)
    train = (tf.data.Dataset.from_tensor_slices((normalize(split.train_x, spec), split.train_y))
             .shuffle(len(split.train_y), seed=settings.seed)
             .batch(settings.batch_size)
             .map(lambda x, y: (augment(x, training=True), y))  # sequential: augmentation draws random numbers in a fixed order
             .prefetch(tf.data.AUTOTUNE))
    history = model.fit(train, epochs=settings.epochs, verbose=2, shuffle=False)  # the dataset shuffles itself
    inference = models.base_cnn(spec.input_shape, len(spec.labels))  # same weights, no optimizer state to save
    inference.set_weights(model.get_weights())
    predict = lambda pixels: inference.predict(normalize(pixels, spec), batch_size=64, verbose=0)  # noqa: E731
    return inference, history.history, predict(split.train_x), predict(split.test_x)


def _features(backbone, pixels: np.ndarray, spec: ModelSpec, augment=None) -> np.ndarray:
    out = []
    for chunk in _batches(pixels, 64):
        x = normalize(chunk, spec)
        if augment is not None:
            x = augment(x, training=True)
        out.append(backbone.predict_on_batch(x))
    return np.concatenate(out)


def _train_transfer(split: datasets.Split, spec: ModelSpec, settings: Settings):
    import keras

    backbone = models.mobilenet_v2_backbone(spec.input_shape, settings.weights)
    started = time.perf_counter()
    train_features = [_features(backbone, split.train_x, spec)]
    augment = models.augmentation(settings.seed)
    train_features += [_features(backbone, split.train_x, spec, augment) for _ in range(settings.augment_passes)]
    test_features = _features(backbone, split.test_x, spec)
    print(f"backbone features: {sum(map(len, train_features)) + len(test_features)} images in "
          f"{time.perf_counter() - started:.0f} s")
    top = models.head(train_features[0].shape[1], len(spec.labels))
    top.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=_loss(len(spec.labels)), metrics=["accuracy"])
    targets = np.concatenate([split.train_y] * len(train_features))
    history = top.fit(np.concatenate(train_features), targets, epochs=settings.epochs, batch_size=settings.batch_size,
                      shuffle=True, verbose=2)
    model = models.stack(backbone, top, spec.input_shape)
    predict = lambda features: top.predict(features, batch_size=256, verbose=0)  # noqa: E731
    return model, history.history, predict(train_features[0]), predict(test_features)


TRAINERS = {"base_cnn": _train_base_cnn, "mobilenet_v2": _train_transfer}


def run(recipe: str, data: Path, out: Path, settings: Settings) -> dict:
    """Train, evaluate on the held-out split, and write OUT (.keras with spec) and OUT's .metrics.json."""
    import keras

    if settings.grayscale and settings.architecture != "base_cnn":
        raise UserError(f"--grayscale: {settings.architecture} takes RGB input; use --model base_cnn for grayscale")
    keras.utils.set_random_seed(settings.seed)
    train_folder, test_folder, train_dir = datasets.folders(data, settings.test_fraction, settings.seed)
    spec = ModelSpec(
        task="binary" if len(train_folder.classes) == 2 else "multiclass", labels=tuple(train_folder.classes),
        height=settings.size, width=settings.size, channels=1 if settings.grayscale else 3,
        color_order="gray" if settings.grayscale else "rgb", resize="center_crop",
        **PREPROCESSING[settings.architecture],
    ).with_extra(recipe=recipe, architecture=settings.architecture, toolkit_version=edge.__version__,
                 train_data=str(train_dir.resolve()), train_data_hash=_file_list_hash(train_folder.files))
    started = time.perf_counter()
    split = datasets.load(train_folder, test_folder, train_dir, spec)
    print(f"data: {len(split.train_y)} train / {len(split.test_y)} test images, classes {split.classes}, "
          f"decoded in {time.perf_counter() - started:.0f} s")
    model, history, train_scores, test_scores = TRAINERS[settings.architecture](split, spec, settings)
    metrics = {
        "recipe": recipe, "model": str(out), "settings": settings.__dict__, "data": str(data),
        "skipped_files": split.skipped, "seconds": round(time.perf_counter() - started, 1),
        "train": report.classification(train_scores, split.train_y, spec),
        "test": report.classification(test_scores, split.test_y, spec),
        "history": {k: [round(float(v), 4) for v in values] for k, values in history.items()},
    }
    keras_file.save(model, spec, out)
    write_text(out.with_suffix(".metrics.json"), json.dumps(metrics, indent=2))
    return metrics
