"""The spec round-trips through both file formats; preprocessing is one function everywhere."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edge.errors import UserError
from edge.preprocess import normalize, prepare, read_image, to_pixels
from edge.runtime import dequantize, quantize_array
from edge.spec import ModelSpec, Provenance
from tests.conftest import SAMPLE

SPEC = ModelSpec(task="binary", labels=("chihuahua", "muffin"), height=48, width=64, scale=1 / 127.5, offset=-1.0)


@pytest.mark.parametrize("mode", ["stretch", "center_crop", "letterbox"])
@pytest.mark.parametrize("color, channels", [("rgb", 3), ("bgr", 3), ("gray", 1)])
def test_prepare_shapes_and_range(mode, color, channels):
    spec = ModelSpec("binary", ("a", "b"), 48, 64, channels=channels, color_order=color, resize=mode,
                     scale=SPEC.scale, offset=SPEC.offset)
    image = read_image(next((SAMPLE / "test" / "muffin").iterdir()))
    x = prepare(image, spec)
    assert x.shape == (48, 64, channels) and x.dtype == np.float32
    assert -1.0 <= x.min() < x.max() <= 1.0


def test_center_crop_keeps_the_middle_and_letterbox_pads():
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = 255  # white square in the middle of a wide frame
    crop = to_pixels(image, ModelSpec("binary", ("a", "b"), 50, 50, color_order="bgr", resize="center_crop"))
    letter = to_pixels(image, ModelSpec("binary", ("a", "b"), 60, 60, color_order="bgr", resize="letterbox"))
    assert crop.min() == 255
    assert letter[:15].max() == 0 and letter[30, 30].min() == 255


def test_int8_input_ties_round_the_same_way():
    pixels = np.arange(256, dtype=np.uint8)
    q = quantize_array(normalize(pixels, SPEC), 1 / 127.5, -1, np.int8)
    assert np.array_equal(q.astype(int), pixels.astype(int) - 128)
    assert np.allclose(dequantize(q, 1 / 127.5, -1), normalize(pixels, SPEC), atol=1 / 127.5)


def test_spec_json_round_trip_and_validation():
    recorded = SPEC.with_provenance(recipe="muffins", parity={"accuracy": 0.9, "drop": 0.01, "unit": "fraction"})
    assert ModelSpec.from_json(recorded.to_json()) == recorded
    before_0_6 = SPEC.with_provenance(parity={"accuracy": 90.0, "drop": 1.0, "agreement": 99.5})  # in percent and points
    assert ModelSpec.from_json(before_0_6.to_json()).provenance.parity == {"accuracy": 0.9, "drop": 0.01,
                                                                           "agreement": 0.995, "unit": "fraction"}
    legacy = json.loads(SPEC.to_json())  # a model file from 0.1.0: provenance as an untyped `extra` dict
    del legacy["provenance"]
    legacy["extra"] = {"recipe": "muffins", "architecture": "edge_cnn", "train_data": "photos/train"}
    assert ModelSpec.from_json(json.dumps(legacy)).provenance == Provenance(recipe="muffins", train_data="photos/train")
    with pytest.raises(UserError, match="color_order 'gray' needs channels=1"):
        ModelSpec("binary", ("a", "b"), 8, 8, channels=3, color_order="gray")
    with pytest.raises(UserError, match="at least two labels"):
        ModelSpec("multiclass", ("a",), 8, 8)


def test_spec_round_trips_through_tflite_and_onnx_metadata(device_models, tmp_path):
    import onnx
    from ai_edge_litert import schema_py_generated as schema
    from onnx import helper

    from convert.metadata import embed_file, embed_tflite
    from edge.metadata import read_tflite_spec, tflite_entry
    from edge.onnx_runner import OnnxRunner

    tflite = tmp_path / "m.tflite"
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.save(proto, str(tmp_path / "m.onnx"))
    embed_file(tmp_path / "m.onnx", SPEC)
    assert OnnxRunner(tmp_path / "m.onnx", 1).spec == dataclasses.replace(SPEC, checksum="crc32")

    plain = (device_models[0] / "bare.fp32.tflite").read_bytes()  # as TensorFlow's converter wrote it
    once = embed_tflite(plain, SPEC)
    twice = embed_tflite(once, SPEC.with_provenance(toolkit_version="2"))
    tflite.write_bytes(twice)
    assert read_tflite_spec(tflite) == dataclasses.replace(SPEC.with_provenance(toolkit_version="2"), checksum="crc32")
    model = schema.Model.GetRootAs(twice, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names.count(b"edge_spec") == 1 and tflite_entry(twice, "min_runtime_version")


def test_int8_input_table_equals_normalise_then_quantise(device_models):
    """The camera loop feeds int8 models through a 256-entry table; it must give the very tensor predict() builds."""
    from edge import runtime
    from edge.preprocess import to_pixels

    runner = runtime.load(device_models[0] / "muffins.tflite", 1)
    pixels = np.stack([to_pixels(read_image(p), runner.spec) for p in sorted((SAMPLE / "test" / "muffin").iterdir())[:8]])
    table_input = runner.input_from_pixels(pixels)
    assert table_input.dtype == runner.input["dtype"]
    assert np.array_equal(table_input, runtime.quantize_array(normalize(pixels, runner.spec), *runner.input["quantization"],
                                                        runner.input["dtype"]))
    assert np.array_equal(runner.run(table_input), runner.predict(normalize(pixels, runner.spec)))
    assert runner._shift is not None, "x/255 into this int8 input is one uint8 add"

    from dataclasses import replace
    other = runtime.load(device_models[0] / "muffins.tflite", 1, spec=replace(runner.spec, scale=1 / 300, offset=0.1))
    looked_up = other.input_from_pixels(pixels)
    assert other._shift is None, "a scale that is not the model's own needs the full table"
    assert np.array_equal(looked_up, runtime.quantize_array(normalize(pixels, other.spec), *other.input["quantization"],
                                                      other.input["dtype"]))


def test_center_crop_resizes_only_the_crop():
    from edge.preprocess import _resize

    image = np.zeros((480, 640, 3), np.uint8)
    image[:, 80:560] = 200  # the centre square the model sees; the sides are cropped away
    out = _resize(image, 224, 224, "center_crop")
    assert out.shape == (224, 224, 3) and (out == 200).all()


def test_large_shrinks_average_blocks_then_finish_bilinearly():
    import cv2

    from edge.preprocess import _scaled

    photo = cv2.resize(read_image(sorted((SAMPLE / "test" / "muffin").iterdir())[0]), (480, 480))
    exact = cv2.resize(photo, (224, 224), interpolation=cv2.INTER_AREA)
    fast = _scaled(photo, 224, 224)
    assert fast.shape == exact.shape and np.abs(fast.astype(int) - exact).mean() < 1.5  # grey levels
    whole = cv2.resize(photo, (240, 240), interpolation=cv2.INTER_AREA)  # a whole factor is plain block averaging
    assert np.array_equal(_scaled(photo, 240, 240), whole)
    small = photo[:300, :300]  # under 2x: INTER_AREA as before
    assert np.array_equal(_scaled(small, 224, 224), cv2.resize(small, (224, 224), interpolation=cv2.INTER_AREA))


def test_the_one_npz_reader_names_the_flag_and_never_unpickles(tmp_path):
    import pytest

    from edge.errors import UserError
    from edge.folders import read_xy

    np.savez(tmp_path / "ok.npz", x=np.zeros((3, 2, 2, 1)), y=np.arange(3))
    x, y = read_xy(tmp_path / "ok.npz")
    assert x.shape == (3, 2, 2, 1) and list(y) == [0, 1, 2]
    np.savez(tmp_path / "no_y.npz", x=np.zeros(3))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for path, flag, words in ((tmp_path / "missing.npz", "--data", "no such file"),
                              (tmp_path / "no_y.npz", "--calib", "not an .npz with arrays 'x'"),
                              (tmp_path / "objects.npy", "--data", "not an .npz with arrays 'x'")):
        with pytest.raises(UserError, match=f"^{flag} {path}: {words}"):
            read_xy(path, flag)


@pytest.mark.parametrize("size, resize, digest", [(224, "center_crop", "c96dca47339de833"),
                                                  (96, "center_crop", "c6261e9be1a4cd03"),
                                                  (150, "letterbox", "a7874cfa3f2b3c0b"),
                                                  (700, "stretch", "8ab589795b4db68c")])
def test_model_pixels_are_the_same_on_every_cpu(size, resize, digest):
    """Digests of the model pixels of a frame made with integer arithmetic only, taken on x86_64: block averaging and
    INTER_LINEAR_EXACT are bit-exact by design, so an arm64 device must give the same (INTER_LINEAR, used before,
    put pixels one grey level apart between x86 and arm64 OpenCV builds, and gave other digests here too)."""
    import hashlib

    from edge.preprocess import to_pixels

    y, x = np.mgrid[0:480, 0:640].astype(np.int64)
    frame = np.stack([(x * 7 + y * 13 + (x * y) % 31) % 256, (x * 3 + y * y) % 256, (x ^ y) % 256], -1).astype(np.uint8)
    pixels = to_pixels(frame, ModelSpec("binary", ("a", "b"), size, size, resize=resize))
    assert hashlib.sha256(pixels.tobytes()).hexdigest()[:16] == digest
