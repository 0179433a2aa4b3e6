"""The end-to-end trainer: a CNN fitted on the examples with augmentation in the tf.data pipeline (so the saved
model holds inference layers only), class balance, and k-fold cross-validation with out-of-fold scores."""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from edge.preprocess import normalize
from edge.spec import ModelSpec
from train import fit, models
from train.config import TrainConfig

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
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


def training_dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig, seed: int):
    """Shuffled batches of the model inputs X (already normalised) with targets Y, augmented as CONFIG asks."""
    import tensorflow as tf
    from keras import layers

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(config.batch_size)
    if config.photo_augment:
        photo = models.augmentation(seed)
        data = data.map(lambda a, b: (photo(a, training=True), b))  # sequential: random numbers drawn in a fixed order
    if config.augment:
        shift = layers.RandomTranslation(config.augment, config.augment, fill_mode="constant", seed=seed)
        flip = layers.RandomFlip("horizontal", seed=seed)
        data = data.map(lambda a, b: (flip(shift(a, training=True), training=True), b))
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


def scores(model: keras.Model, x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """MODEL's outputs on raw examples X, normalised a batch at a time (memory stays flat)."""
    return np.concatenate([model.predict(normalize(x[i:i + PREDICT_CHUNK], spec), batch_size=256, verbose=0)
                           for i in range(0, max(len(x), 1), PREDICT_CHUNK)])


def fit_model(build: Callable[[], keras.Model], x: np.ndarray, y: np.ndarray, spec: ModelSpec, config: TrainConfig,
              seed: int) -> tuple[keras.Model, fit.Outcome, dict | None]:
    """(model, outcome, class weights): a fresh BUILD() fitted on raw examples X with targets Y, a validation share
    held out; the model returned is an uncompiled copy (no optimizer state to save)."""
    keras.utils.set_random_seed(seed)
    train_idx, val_idx = fit.validation_split(y, config.validation_fraction, seed, stratify=spec.task != "regression")
    keep, class_weight = balanced(y[train_idx], config, np.random.default_rng(seed))
    train_idx = np.sort(train_idx[keep])
    model = build()
    compile_model(model, spec, config, fit.learning_rate(config.learning_rate, config.cosine, config.epochs, len(train_idx),
                                                         config.batch_size))
    targets = keras.utils.to_categorical(y, len(spec.labels)) if config.label_smoothing and spec.task == "multiclass" else y
    validation = (normalize(x[val_idx], spec), targets[val_idx]) if len(val_idx) else None
    outcome = fit.fit(model, training_dataset(normalize(x[train_idx], spec), targets[train_idx], config, seed), validation,
                      epochs=config.epochs, class_weight=class_weight)
    inference = build()
    inference.set_weights(model.get_weights())
    return inference, outcome, class_weight


def scorer(model: keras.Model, config: TrainConfig) -> keras.Model:
    """The trained MODEL as it gets saved and scored: mirror-averaged when CONFIG asks for it."""
    return models.mirror_averaged(model) if config.mirror else model


def cross_validate(build, x: np.ndarray, y: np.ndarray, spec: ModelSpec, config: TrainConfig) -> tuple[np.ndarray, list[dict]]:
    """(out-of-fold scores of every example, per-fold summaries): each fold's model never saw the examples it scores."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from train import evaluation

    splitter = (KFold if spec.task == "regression" else StratifiedKFold)(config.folds, shuffle=True, random_state=config.seed)
    held = np.zeros((len(x), 1 if spec.task in ("binary", "regression") else len(spec.labels)), np.float32)
    folds = []
    for number, (train_idx, test_idx) in enumerate(splitter.split(x, y), 1):
        print(f"fold {number}/{config.folds}: {len(train_idx)} train, {len(test_idx)} held out")
        model, _, _ = fit_model(build, x[train_idx], y[train_idx], spec, config, config.seed + number)
        held[test_idx] = scores(scorer(model, config), x[test_idx], spec).reshape(len(test_idx), -1)
        folds.append(evaluation.summary(held[test_idx], y[test_idx], spec))
    return held, folds


def _features(body: keras.Model, x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    from train import evaluation

    return scores(evaluation.penultimate(body), x[:evaluation.MAX_EMBEDDED], spec)


def train(data, config: TrainConfig, builder: str) -> fit.Trained:
    """Fit the CNN BUILDER (a name in train/models.py:BUILDERS) on a loaders.Dataset: on its training examples with
    its test split as the evaluation, or with k-fold out-of-fold scores and a final model on every example."""
    spec = data.spec
    build = lambda: models.build(builder, spec)  # noqa: E731
    held, folds = cross_validate(build, data.x, data.y, spec, config) if config.folds else (None, [])
    if folds:
        print("final model on every example")
    body, outcome, class_weight = fit_model(build, data.x, data.y, spec, config, config.seed)
    model = scorer(body, config)
    test_x = data.x if folds else data.test_x
    test_scores = held if folds else scores(model, test_x, spec)
    train_features = None if folds else _features(body, data.x, spec)  # k-fold: the test examples are the training ones
    features = (_features(body, test_x, spec), train_features) if spec.task != "regression" else None
    return fit.Trained(model, outcome, scores(model, data.x, spec), test_scores, features, class_weight, folds)
