"""int8 ONNX calibration in chunks gives the quantisation parameters of one-shot calibration (what convert did before
it worked in chunks), and the refusal when memory cannot hold one image's activations."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


@pytest.fixture(scope="module")
def prepared(trained, tmp_path_factory):
    """(prepared float ONNX, 64 calibration examples, work folder) for the session's trained model."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from convert import examples, onnx_export
    from keras_io import archive

    work = tmp_path_factory.mktemp("calibration")
    model, spec = archive.load(trained)
    path = work / "prepared.onnx"
    quant_pre_process(str(onnx_export.float_onnx(model, spec, work)), str(path))
    return path, examples.calibration(SAMPLE / "train", spec, 64), work


class Everything:
    """A CalibrationDataReader giving every calibration image, one per run."""

    def __init__(self, calibration):
        self.items = iter([{"image": x} for x in calibration.batches(1)])

    def get_next(self):
        return next(self.items, None)


def _one_shot(path, calibration, work, method):
    """onnxruntime's own calibration, every image in one collect_data call, as quantize_static runs it."""
    from onnxruntime.quantization import create_calibrator

    from convert.onnx_export import calibrate_method

    calibrator = create_calibrator(path, augmented_model_path=str(work / f"one-shot-{method}.onnx"),
                                   calibrate_method=calibrate_method(method))
    calibrator.collect_data(Everything(calibration))
    return calibrator.compute_data()


def test_chunked_percentile_ranges_are_within_1_percent_of_one_shot(prepared):
    """Tolerance 1% of each threshold. A chunked histogram takes its bin width from the first chunk and widens
    from there, so a percentile edge moves a little (MobileNetV2, 64 images: 61 of 103 thresholds identical, the
    largest move 0.41%); onnxruntime's own chunked calibration (CalibStridedMinMax) moves them the same way."""
    from convert.onnx_export import calibrate

    path, calibration, work = prepared
    whole = _one_shot(path, calibration, work, "percentile")
    chunked = calibrate(path, calibration, "percentile", work, chunk=8)
    assert set(chunked.data) == set(whole.data) and len(whole.data) >= 5
    for name, reference in whole.data.items():
        np.testing.assert_allclose(np.asarray(chunked.data[name].range_value, np.float64),
                                   np.asarray(reference.range_value, np.float64), rtol=0.01, atol=1e-7, err_msg=name)


def test_fast_histogram_merge_matches_onnxruntimes_own_chunked_calibration(prepared):
    """Our merge counts into the same bins as onnxruntime's HistogramCollector on the same chunks: every threshold
    within one of its bins (a value exactly on an edge may be counted in the neighbouring bin)."""
    from onnxruntime.quantization import create_calibrator

    from convert.onnx_export import _Chunk, calibrate, calibrate_method

    path, calibration, work = prepared
    reference = create_calibrator(path, augmented_model_path=str(work / "strided.onnx"),
                                  calibrate_method=calibrate_method("percentile"))
    for inputs in calibration.batches(8):
        reference.collect_data(_Chunk(inputs))
    ours = calibrate(path, calibration, "percentile", work, chunk=8).data
    for name, expected in reference.compute_data().data.items():
        edges = reference.collector.histogram_dict[name][1]
        assert abs(float(ours[name].range_value[1]) - float(expected.range_value[1])) <= edges[1] - edges[0], name


def test_chunked_minmax_ranges_equal_one_shot(prepared):
    from convert.onnx_export import calibrate

    path, calibration, work = prepared
    whole = _one_shot(path, calibration, work, "minmax")
    chunked = calibrate(path, calibration, "minmax", work, chunk=8)
    for name, reference in whole.data.items():
        np.testing.assert_allclose(np.asarray(chunked.data[name].range_value, np.float32),
                                   np.asarray(reference.range_value, np.float32), rtol=1e-6)


def test_chunked_int8_file_has_one_shot_zero_points_and_scales(trained, prepared, tmp_path):
    """The quantised files themselves: every zero point equal, every scale within 1% of one-shot calibration's."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from convert import onnx_export
    from keras_io import archive

    path, calibration, work = prepared
    model, spec = archive.load(trained)
    chunked = tmp_path / "chunked.int8.onnx"
    onnx_export.quantize_static(model, spec, calibration, chunked, work, weight_type="QUInt8")

    one_shot = tmp_path / "one-shot.int8.onnx"
    quantize_static(str(path), str(one_shot), Everything(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8,
                    calibrate_method=onnx_export.calibrate_method("percentile"))

    def parameters(file):
        graph = onnx.load(str(file)).graph
        return {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name.endswith(("_scale", "_zero_point"))}

    got, want = parameters(chunked), parameters(one_shot)
    assert set(got) == set(want) and len(want) >= 10
    for name, value in want.items():
        if name.endswith("_zero_point"):
            np.testing.assert_array_equal(got[name], value, err_msg=name)
        else:
            np.testing.assert_allclose(got[name], value, rtol=0.01, err_msg=name)


def test_calibration_that_cannot_fit_is_refused_naming_the_flag(cli, trained, tmp_path, monkeypatch):
    from convert.cli import app

    monkeypatch.setenv("EDGE_MEMORY_LIMIT_MB", "0.01")
    out_dir = tmp_path / "models"
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out-dir", str(out_dir),
                              "--formats", "onnx_int8"])
    assert result.exit_code == 2, result.output
    line = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(line) == 1 and line[0].startswith("error: --formats onnx_int8: calibration needs about") and \
        "drop onnx_int8 from --formats" in line[0]
    assert not (out_dir / "muffins.int8.onnx").exists() and not (out_dir / "parity.json").exists()
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".partial")]


def test_histogram_that_starts_near_zero_widens_without_exploding():
    """A tensor whose first chunk is all but zero, then real values: onnxruntime's widening would need tens of
    millions of bins of the first chunk's width; merged bins keep every count and a percentile within 1%."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    from convert.onnx_export import MAX_BINS_PER_TENSOR, _fast_percentile_collector

    class Calibrator:
        method, symmetric, num_bins, num_quantized_bins, percentile, scenario = "percentile", True, 2048, 128, 99.999, "same"

    rng = np.random.default_rng(0)
    chunks = [rng.random(10_000, dtype=np.float32) * 1e-6, rng.exponential(1.0, 100_000).astype(np.float32)]
    fast = _fast_percentile_collector(Calibrator())
    for chunk in chunks:
        fast.collect({"t": [chunk]})
    hist, edges, low, high = fast.histogram_dict["t"]
    assert hist.sum() == sum(c.size for c in chunks) and len(hist) <= MAX_BINS_PER_TENSOR and edges[-1] > chunks[1].max()
    widths = np.diff(edges.astype(np.float64))
    assert (widths > 0).all() and np.allclose(widths, widths[0], rtol=0.05), "uniform, to the rounding of float32 edges"
    one_shot = HistogramCollector("percentile", True, 2048, 128, 99.999, "same")
    one_shot.collect({"t": [np.concatenate(chunks)]})
    ours, theirs = fast.compute_collection_result()["t"], one_shot.compute_collection_result()["t"]
    assert abs(float(ours[1]) - float(theirs[1])) <= 0.01 * float(theirs[1])


def test_tflite_calibration_in_batches_writes_the_very_same_model(tmp_path, monkeypatch):
    """The converter keeps per-tensor ranges, so feeding it 16 images a step must not change one byte of the model."""
    import keras

    from convert import tflite_export
    from convert.examples import Examples
    from edge.spec import ModelSpec
    from train import models

    assert [tflite_export.calibration_batch(n) for n in (256, 200, 251, 8)] == [16, 10, 1, 8]
    spec = ModelSpec("multiclass", tuple("abc"), 32, 32, 3, "rgb", "stretch", 1 / 255, 0.0)
    keras.utils.set_random_seed(0)
    model = models.edge_cnn(spec.input_shape, 3)
    pixels = np.random.default_rng(0).integers(0, 256, (48, 32, 32, 3), dtype=np.uint8)
    calibration = Examples(pixels, np.zeros(48, dtype=int), spec)
    tflite_export.export_int8(model, spec, calibration, tmp_path / "batched.tflite", tmp_path)
    monkeypatch.setattr(tflite_export, "calibration_batch", lambda count: 1)
    tflite_export.export_int8(model, spec, calibration, tmp_path / "one_by_one.tflite", tmp_path)
    assert (tmp_path / "batched.tflite").read_bytes() == (tmp_path / "one_by_one.tflite").read_bytes()
