"""The transfer trainer: the frozen part of an ImageNet backbone runs once over the photos (plus augmented passes)
and its features are cached; a head trains on them, then optionally the backbone's top layers are fine-tuned with
the head on those cached features. The saved model is backbone and head as one."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from edge.preprocess import normalize
from edge.progress import progress
from edge.spec import ModelSpec
from train import backbones, camera, fit, models
from train.config import TrainConfig
from train.distribute import ONE, Placement
from train.end_to_end import balanced, compile_model


def _run_through(model, pixels: np.ndarray, spec: ModelSpec, augment=None, camera_rng=None) -> np.ndarray:
    """MODEL's outputs on PIXELS, 64 at a time; with AUGMENT (geometric layers) and CAMERA_RNG (--augment camera),
    augmented in that order."""
    out, starts = [], range(0, len(pixels), 64)
    for start in progress(starts, len(starts), "through the backbone", "batches"):
        x = normalize(pixels[start:start + 64], spec)
        x = augment(x, training=True) if augment is not None else x
        out.append(model.predict_on_batch(camera.corrupt_batch(x, spec, camera_rng) if camera_rng is not None else x))
    return np.concatenate(out)


def train(data, config: TrainConfig, placement: Placement = ONE, backup: Path | None = None) -> fit.Trained:
    """Transfer learning on a loaders.Dataset of photos with a test split, on the devices PLACEMENT gives (one host),
    each phase resumable from BACKUP."""
    spec = data.spec
    keras.utils.set_random_seed(config.seed)
    train_idx, val_idx = fit.validation_split(data.y, config.validation_fraction, config.seed)
    keep, class_weight = balanced(data.y[train_idx], config, np.random.default_rng(config.seed))
    train_idx = np.sort(train_idx[keep])
    with placement.scope():
        backbone = backbones.backbone(config.backbone, spec.input_shape, config.weights)
        bottom, top = backbones.split(backbone, config.fine_tune_layers)
    started = time.perf_counter()
    augment = models.augmentation(config.seed)
    camera_rng = camera.rng(config.seed) if config.augment == "camera" else None
    train_cut = [_run_through(bottom, data.x, spec)]  # cached: the frozen part runs once per pass
    train_cut += [_run_through(bottom, data.x, spec, augment, camera_rng) for _ in range(config.augment_passes)]
    test_cut = _run_through(bottom, data.test_x, spec)
    print(f"frozen backbone: {sum(map(len, train_cut)) + len(test_cut)} images in {time.perf_counter() - started:.0f} s")
    pool = (lambda cut: top.predict(cut, batch_size=256, verbose=0)) if top is not None else (lambda cut: cut)  # noqa: E731

    passes = len(train_cut)
    fit_idx = np.concatenate([train_idx + p * len(data.y) for p in range(passes)])  # every pass of the training images
    features = np.concatenate([pool(c) for c in train_cut])
    batch = placement.local_batch(config.batch_size)
    fit_idx, val_idx = placement.share(fit_idx), placement.share(val_idx)
    fit_y = np.tile(data.y, passes)[fit_idx]
    validation = (features[val_idx], data.y[val_idx])  # un-augmented pass only
    with placement.scope():
        head = models.head(features.shape[1], len(spec.labels))
        compile_model(head, spec, config, config.learning_rate)
        outcome = fit.fit(head, (features[fit_idx], fit_y), validation, epochs=config.epochs, batch_size=batch,
                          shuffle=True, class_weight=class_weight, backup=backup / "head" if backup else None)
    if top is not None and config.fine_tune_epochs:
        trained = backbones.unfreeze(top)
        print(f"fine-tuning {trained} layers of {config.backbone} with the head, learning rate {config.fine_tune_learning_rate}")
        with placement.scope():
            cut_input = keras.Input(top.input_shape[1:])
            tuned = keras.Model(cut_input, head(top(cut_input, training=False)))
            compile_model(tuned, spec, config, config.fine_tune_learning_rate)
            all_cut = np.concatenate(train_cut)
            outcome = outcome.extend(fit.fit(tuned, (all_cut[fit_idx], fit_y), (train_cut[0][val_idx], data.y[val_idx]),
                                             epochs=config.fine_tune_epochs, batch_size=batch, shuffle=True,
                                             class_weight=class_weight, backup=backup / "fine-tuning" if backup else None))
    model = models.stack(backbone, head, spec.input_shape)
    predict = lambda cut: head.predict(pool(cut), batch_size=256, verbose=0)  # noqa: E731
    return fit.Trained(model, outcome, predict(train_cut[0]), predict(test_cut), (pool(test_cut), pool(train_cut[0])),
                       class_weight)
