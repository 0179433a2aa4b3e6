"""Every backbone family loads weights from a local file with the pixel scaling its spec promises, and splits for
fine-tuning at a block boundary."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains or converts

SHAPE = (32, 32, 3)


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "vgg16"])
def test_backbone_from_a_weights_file(name, tmp_path):
    import keras

    from train import backbones

    keras.utils.set_random_seed(0)
    plain = backbones._application(name, None, input_shape=SHAPE)
    path = tmp_path / f"{name}.weights.h5"
    plain.save_weights(path)
    model = backbones.backbone(name, SHAPE, str(path))
    config = backbones.BACKBONES[name]
    pixels = np.random.default_rng(0).integers(0, 256, (2, *SHAPE)).astype(np.float32)
    inputs = pixels * config.scale + config.offset
    expected = plain(inputs - np.float32(backbones.CAFFE_MEAN_BGR) if config.caffe else inputs, training=False)
    assert np.allclose(model(inputs, training=False), expected, atol=1e-4)
    bottom, top = backbones.split(model, 5)
    assert backbones.unfreeze(top) >= 1
    assert np.allclose(top(bottom(inputs, training=False), training=False), expected, atol=1e-4)


def test_weights_for_another_backbone_are_refused(tmp_path):
    from edge.errors import UserError
    from train import backbones

    path = tmp_path / "v3.weights.h5"
    backbones._application("mobilenet_v3_small", None, input_shape=SHAPE).save_weights(path)
    with pytest.raises(UserError, match="not MobileNetV2 weights"):
        backbones.backbone("mobilenet_v2", SHAPE, str(path))
