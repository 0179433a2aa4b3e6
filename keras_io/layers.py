"""Layers that `train` may put in a .keras file, registered so Keras loads them in safe mode (no code from the
file runs). Test-time mirroring: the model scores an image and its left-right mirror in one batch and averages the
two, which doubles the compute but keeps one copy of the weights (calling the body twice would make the TFLite and
ONNX converters store two)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="edge_toolkit")
class MirrorPair(keras.layers.Layer):
    """(B, H, W, C) images -> (2B, H, W, C): the images, then their left-right mirrors."""

    def call(self, images):
        return ops.concatenate([images, ops.flip(images, axis=2)], axis=0)

    def compute_output_shape(self, shape):
        return (None if shape[0] is None else 2 * shape[0], *shape[1:])


@keras.saving.register_keras_serializable(package="edge_toolkit")
class PairMean(keras.layers.Layer):
    """(2B, K) scores of MirrorPair's batch -> (B, K): the mean of each image's two scores."""

    def call(self, scores):
        first, second = ops.split(scores, 2, axis=0)
        return (first + second) / 2

    def compute_output_shape(self, shape):
        return (None if shape[0] is None else shape[0] // 2, *shape[1:])
