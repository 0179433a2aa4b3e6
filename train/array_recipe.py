"""Recipes on in-memory arrays (Fashion-MNIST, emojis, navigability): a given test split, or k-fold
cross-validation with out-of-fold predictions as the evaluation and a final model trained on every example."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import edge
from convert import keras_file
from edge.atomic import write_text
from edge.preprocess import normalize
from edge.spec import ModelSpec
from train import evaluation, fit, run_folder


CALIBRATION_EXAMPLES = 1024  # training examples kept beside the model for int8 calibration


@dataclass(frozen=True)
class ArraySettings:
    model: str
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    folds: int = 0  # 0: evaluate on the given test split
    validation_fraction: float = 0.1  # of the training part: curves and the best epoch
    augment: float = 0.0  # random shifts of up to this fraction of the size, and horizontal flips; 0: none
    cosine: bool = False  # cosine learning-rate decay to zero over the run
    erasing: float = 0.0  # probability of replacing a random rectangle (2-33% of the image) with noise; 0: never
    label_smoothing: float = 0.0  # multiclass: train towards 1 - s on the true class and s spread over all classes
    weight_decay: float = 0.0  # AdamW's decoupled decay (each step shrinks weights by learning rate x this); 0: Adam
    mirror: bool = False  # the saved model averages its scores over each image and its left-right mirror


@dataclass
class Arrays:
    x: np.ndarray  # raw examples (uint8 pixels or float values), (N, H, W, C)
    y: np.ndarray  # class indices, or values for regression
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None
    source: str = ""


def _targets(y, spec: ModelSpec, settings: ArraySettings):
    """Class indices, or one-hot rows when label smoothing needs them."""
    import keras

    return keras.utils.to_categorical(y, len(spec.labels)) if settings.label_smoothing and spec.task == "multiclass" else y


def _compile(model, spec: ModelSpec, settings: ArraySettings, rate) -> None:
    import keras

    if spec.task == "regression":
        loss, metric = "mse", "mae"
    elif spec.task == "binary":
        loss, metric = "binary_crossentropy", "accuracy"
    elif settings.label_smoothing:  # multiclass
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss, metric = "sparse_categorical_crossentropy", "accuracy"
    if settings.weight_decay:
        optimizer = keras.optimizers.AdamW(rate, weight_decay=settings.weight_decay)
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])  # BatchNorm scales and shifts, biases
    else:
        optimizer = keras.optimizers.Adam(rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


def _dataset(x, y, settings: ArraySettings, seed: int):
    import tensorflow as tf
    from keras import layers

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(settings.batch_size)
    if settings.augment:
        shift = layers.RandomTranslation(settings.augment, settings.augment, fill_mode="constant", seed=seed)
        flip = layers.RandomFlip("horizontal", seed=seed)
        data = data.map(lambda a, b: (flip(shift(a, training=True), training=True), b))
    if settings.erasing:  # random erasing (Zhong et al. 2017), on inputs already scaled to [0, 1]
        erase = layers.RandomErasing((settings.erasing, settings.erasing), value_range=(0, 1), seed=seed)
        data = data.map(lambda a, b: (erase(a, training=True), b))
    return data.prefetch(tf.data.AUTOTUNE)


def _train_one(build, x, y, spec: ModelSpec, settings: ArraySettings, seed: int):
    """Fit a fresh model on (x, y) with a validation share; returns (model, fit.Outcome)."""
    import keras

    keras.utils.set_random_seed(seed)
    train_idx, val_idx = fit.validation_split(y, settings.validation_fraction, seed, stratify=spec.task != "regression")
    model = build()
    _compile(model, spec, settings, fit.learning_rate(settings.learning_rate, settings.cosine, settings.epochs,
                                                      len(train_idx), settings.batch_size))
    targets = _targets(y, spec, settings)
    validation = (x[val_idx], targets[val_idx]) if len(val_idx) else None
    outcome = fit.fit(model, _dataset(x[train_idx], targets[train_idx], settings, seed), validation, epochs=settings.epochs)
    return model, outcome


def _scorer(model, settings: ArraySettings):
    """The trained MODEL as it gets saved and scored: mirror-averaged when the settings ask for it."""
    from train import models

    return models.mirror_averaged(model) if settings.mirror else model


def _predict(model, x) -> np.ndarray:
    return model.predict(x, batch_size=512, verbose=0)


def run(recipe: str, data: Arrays, spec: ModelSpec, build, settings: ArraySettings, out: Path) -> dict:
    """Train, evaluate and write the run folder OUT; BUILD() returns a fresh compiled-less Keras model."""
    spec = spec.with_extra(recipe=recipe, architecture=settings.model, toolkit_version=edge.__version__, train_data=data.source,
                           calibration_data="calibration.npz")  # beside the model: `convert quantize` finds it there
    x = normalize(data.x, spec)
    started = time.perf_counter()
    folds = []
    if settings.folds:
        from sklearn.model_selection import KFold, StratifiedKFold

        splitter = (KFold if spec.task == "regression" else StratifiedKFold)(settings.folds, shuffle=True, random_state=settings.seed)
        held_scores = np.zeros((len(x), 1 if spec.task in ("binary", "regression") else len(spec.labels)), np.float32)
        for number, (train_idx, test_idx) in enumerate(splitter.split(x, data.y), 1):
            print(f"fold {number}/{settings.folds}: {len(train_idx)} train, {len(test_idx)} held out")
            model, outcome = _train_one(build, x[train_idx], data.y[train_idx], spec, settings, settings.seed + number)
            held_scores[test_idx] = _predict(_scorer(model, settings), x[test_idx]).reshape(len(test_idx), -1)
            folds.append(evaluation.summary(held_scores[test_idx], data.y[test_idx], spec))
        print("final model on every example")
        model, outcome = _train_one(build, x, data.y, spec, settings, settings.seed)
        test_x, test_y, test_scores = data.x, data.y, held_scores  # out-of-fold: each example scored by a model that never saw it
    else:
        model, outcome = _train_one(build, x, data.y, spec, settings, settings.seed)
        test_x, test_y = data.test_x, data.test_y
    body, model = model, _scorer(model, settings)  # the body's penultimate layer gives the embedding features
    if not folds:
        test_scores = _predict(model, normalize(test_x, spec))
    metrics = {
        "recipe": recipe, "settings": asdict(settings), "data": data.source, "seconds": round(time.perf_counter() - started, 1),
        "parameters": int(model.count_params()),
        "train": evaluation.summary(_predict(model, x), data.y, spec),
        "test": evaluation.summary(test_scores, test_y, spec),
        "history": outcome.history, "epoch_seconds": outcome.epoch_seconds, "best_epoch": outcome.best_epoch,
        "interrupted": outcome.interrupted,
    }
    if folds:
        metrics["folds"] = evaluation.fold_summary(folds, spec)
        metrics["test"]["note"] = f"out-of-fold predictions of {settings.folds} models; the saved model saw every example"
    with run_folder.staged(out) as tmp:
        keras_file.save(model, spec, tmp / f"{recipe}.keras")
        write_text(tmp / "metrics.json", json.dumps(metrics, indent=2))
        evaluation.save_arrays(tmp, body, normalize(test_x[:evaluation.MAX_EMBEDDED], spec), test_x, test_y, test_scores, spec)
        np.savez_compressed(tmp / ("examples.npz" if folds else "test.npz"), x=test_x, y=test_y)  # for `convert quantize --data`
        sample = np.random.default_rng(settings.seed).permutation(len(data.y))[:CALIBRATION_EXAMPLES]
        np.savez_compressed(tmp / "calibration.npz", x=data.x[np.sort(sample)], y=data.y[np.sort(sample)])
        evaluation.write_report(tmp)
    return metrics
