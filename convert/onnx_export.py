"""Keras -> ONNX float32 (Keras' own exporter, which runs tf2onnx) and int8 static QDQ (onnxruntime.quantization).

The float export is made once per run and reused by the int8 one. Int8 calibration runs onnxruntime's own
calibrator chunk by chunk (as its CalibStridedMinMax option does), so memory holds the activations of one chunk,
never of every calibration image; the ranges reach quantize_static through its calibration cache."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import shutil
import zlib
from pathlib import Path

import numpy as np

from convert.examples import Examples
from convert.memory import available_bytes, gigabytes
from convert.metadata import embed_onnx_props
from convert.registry import register_exporter
from edge.errors import UserError
from edge.spec import ModelSpec

OPSET = 17
INPUT_NAME = "image"
CHUNK = 8  # calibration images per onnxruntime run and histogram merge, when memory allows (MobileNetV2: 53 MB each)
COPIES = 3  # a chunk's activations as the runtime returns them, plus the collector's working copies


def _keras_to_onnx(model, spec: ModelSpec, path: Path) -> None:
    import tensorflow as tf

    signature = [tf.TensorSpec([None, *spec.input_shape], tf.float32, name=INPUT_NAME)]
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints the traced function
        model.export(str(path), format="onnx", input_signature=signature, opset_version=OPSET)


def float_onnx(model, spec: ModelSpec, work: Path) -> Path:
    """The float32 ONNX of MODEL in the run's work folder, exported on first use."""
    path = work / "float.onnx"
    if not path.exists():
        _keras_to_onnx(model, spec, work / "float.partial.onnx")
        (work / "float.partial.onnx").rename(path)
    return path


@register_exporter("onnx")
def export_fp32(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    shutil.copyfile(float_onnx(model, spec, work), path)
    embed_onnx_props(path, opset=str(OPSET))


class _Chunk:
    """onnxruntime CalibrationDataReader over one chunk of float inputs, as a single batch."""

    def __init__(self, inputs: np.ndarray):
        self.items = iter([{INPUT_NAME: inputs}])

    def get_next(self):
        return next(self.items, None)


MAX_BINS_PER_TENSOR = 262_144  # a histogram growing past this (128x its first range) is merged into wider bins


def _widened(hist: np.ndarray, edges: np.ndarray, top: float, most: int) -> tuple[np.ndarray, np.ndarray]:
    """HIST over uniform EDGES extended to reach TOP with bins of the same width, as onnxruntime does; where that
    would need more than MOST bins (a first chunk whose values were all near zero, then real ones), groups of
    neighbouring bins are merged first, so that the bins stay uniform and every count is kept."""
    start, width = float(edges[0]), float(edges[1] - edges[0])
    factor = max(1, int(np.ceil((top - start) / width / most)))
    if factor > 1:
        hist = np.pad(hist, (0, -len(hist) % factor)).reshape(-1, factor).sum(axis=1)
        width *= factor
    count = max(len(hist), int(np.floor((top - start) / width)) + 1)
    edges = (start + width * np.arange(count + 1)).astype(edges.dtype)
    return hist, edges


def _fast_percentile_collector(calibrator):
    """onnxruntime's percentile HistogramCollector whose merge of a later chunk counts into the same (uniform) bins
    through numpy's uniform-bin path instead of sorting every block: 2.7x faster on MobileNetV2, the same bins; a
    value exactly on a bin edge may land in its neighbour."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    class FastPercentile(HistogramCollector):
        def collect_absolute_value(self, name_to_arr):
            for tensor, arrays in name_to_arr.items():
                # a copy of the chunk's values, which this collector may overwrite
                data = (np.concatenate([np.ravel(a) for a in arrays]) if isinstance(arrays, list)
                        else np.array(arrays).ravel())
                if tensor not in self.histogram_dict or data.size == 0:
                    super().collect_absolute_value({tensor: data})
                    continue
                old_hist, edges, old_min, old_max = self.histogram_dict[tensor]
                low, high = data.min(), data.max()  # one pass each; NaN (a broken model) falls back to nan-aware
                if np.isnan(low) or np.isnan(high):
                    low, high = np.nanmin(data), np.nanmax(data)
                top = max(-low, high)  # the largest absolute value, without a pass over the absolute values
                np.absolute(data, out=data)
                if top > edges[-1]:
                    old_hist, edges = _widened(old_hist, edges, float(top), MAX_BINS_PER_TENSOR)
                hist, _ = np.histogram(data, bins=len(edges) - 1, range=(float(edges[0]), float(edges[-1])))
                hist[: len(old_hist)] += old_hist
                self.histogram_dict[tensor] = (hist, edges, min(old_min, low), max(old_max, high))

    return FastPercentile(method=calibrator.method, symmetric=calibrator.symmetric, num_bins=calibrator.num_bins,
                          num_quantized_bins=calibrator.num_quantized_bins, percentile=calibrator.percentile,
                          scenario=calibrator.scenario)


def bytes_per_image(session) -> int:
    """Float activations one image produces in an (augmented) onnxruntime session: the sum of its output sizes."""
    total = 0
    for output in session.get_outputs():
        total += 4 * int(np.prod([d if isinstance(d, int) and d > 0 else 1 for d in output.shape]))
    return total


def chunk_size(per_image: int, count: int, available: int | None) -> int:
    """Images per calibration chunk: CHUNK, fewer when memory is short; UserError when one image cannot fit."""
    if available is None:
        return min(CHUNK, count)
    fits = int(available * 0.5) // (COPIES * per_image)
    if fits < 1:
        raise UserError(f"--formats onnx_int8: calibration needs about {gigabytes(COPIES * per_image)} GB for the "
                        f"activations of one image and {gigabytes(available)} GB is available; free memory, or drop "
                        "onnx_int8 from --formats (int8 TFLite calibrates without holding activations; --calib-count "
                        "does not matter: images go through in chunks)")
    return max(1, min(CHUNK, count, fits))


def calibrate(prepared: Path, calibration: Examples, method: str, work: Path, chunk: int | None = None):
    """Tensor ranges (onnxruntime TensorsData) from CALIBRATION, CHUNK images at a time (default: as memory allows)."""
    from onnxruntime.quantization import create_calibrator

    calibrator = create_calibrator(prepared, augmented_model_path=str(work / "augmented.onnx"),
                                   calibrate_method=calibrate_method(method))
    if method == "percentile":
        calibrator.collector = _fast_percentile_collector(calibrator)
    chunk = chunk or chunk_size(bytes_per_image(calibrator.infer_session), len(calibration), available_bytes())
    with contextlib.redirect_stdout(io.StringIO()):  # histogram collectors print progress
        for inputs in calibration.batches(chunk, "calibrating ONNX int8"):
            calibrator.collect_data(_Chunk(inputs))
        return calibrator.compute_data()


class _BiasWarnings(logging.Handler):
    """Collects onnxruntime's 'Quantized bias ... exceeds the range of a int32' warnings instead of printing them."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.biases: list[str] = []

    def emit(self, record):
        found = re.search(r"Quantized bias `([^`]+)` exceeds the range of a int32", record.getMessage())
        if found:
            self.biases.append(found.group(1))


def clipped_bias_note(biases: list[str]) -> str | None:
    """One line on what clipped int32 biases mean, or None."""
    if not biases:
        return None
    generic = {"batchnorm", "BiasAdd", "add", "sub", "add_1"}
    layers = sorted({next((part for part in reversed(name.split(":")[0].split("/")) if part not in generic), name)
                     for name in biases})
    return (f"onnx_int8: {len(biases)} bias tensor(s) were clipped to int32 (layers: {', '.join(layers[:4])}"
            f"{', ...' if len(layers) > 4 else ''}): their channels have weights close to zero, so the bias scale is tiny; "
            "those channels lose their offset, and the parity figures show whether that matters")


def prepared_model(model, spec: ModelSpec, work: Path) -> Path:
    """The float ONNX after onnxruntime's pre-processing (shape inference, fusions): what quantize_static reads, and
    where the node names of nodes_to_exclude come from."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = work / "prepared.onnx"
    if not prepared.exists():
        quant_pre_process(str(float_onnx(model, spec, work)), str(prepared))
    return prepared


def quantize_static(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path, method: str = "percentile",
                    reduce_range: bool = False, weight_type: str = "QInt8", nodes_to_exclude: tuple = ()) -> str | None:
    """Static QDQ: activations uint8, weights per channel (QInt8, or QUInt8 for the U8U8 kernels that cannot
    saturate); shape inference first, as onnxruntime recommends. reduce_range: 7-bit weights. NODES_TO_EXCLUDE stay
    float (`--recover`). The ranges are calibrated once per run, method and calibration set. Returns a note for the user when
    onnxruntime had to clip biases, else None."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import save_tensors_data

    identity = zlib.crc32(np.ascontiguousarray(calibration.pixels[:]))  # the same images give the same ranges
    prepared, cache = prepared_model(model, spec, work), work / f"ranges-{method}-{len(calibration)}-{identity}.json"
    if not cache.exists():
        save_tensors_data(calibrate(prepared, calibration, method, work), cache)
    warnings, root = _BiasWarnings(), logging.getLogger()
    root.addHandler(warnings)
    try:
        quantize_static(str(prepared), str(path), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType[weight_type], calibrate_method=calibrate_method(method),
                        calibration_cache_path=str(cache), nodes_to_exclude=list(nodes_to_exclude))
    finally:
        root.removeHandler(warnings)
    embed_onnx_props(path, opset=str(OPSET), quantization=f"QDQ activations=QUInt8 weights={weight_type} per_channel "
                                                          f"reduce_range={reduce_range} calibration={method}",
                     calibration_images=str(len(calibration)))
    return clipped_bias_note(warnings.biases)


def calibrate_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
            "entropy": CalibrationMethod.Entropy}[method]


TARGETS = {  # target device -> weight type (both full 8-bit)
    # U8U8: x86 AVX2 kernels without VNNI saturate int16 sums of u8 x s8 products; u8 x u8 cannot. Costs ~25% ONNX
    # int8 latency on such x86, and is what keeps cats-dogs int8 within 1 point (7-bit s8 weights lost 1.7).
    "any": "QUInt8",
    "arm64": "QInt8",  # s8 weights: ARM64 dot-product (and VNNI) kernels do not overflow
}


@register_exporter("onnx_int8")
def export_int8(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path, target: str = "any",
                nodes_to_exclude: tuple = ()) -> str | None:
    """Percentile calibration and per-channel weights (benchmarks/results/calibration_muffins.md), with the weight
    type TARGET needs (`convert quantize --target`); NODES_TO_EXCLUDE stay float (`--recover`)."""
    return quantize_static(model, spec, calibration, path, work, weight_type=TARGETS[target], nodes_to_exclude=nodes_to_exclude)
