"""Recipes on a folder of class folders. Transfer learning computes the frozen part of an ImageNet backbone once
(plus augmented passes) and trains the head, then optionally fine-tunes the backbone's top layers on those cached
features; the CNNs (the reference base CNN and the cats-vs-dogs CNN) train end to end with augmentation."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

import edge
from convert import keras_file
from edge.atomic import write_text
from edge.errors import UserError
from edge.preprocess import normalize
from edge.spec import ModelSpec
from train import backbones, evaluation, fit, models, run_folder
from train import data as datasets

CNNS = {"base_cnn": models.base_cnn, "edge_cnn": models.edge_cnn, "cats_dogs_cnn": models.cats_dogs_cnn,
        "cats_dogs_bn_cnn": partial(models.cats_dogs_cnn, batch_norm=True)}


@dataclass(frozen=True)
class Settings:
    architecture: str  # "transfer", or a key of CNNS
    size: int
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    backbone: str = "mobilenet_v2"
    weights: str | None = None  # backbone weights: a .weights.h5 file or "imagenet"
    augment_passes: int = 0  # extra augmented passes through the frozen backbone (transfer only)
    fine_tune_layers: int = 0  # transfer: train at least this many of the backbone's last layers after the head
    fine_tune_epochs: int = 10
    fine_tune_learning_rate: float = 1e-5
    balance: str = "none"  # "none", "weights" (class weights) or "undersample" (the majority classes)
    grayscale: bool = False  # one-channel input (CNNs only), as the reference cats-vs-dogs CNN
    resize: str = "center_crop"  # or "stretch" (what Keras' image_dataset_from_directory does), "letterbox"
    test_fraction: float = 0.2
    validation_fraction: float = 0.1  # of the training images: curves and the best epoch
    cosine: bool = False  # CNNs: cosine learning-rate decay to zero over the run


def _file_list_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def _loss(num_classes: int) -> str:
    return "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"


def _balanced(targets: np.ndarray, settings: Settings, rng) -> tuple[np.ndarray, dict | None]:
    """(indices to train on, class weights or None) as --balance asks."""
    indices = np.arange(len(targets))
    if settings.balance == "undersample":
        smallest = np.bincount(targets).min()
        indices = np.sort(np.concatenate([rng.permutation(np.flatnonzero(targets == c))[:smallest] for c in np.unique(targets)]))
        print(f"undersampled to {smallest} images per class: {len(indices)} of {len(targets)}")
    if settings.balance != "weights":
        return indices, None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(targets)
    weights = compute_class_weight("balanced", classes=classes, y=targets)
    return indices, {int(c): float(w) for c, w in zip(classes, weights)}


def _batches(x: np.ndarray, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]


def _run_through(model, pixels: np.ndarray, spec: ModelSpec, augment=None) -> np.ndarray:
    out = []
    for chunk in _batches(pixels, 64):
        x = normalize(chunk, spec)
        out.append(model.predict_on_batch(augment(x, training=True) if augment is not None else x))
    return np.concatenate(out)


def _compile(model, rate: float, num_classes: int):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(rate), loss=_loss(num_classes), metrics=["accuracy"])


def _train_cnn(split: datasets.Split, spec: ModelSpec, settings: Settings, train_idx, val_idx, class_weight):
    import tensorflow as tf

    build = lambda: CNNS[settings.architecture](spec.input_shape, len(spec.labels))  # noqa: E731
    model = build()
    rate = fit.learning_rate(settings.learning_rate, settings.cosine, settings.epochs, len(train_idx), settings.batch_size)
    _compile(model, rate, len(spec.labels))
    augment = models.augmentation(settings.seed)
    train = (tf.data.Dataset.from_tensor_slices((normalize(split.train_x[train_idx], spec), split.train_y[train_idx]))
             .shuffle(len(train_idx), seed=settings.seed)
             .batch(settings.batch_size)
             .map(lambda x, y: (augment(x, training=True), y))  # sequential: augmentation draws random numbers in a fixed order
             .prefetch(tf.data.AUTOTUNE))
    validation = (normalize(split.train_x[val_idx], spec), split.train_y[val_idx])
    outcome = fit.fit(model, train, validation, epochs=settings.epochs, class_weight=class_weight)
    inference = build()  # same weights, no optimizer state to save
    inference.set_weights(model.get_weights())
    predict = lambda pixels: inference.predict(normalize(pixels, spec), batch_size=64, verbose=0)  # noqa: E731
    embed = lambda pixels: evaluation.penultimate(inference).predict(normalize(pixels, spec), batch_size=64, verbose=0)  # noqa: E731
    return inference, outcome, predict(split.train_x), predict(split.test_x), embed(split.train_x), embed(split.test_x)


def _train_transfer(split: datasets.Split, spec: ModelSpec, settings: Settings, train_idx, val_idx, class_weight):
    import keras

    backbone = backbones.backbone(settings.backbone, spec.input_shape, settings.weights)
    bottom, top = backbones.split(backbone, settings.fine_tune_layers)
    started = time.perf_counter()
    augment = models.augmentation(settings.seed)
    train_cut = [_run_through(bottom, split.train_x, spec)]  # cached: the frozen part runs once per pass
    train_cut += [_run_through(bottom, split.train_x, spec, augment) for _ in range(settings.augment_passes)]
    test_cut = _run_through(bottom, split.test_x, spec)
    print(f"frozen backbone: {sum(map(len, train_cut)) + len(test_cut)} images in {time.perf_counter() - started:.0f} s")
    pool = (lambda cut: top.predict(cut, batch_size=256, verbose=0)) if top is not None else (lambda cut: cut)  # noqa: E731

    passes = len(train_cut)
    fit_idx = np.concatenate([train_idx + p * len(split.train_y) for p in range(passes)])  # every pass of the training images
    fit_y = np.tile(split.train_y, passes)[fit_idx]
    features = np.concatenate([pool(c) for c in train_cut])
    head = models.head(features.shape[1], len(spec.labels))
    _compile(head, settings.learning_rate, len(spec.labels))
    validation = (features[val_idx], split.train_y[val_idx])  # un-augmented pass only
    outcome = fit.fit(head, (features[fit_idx], fit_y), validation, epochs=settings.epochs, batch_size=settings.batch_size,
                      shuffle=True, class_weight=class_weight)
    if top is not None and settings.fine_tune_epochs:
        trained = backbones.unfreeze(top)
        print(f"fine-tuning {trained} layers of {settings.backbone} with the head, learning rate {settings.fine_tune_learning_rate}")
        cut_input = keras.Input(top.input_shape[1:])
        tuned = keras.Model(cut_input, head(top(cut_input, training=False)))
        _compile(tuned, settings.fine_tune_learning_rate, len(spec.labels))
        all_cut = np.concatenate(train_cut)
        outcome = outcome.extend(fit.fit(tuned, (all_cut[fit_idx], fit_y), (train_cut[0][val_idx], split.train_y[val_idx]),
                                         epochs=settings.fine_tune_epochs, batch_size=settings.batch_size, shuffle=True,
                                         class_weight=class_weight))
    model = models.stack(backbone, head, spec.input_shape)
    predict = lambda cut: head.predict(pool(cut), batch_size=256, verbose=0)  # noqa: E731
    return model, outcome, predict(train_cut[0]), predict(test_cut), pool(train_cut[0]), pool(test_cut)


def _spec(recipe: str, settings: Settings, train_folder, train_dir: Path) -> ModelSpec:
    if settings.architecture == "transfer":
        if settings.grayscale:
            raise UserError("--grayscale: ImageNet backbones take RGB input; use --model base_cnn or cats_dogs_cnn")
        config = backbones.BACKBONES[settings.backbone]
        pixels = dict(color_order=config.color_order, channels=3, scale=config.scale, offset=config.offset)
    else:
        pixels = dict(color_order="gray" if settings.grayscale else "rgb", channels=1 if settings.grayscale else 3,
                      scale=1 / 255, offset=0.0)
    return ModelSpec(
        task="binary" if len(train_folder.classes) == 2 else "multiclass", labels=tuple(train_folder.classes),
        height=settings.size, width=settings.size, resize=settings.resize, **pixels,
    ).with_extra(recipe=recipe, architecture=settings.architecture if settings.architecture != "transfer" else settings.backbone,
                 toolkit_version=edge.__version__, train_data=str(train_dir.resolve()),
                 train_data_hash=_file_list_hash(train_folder.files))


def run(recipe: str, data: Path, out: Path, settings: Settings) -> dict:
    """Train, evaluate on the held-out split, and write the run folder OUT."""
    import keras

    if settings.architecture == "transfer" and not settings.weights:
        raise UserError(f"--weights is needed for --model transfer: a {settings.backbone} .weights.h5 (no top), "
                        "or 'imagenet' when online")
    keras.utils.set_random_seed(settings.seed)
    train_folder, test_folder, train_dir = datasets.folders(data, settings.test_fraction, settings.seed)
    spec = _spec(recipe, settings, train_folder, train_dir)
    started = time.perf_counter()
    split = datasets.load(train_folder, test_folder, train_dir, spec)
    print(f"data: {len(split.train_y)} train / {len(split.test_y)} test images, classes {split.classes}, "
          f"decoded in {time.perf_counter() - started:.0f} s")
    train_idx, val_idx = fit.validation_split(split.train_y, settings.validation_fraction, settings.seed)
    keep, class_weight = _balanced(split.train_y[train_idx], settings, np.random.default_rng(settings.seed))
    train_idx = train_idx[keep]
    trainer = _train_transfer if settings.architecture == "transfer" else _train_cnn
    model, outcome, train_scores, test_scores, train_features, test_features = trainer(
        split, spec, settings, np.sort(train_idx), np.sort(val_idx), class_weight)
    metrics = {
        "recipe": recipe, "settings": asdict(settings), "data": str(data), "skipped_files": split.skipped,
        "leaked_test_files": split.leaked, "class_weight": class_weight,
        "seconds": round(time.perf_counter() - started, 1), "parameters": int(model.count_params()),
        "train": evaluation.summary(train_scores, split.train_y, spec),
        "test": evaluation.summary(test_scores, split.test_y, spec),
        "history": outcome.history, "epoch_seconds": outcome.epoch_seconds, "best_epoch": outcome.best_epoch,
        "phases": outcome.phases, "interrupted": outcome.interrupted,
    }
    metrics["train_test_gap"] = round(metrics["train"]["accuracy"] - metrics["test"]["accuracy"], 4)
    name = recipe.replace("-", "_")
    with run_folder.staged(out) as tmp:
        keras_file.save(model, spec, tmp / f"{name}.keras")
        write_text(tmp / "metrics.json", json.dumps(metrics, indent=2))
        evaluation.save_arrays(tmp, model, None, split.test_x, split.test_y, test_scores, spec, features=test_features,
                               extra_features=(train_features, split.train_y))
        evaluation.write_report(tmp)
    return metrics
