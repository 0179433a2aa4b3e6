"""The end-to-end trainer: a CNN fitted on the examples with augmentation in the tf.data pipeline (so the saved
model holds inference layers only), class balance, and k-fold cross-validation with out-of-fold scores."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import keras
import numpy as np

from edge.preprocess import normalize
from edge.spec import ModelSpec
from train import camera, fit, models
from train.config import TrainConfig
from train.distribute import ONE, Placement

PREDICT_CHUNK = 1024  # examples normalised at a time for prediction


def compile_model(model: keras.Model, spec: ModelSpec, config: TrainConfig, rate) -> None:
    """Loss and metric for the task (label smoothing and AdamW weight decay when CONFIG asks), Adam at RATE."""
    if spec.task == "regression":
        loss, metric = "mse", "mae"
    elif spec.task == "binary":
        loss, metric = "binary_crossentropy", "accuracy"
    elif config.label_smoothing:  # multiclass
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss, metric = "sparse_categorical_crossentropy", "accuracy"
    if config.weight_decay:
        optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])  # BatchNorm scales and shifts, biases
    else:
        optimizer = keras.optimizers.Adam(rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric], **({"jit_compile": True} if config.jit else {}))


def batches(x, indices: np.ndarray, targets: np.ndarray, spec: ModelSpec, batch_size: int, seed: int | None):
    """Batches of (normalised X[INDICES], TARGETS[INDICES]), shuffled with SEED (None: in order). X is an array in
    memory, or a pixel_cache.PixelFile read a batch at a time on parallel threads (memory stays flat); both give the
    same batches in the same order."""
    import tensorflow as tf

    if isinstance(x, np.ndarray):
        data = tf.data.Dataset.from_tensor_slices((normalize(x[indices], spec), targets[indices]))
    else:
        data = tf.data.Dataset.from_tensor_slices((indices, targets[indices]))
    if seed is not None:
        data = data.shuffle(len(indices), seed=seed)
    data = data.batch(batch_size)
    if not isinstance(x, np.ndarray):
        read = lambda rows: normalize(x[rows], spec).astype(np.float32)  # noqa: E731
        load = lambda rows, y: (tf.ensure_shape(tf.numpy_function(read, [rows], tf.float32), (None, *x.shape[1:])), y)  # noqa: E731
        data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data


def training_dataset(data, config: TrainConfig, spec: ModelSpec, seed: int):
    """DATA (batches) augmented as CONFIG asks, prefetched."""
    import tensorflow as tf
    from keras import layers

    if config.photo_augment:  # layer by layer: each one runs on TensorFlow inside tf.data, whatever the backend
        for layer in models.augmentation(seed).layers:  # one map each, sequential: random numbers in a fixed order
            data = data.map(lambda a, b, layer=layer: (layer(a, training=True), b))
    if config.shift:
        shift = layers.RandomTranslation(config.shift, config.shift, fill_mode="constant", seed=seed)
        flip = layers.RandomFlip("horizontal", seed=seed)
        data = data.map(lambda a, b: (flip(shift(a, training=True), training=True), b))
    if config.augment == "camera":  # after the geometry: the sensor sees the rotated, shifted scene
        data = camera.mapped(data, spec, seed)
    if config.erasing:  # random erasing (Zhong et al. 2017), on inputs already scaled to [0, 1]
        erase = layers.RandomErasing((config.erasing, config.erasing), value_range=(0, 1), seed=seed)
        data = data.map(lambda a, b: (erase(a, training=True), b))
    return data.prefetch(tf.data.AUTOTUNE)


def balanced(targets: np.ndarray, config: TrainConfig, rng) -> tuple[np.ndarray, dict | None]:
    """(indices to train on, class weights or None) as config.balance asks."""
    indices = np.arange(len(targets))
    if config.balance == "undersample":
        smallest = np.bincount(targets).min()
        indices = np.sort(np.concatenate([rng.permutation(np.flatnonzero(targets == c))[:smallest] for c in np.unique(targets)]))
        print(f"undersampled to {smallest} images per class: {len(indices)} of {len(targets)}")
    if config.balance != "weights":
        return indices, None
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(targets)
    weights = compute_class_weight("balanced", classes=classes, y=targets)
    return indices, {int(c): float(w) for c, w in zip(classes, weights)}


def scores(model: keras.Model, x, spec: ModelSpec, stop: int | None = None) -> np.ndarray:
    """MODEL's outputs on the raw examples X[:STOP] (an array or a PixelFile), normalised a chunk at a time."""
    stop = len(x) if stop is None else min(stop, len(x))
    return np.concatenate([model.predict(normalize(x[i:min(i + PREDICT_CHUNK, stop)], spec), batch_size=256, verbose=0)
                           for i in range(0, stop, PREDICT_CHUNK)])


def fit_model(build: Callable[[], keras.Model], x, y: np.ndarray, spec: ModelSpec, config: TrainConfig, seed: int,
              placement: Placement = ONE, backup: Path | None = None) -> tuple[keras.Model, fit.Outcome, dict | None]:
    """(model, outcome, class weights): a fresh BUILD() fitted on raw examples X with targets Y, a validation share
    held out, on the devices PLACEMENT gives, resumable from BACKUP. The model returned is an uncompiled float32 copy
    on this process's default device (no optimizer state, no mixed precision, to save, score and convert)."""
    keras.utils.set_random_seed(seed)
    train_idx, val_idx = fit.validation_split(y, config.validation_fraction, seed, stratify=spec.task != "regression")
    keep, class_weight = balanced(y[train_idx], config, np.random.default_rng(seed))
    train_idx, val_idx = placement.share(np.sort(train_idx[keep])), placement.share(val_idx)
    batch = placement.local_batch(config.batch_size)
    targets = keras.utils.to_categorical(y, len(spec.labels)) if config.label_smoothing and spec.task == "multiclass" else y
    validation = batches(x, val_idx, targets, spec, batch, None) if len(val_idx) else None
    train = training_dataset(batches(x, train_idx, targets, spec, batch, seed), config, spec, seed)
    with placement.scope():
        model = build()
        compile_model(model, spec, config, fit.learning_rate(config.learning_rate, config.cosine, config.epochs,
                                                             len(train_idx), batch))  # steps: this share / its batch
        outcome = fit.fit(model, train, validation, epochs=config.epochs, class_weight=class_weight, backup=backup)
    return models.float32_copy(build, model), outcome, class_weight


def scorer(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The trained MODEL as it gets saved and scored: mirror-averaged when CONFIG asks for it."""
    return models.mirror_averaged(model) if config.mirror else model


def cross_validate(build, x: np.ndarray, y: np.ndarray, spec: ModelSpec, config: TrainConfig, placement: Placement = ONE,
                   backup: Path | None = None) -> tuple[np.ndarray, list[dict]]:
    """(out-of-fold scores of every example, per-fold summaries): each fold's model never saw the examples it scores."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from train import evaluation

    splitter = (KFold if spec.task == "regression" else StratifiedKFold)(config.folds, shuffle=True, random_state=config.seed)
    held = np.zeros((len(x), 1 if spec.task in ("binary", "regression") else len(spec.labels)), np.float32)
    folds = []
    for number, (train_idx, test_idx) in enumerate(splitter.split(x, y), 1):
        print(f"fold {number}/{config.folds}: {len(train_idx)} train, {len(test_idx)} held out")
        model, _, _ = fit_model(build, x[train_idx], y[train_idx], spec, config, config.seed + number, placement,
                                backup / f"fold-{number}" if backup else None)
        held[test_idx] = scores(scorer(model, config), x[test_idx], spec).reshape(len(test_idx), -1)
        folds.append(evaluation.summary(held[test_idx], y[test_idx], spec))
    return held, folds


def _features(body: keras.Model, x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    from train import evaluation

    return scores(evaluation.penultimate(body), x, spec, stop=evaluation.MAX_EMBEDDED)


def train(data, config: TrainConfig, builder: str, placement: Placement = ONE, backup: Path | None = None) -> fit.Trained:
    """Fit the CNN BUILDER (a name in train/models.py:BUILDERS) on a loaders.Dataset: on its training examples with
    its test split as the evaluation, or with k-fold out-of-fold scores and a final model on every example."""
    spec = data.spec
    build = lambda: models.build(builder, spec)  # noqa: E731
    held, folds = cross_validate(build, data.x, data.y, spec, config, placement, backup) if config.folds else (None, [])
    if folds:
        print("final model on every example")
    body, outcome, class_weight = fit_model(build, data.x, data.y, spec, config, config.seed, placement,
                                            backup / "fit" if backup else None)
    model = scorer(body, config)
    test_x = data.x if folds else data.test_x
    test_scores = held if folds else scores(model, test_x, spec)
    train_features = None if folds else _features(body, data.x, spec)  # k-fold: the test examples are the training ones
    features = (_features(body, test_x, spec), train_features) if spec.task != "regression" else None
    return fit.Trained(model, outcome, scores(model, data.x, spec), test_scores, features, class_weight, folds)
