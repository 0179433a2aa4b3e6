"""Keras -> ONNX float32 (Keras' own exporter, which runs tf2onnx) and int8 static QDQ (onnxruntime.quantization)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

from convert.metadata import embed_onnx_props
from edge.spec import ModelSpec

OPSET = 17
INPUT_NAME = "image"
# Histogram calibration (percentile, entropy) keeps every activation of every calibration image in memory: 256
# MobileNetV2 images at 224 fit in 24 GB, 1024 were killed for memory here. Larger sets are sampled down evenly.
MAX_HISTOGRAM_IMAGES = 256


def _keras_to_onnx(model, spec: ModelSpec, path: Path) -> None:
    import tensorflow as tf

    signature = [tf.TensorSpec([None, *spec.input_shape], tf.float32, name=INPUT_NAME)]
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints the traced function
        model.export(str(path), format="onnx", input_signature=signature, opset_version=OPSET)


def export_fp32(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    _keras_to_onnx(model, spec, path)
    embed_onnx_props(path, opset=str(OPSET))


class _Reader:
    """onnxruntime CalibrationDataReader over an array of inputs, one image per batch."""

    def __init__(self, inputs: np.ndarray, name: str):
        self.items = iter([{name: x[None]} for x in inputs])

    def get_next(self):
        return next(self.items, None)


def quantize(model, spec: ModelSpec, calibration: np.ndarray, path: Path, method: str = "percentile",
             reduce_range: bool = False, weight_type: str = "QInt8") -> int:
    """Static QDQ: activations uint8, weights per channel (QInt8, or QUInt8 for the U8U8 kernels that cannot
    saturate); shape inference first, as onnxruntime recommends. reduce_range: 7-bit weights.
    Returns how many calibration images were used."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method != "minmax" and len(calibration) > MAX_HISTOGRAM_IMAGES:
        calibration = calibration[np.linspace(0, len(calibration) - 1, MAX_HISTOGRAM_IMAGES).round().astype(int)]
    with tempfile.TemporaryDirectory() as work:
        fp32, prepared = Path(work) / "fp32.onnx", Path(work) / "prepared.onnx"
        _keras_to_onnx(model, spec, fp32)
        quant_pre_process(str(fp32), str(prepared))
        with contextlib.redirect_stdout(io.StringIO()):  # histogram calibrators print progress
            quantize_static(
                str(prepared), str(path), _Reader(calibration, INPUT_NAME),
                quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
                activation_type=QuantType.QUInt8, weight_type=QuantType[weight_type], calibrate_method=methods[method],
            )
    embed_onnx_props(path, opset=str(OPSET), quantization=f"QDQ activations=QUInt8 weights={weight_type} per_channel "
                                                          f"reduce_range={reduce_range} calibration={method}",
                     calibration_images=str(len(calibration)))
    return len(calibration)


TARGETS = {  # target device -> weight type (both full 8-bit)
    # U8U8: x86 AVX2 kernels without VNNI saturate int16 sums of u8 x s8 products; u8 x u8 cannot. Costs ~25% ONNX
    # int8 latency on such x86, and is what keeps cats-dogs int8 within 1 point (7-bit s8 weights lost 1.7).
    "any": "QUInt8",
    "arm64": "QInt8",  # s8 weights: ARM64 dot-product (and VNNI) kernels do not overflow
}


def export_int8(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    """Percentile calibration and per-channel weights (benchmarks/results/calibration_muffins.md); the weight type
    as the target in the spec (`convert quantize --target`) needs."""
    quantize(model, spec, calibration, path, weight_type=TARGETS[spec.extra.get("target", "any")])
