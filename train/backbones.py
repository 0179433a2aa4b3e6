"""ImageNet backbones for transfer learning, each with the pixel scaling it was trained with, and the cut that
splits a backbone into a frozen bottom (features cached once) and a top that fine-tuning trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from edge.errors import UserError

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # VGG16 / ResNet50: BGR input, ImageNet mean subtracted, no scaling


@dataclass(frozen=True)
class Backbone:
    build: str  # keras.applications attribute
    scale: float
    offset: float
    color_order: str = "rgb"
    caffe: bool = False  # subtracts CAFFE_MEAN_BGR in a Normalization layer inside the model


BACKBONES = {
    "mobilenet_v2": Backbone("MobileNetV2", 1 / 127.5, -1.0),
    "mobilenet_v3_small": Backbone("MobileNetV3Small", 1.0, 0.0),  # rescales inside the model
    "mobilenet_v3_large": Backbone("MobileNetV3Large", 1.0, 0.0),
    "efficientnet_b0": Backbone("EfficientNetB0", 1.0, 0.0),  # rescales and normalises inside the model
    "vgg16": Backbone("VGG16", 1.0, 0.0, "bgr", caffe=True),
    "resnet50": Backbone("ResNet50", 1.0, 0.0, "bgr", caffe=True),
}


def _application(name: str, weights, **kwargs) -> keras.Model:
    return getattr(keras.applications, BACKBONES[name].build)(include_top=False, weights=weights, pooling="avg", **kwargs)


def _load(model: keras.Model, name: str, path: Path) -> None:
    try:
        model.load_weights(path)
    except Exception as exc:  # h5py and Keras raise several types for a mismatched file
        raise UserError(f"--weights {path}: not {BACKBONES[name].build} weights without top "
                        f"({str(exc).splitlines()[0][:160]}); pass the matching --backbone") from None


def backbone(name: str, input_shape: tuple[int, int, int], weights: str) -> keras.Model:
    """NAME without its top, global-average pooled, with weights from a local .weights.h5 or 'imagenet' (online)."""
    config = BACKBONES[name]
    if weights != "imagenet" and not Path(weights).is_file():
        raise UserError(f"--weights {weights}: no such file; give a {config.build} .weights.h5 (no top) or 'imagenet' (needs internet)")
    if not config.caffe:
        if weights == "imagenet":
            return _application(name, "imagenet", input_shape=input_shape)
        model = _application(name, None, input_shape=input_shape)
        _load(model, name, Path(weights))
        return model
    plain = _application(name, weights if weights == "imagenet" else None, input_shape=input_shape)
    if weights != "imagenet":
        _load(plain, name, Path(weights))
    inputs = keras.Input(input_shape)
    centred = layers.Normalization(mean=CAFFE_MEAN_BGR, variance=(1.0, 1.0, 1.0), name="caffe_mean")(inputs)
    model = _application(name, None, input_tensor=centred)  # one flat graph, so the fine-tuning cut can reach any layer
    for layer in plain.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def split(model: keras.Model, train_layers: int) -> tuple[keras.Model, keras.Model | None]:
    """(bottom, top): the top holds at least TRAIN_LAYERS of the last layers, cut where one tensor flows
    (a block boundary); None when nothing is to be trained."""
    if train_layers <= 0:
        return model, None
    for cut in range(len(model.layers) - 1 - train_layers, 0, -1):
        try:
            top = keras.Model(model.layers[cut].output, model.output, name="fine_tuned_top")
        except ValueError:  # a residual connection crosses this point
            continue
        return keras.Model(model.inputs, model.layers[cut].output, name="frozen_bottom"), top
    raise UserError(f"--fine-tune {train_layers}: the backbone has only {len(model.layers)} layers; ask for fewer")


def unfreeze(top: keras.Model) -> int:
    """Make the top trainable except BatchNormalization (its statistics stay frozen); returns the weighted layers."""
    count = 0
    for layer in top.layers:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
        count += bool(layer.weights) and layer.trainable
    return count
