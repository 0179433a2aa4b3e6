"""Model builders. Augmentation is applied in the input pipeline, so saved models hold inference layers only."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from edge.errors import UserError


def augmentation(seed: int = 0) -> keras.Sequential:
    """The reference recipe's augmentation: rotation, shifts, zoom and horizontal flip."""
    return keras.Sequential([
        layers.RandomRotation(0.1, fill_mode="reflect", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
        layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
    ], name="augmentation")


def output_layer(num_classes: int) -> layers.Dense:
    """One sigmoid unit for two classes, softmax otherwise."""
    return layers.Dense(1, activation="sigmoid") if num_classes == 2 else layers.Dense(num_classes, activation="softmax")


def base_cnn(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The reference base CNN (Conv2D -> Flatten -> Dense 256 -> output), with a 2x2 max-pool after the
    convolution: 4x fewer dense weights, so an epoch on 2 CPU cores takes a minute, not four."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.5),
        output_layer(num_classes),
    ], name="base_cnn")


def mobilenet_v2_backbone(input_shape: tuple[int, int, int], weights: str) -> keras.Model:
    """ImageNet MobileNetV2 (alpha 1.0) without its top, global-average pooled, from a local .weights.h5 or 'imagenet'."""
    if weights == "imagenet":
        return keras.applications.MobileNetV2(input_shape=input_shape, include_top=False, weights="imagenet", pooling="avg")
    path = Path(weights)
    if not path.is_file():
        raise UserError(f"--weights {weights}: no such file; give a MobileNetV2 .weights.h5 or 'imagenet' (needs internet)")
    backbone = keras.applications.MobileNetV2(input_shape=input_shape, include_top=False, weights=None, pooling="avg")
    try:
        backbone.load_weights(path)
    except Exception as exc:  # h5py and Keras raise several types for a mismatched file
        raise UserError(f"--weights {path}: not MobileNetV2 (alpha 1.0, no top) weights ({str(exc).splitlines()[0][:160]})") from None
    return backbone


def head(feature_dim: int, num_classes: int) -> keras.Sequential:
    return keras.Sequential([keras.Input((feature_dim,)), layers.Dropout(0.2), output_layer(num_classes)], name="head")


def stack(backbone: keras.Model, top: keras.Model, input_shape: tuple[int, int, int]) -> keras.Model:
    """Backbone (inference mode) followed by the trained head, as one model."""
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, top(backbone(inputs, training=False)), name=f"{backbone.name}_classifier")
