"""Model builders. Augmentation is applied in the input pipeline, so saved models hold inference layers only."""

from __future__ import annotations

from functools import partial

import keras
from keras import layers

from keras_io.layers import MirrorPair, PairMean


def augmentation(seed: int = 0) -> keras.Sequential:
    """The reference recipe's augmentation: rotation, shifts, zoom and horizontal flip."""
    return keras.Sequential([
        layers.RandomRotation(0.1, fill_mode="reflect", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
        layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
    ], name="augmentation")


def output_layer(num_classes: int) -> layers.Dense:
    """One sigmoid unit for two classes, softmax otherwise; float32 under mixed precision too."""
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", dtype="float32")
    return layers.Dense(num_classes, activation="softmax", dtype="float32")


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


def head(feature_dim: int, num_classes: int) -> keras.Sequential:
    return keras.Sequential([keras.Input((feature_dim,)), layers.Dropout(0.2), output_layer(num_classes)], name="head")


def stack(backbone: keras.Model, top: keras.Model, input_shape: tuple[int, int, int]) -> keras.Model:
    """Backbone (inference mode) followed by the trained head, as one model."""
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, top(backbone(inputs, training=False)), name=f"{backbone.name}_classifier")


def _conv_bn(x, filters: int, padding: str = "same", momentum: float = 0.99):
    x = layers.Conv2D(filters, 3, padding=padding, use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=momentum)(x))


def two_conv_cnn(input_shape, num_classes: int) -> keras.Model:
    """The classic Keras 2-conv CNN with dropout: two 3x3 convolutions, one max-pool, dropout, dense 128."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Dropout(0.25),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.5),
        output_layer(num_classes),
    ], name="two_conv_cnn")


def three_conv_cnn(input_shape, num_classes: int) -> keras.Model:
    """The reference's deeper variant: three 3x3 convolutions (32, 64, 128) with max-pooling, dense 128 with dropout.
    Dropout only before the dense layers: with it after every convolution too, 10 epochs underfit (90.3%)."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation="relu"),
        layers.Flatten(), layers.Dropout(0.25), layers.Dense(128, activation="relu"), layers.Dropout(0.5),
        output_layer(num_classes),
    ], name="three_conv_cnn")


def _separable_bn(x, filters: int, momentum: float = 0.99):
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=momentum)(x))


def edge_cnn(input_shape, num_classes: int, widths=(16, 32), separable=(64, 128, 128), dropout: float = 0.3) -> keras.Model:
    """A photo classifier for small devices and small data sets (the demo's): two 3x3 conv + BatchNorm + ReLU stages
    and depthwise-separable stages, each but the last followed by a 2x2 max-pool, then global average pooling.
    BatchNorm momentum 0.9: a few hundred photos give a few steps an epoch, too few for 0.99's inference statistics.
    About 34k parameters (under 100 KB as int8) whatever the input size."""
    inputs = keras.Input(input_shape)
    x = inputs
    for width in widths:
        x = layers.MaxPooling2D(2)(_conv_bn(x, width, momentum=0.9))
    for index, width in enumerate(separable):
        x = _separable_bn(x, width, momentum=0.9)
        x = x if index == len(separable) - 1 else layers.MaxPooling2D(2)(x)
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, output_layer(num_classes)(x), name="edge_cnn")


def small_bn_cnn(input_shape, num_classes: int, widths=(32, "pool", 64, 64, "pool"), separable=(128, 128, 144),
                 dropout: float = 0.3) -> keras.Model:
    """Edge-sized: 3x3 conv + BatchNorm + ReLU stages with max-pooling, then depthwise-separable stages (depth for
    few parameters), then one dense layer. The last feature map is pooled by a depthwise convolution as large as the
    map: a learned weight per position and channel keeps where a feature is, which matters for centred garments
    (Fashion-MNIST: 93.9% int8, against 93.5% with global average pooling). The default has 113k parameters
    (~150 KB as int8)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for width in widths:
        x = layers.MaxPooling2D(2)(x) if width == "pool" else _conv_bn(x, width)
    for width in separable:
        x = _separable_bn(x, width)
    x = layers.Flatten()(layers.BatchNormalization()(layers.DepthwiseConv2D(x.shape[1:3], use_bias=False)(x)))
    x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, output_layer(num_classes)(x), name="small_bn_cnn")


def mirror_averaged(body: keras.Model) -> keras.Model:
    """BODY's scores averaged over each image and its left-right mirror (for classes that look the same mirrored,
    as garments do): twice the compute, the same weights. BODY must be a chain of layers (as small_bn_cnn is): they are
    re-applied in one flat graph, since a nested model adds its name to every tensor of a TFLite file (4 KB here)."""
    inputs = keras.Input(body.input_shape[1:])
    x = MirrorPair()(inputs)
    for layer in body.layers[1:]:
        x = layer(x)
    return keras.Model(inputs, PairMean()(x), name=body.name)


def cats_dogs_cnn(input_shape, num_classes: int, batch_norm: bool = False) -> keras.Model:
    """The reference cats-vs-dogs CNN shape (150x150 grayscale in): four conv + max-pool stages, dense 256, dropout.
    BATCH_NORM adds BatchNorm after the second to fourth convolutions (after the first, at 148x148x32, it doubles the
    epoch time on CPU), with momentum 0.9: at ~45 steps an epoch, the default 0.99 leaves the inference statistics
    stale and validation at chance for epochs."""
    inputs = keras.Input(input_shape)
    x = layers.MaxPooling2D(2)(layers.Conv2D(32, 3, activation="relu")(inputs))
    for width in (32, 64, 64):
        x = _conv_bn(x, width, padding="valid", momentum=0.9) if batch_norm else layers.Conv2D(width, 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Dense(256, activation="relu")(layers.Dropout(0.5)(layers.Flatten()(x)))
    name = "cats_dogs_bn_cnn" if batch_norm else "cats_dogs_cnn"
    return keras.Model(inputs, output_layer(num_classes)(layers.Dropout(0.5)(x)), name=name)


def regression_cnn(input_shape) -> keras.Model:
    """Navigability: small conv stack on multi-channel tiles with one linear output."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.GlobalAveragePooling2D(),
        layers.Dense(64, activation="relu"), layers.Dropout(0.2), layers.Dense(1, dtype="float32"),
    ], name="regression_cnn")


BUILDERS = {  # the names recipes (train/recipes.py) and --arch choose from
    "base_cnn": base_cnn, "edge_cnn": edge_cnn, "cats_dogs_cnn": cats_dogs_cnn,
    "cats_dogs_bn_cnn": partial(cats_dogs_cnn, batch_norm=True), "two_conv_cnn": two_conv_cnn,
    "three_conv_cnn": three_conv_cnn, "small_bn_cnn": small_bn_cnn, "regression_cnn": regression_cnn,
}


def build(name: str, spec) -> keras.Model:
    """A fresh BUILDERS[NAME] for the input and labels of SPEC (a regression builder takes the input only)."""
    if spec.task == "regression":
        return BUILDERS[name](spec.input_shape)
    return BUILDERS[name](spec.input_shape, len(spec.labels))


def float32_copy(build, model: keras.Model) -> keras.Model:
    """A fresh BUILD() under the float32 policy holding MODEL's weights: what gets saved and converted (no optimizer
    state; a mixed-precision model's casts left behind)."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build()
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights(model.get_weights())
    return copy
