"""Mirror averaging in the saved model, and TFLite files without inner tensor names: checked on real exports."""

from __future__ import annotations

import numpy as np
import pytest

from edge.spec import ModelSpec

pytestmark = pytest.mark.slow  # trains or converts

SPEC = ModelSpec("multiclass", [str(i) for i in range(10)], 28, 28, 1, "gray", "stretch", 1 / 255, 0.0)


def _models():
    import keras

    from train import models

    keras.utils.set_random_seed(0)
    body = models.small_bn_cnn(SPEC.input_shape, 10)
    return body, models.mirror_averaged(body)


def test_mirror_averaged_model_scores_image_and_mirror_and_loads_in_safe_mode(tmp_path):
    from keras_io import archive

    body, mirrored = _models()
    x = np.random.default_rng(0).random((6, 28, 28, 1)).astype(np.float32)
    scores = mirrored.predict(x, verbose=0)
    expected = (body.predict(x, verbose=0) + body.predict(x[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_allclose(mirrored.predict(x[:, :, ::-1], verbose=0), scores, atol=1e-5)
    assert mirrored.count_params() == body.count_params(), "the same weights, once"
    reloaded, _ = archive.load(archive.save(mirrored, SPEC, tmp_path / "m.keras"))
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), scores, atol=1e-6)


def test_int8_tflite_stores_the_weights_once_with_short_inner_names_and_runs(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from convert import tflite_export
    from convert.examples import Examples
    from edge import runtime

    body, mirrored = _models()
    pixels = np.random.default_rng(1).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    calibration = Examples(pixels, np.zeros(64, dtype=int), SPEC)
    for name, model in (("body", body), ("mirrored", mirrored)):
        tflite_export.export_int8(model, SPEC, calibration, tmp_path / f"{name}.tflite", tmp_path)
    sizes = {name: (tmp_path / f"{name}.tflite").stat().st_size for name in ("body", "mirrored")}
    assert sizes["body"] < sizes["mirrored"] < sizes["body"] + 2_000, sizes  # a second copy would add ~110 KB

    interpreter = Interpreter(str(tmp_path / "mirrored.tflite"))
    details = interpreter.get_tensor_details()
    ends = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    assert all(d["name"] for d in details if d["index"] in ends)
    assert all(d["name"] == f"t{d['index']}" for d in details if d["index"] not in ends), "inner tensors: short names"

    x = next(calibration.batches(8))
    float_scores = mirrored.predict(x, verbose=0)
    int8_scores = runtime.load(tmp_path / "mirrored.tflite", 1, spec=SPEC).predict(x)
    assert int8_scores.shape == (8, 10) and np.abs(int8_scores - float_scores).max() < 0.05
