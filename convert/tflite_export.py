"""Keras -> TFLite with builtin ops only (what LiteRT and tflite-runtime on a device can run).

Each exporter writes the bare model; `convert quantize` embeds the spec once parity is known."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from edge.spec import ModelSpec


def _converter(model):
    import tensorflow as tf

    return tf, tf.lite.TFLiteConverter.from_keras_model(model)


def _convert(converter) -> bytes:
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the traced function
        return converter.convert()


def export_fp32(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    tf, converter = _converter(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path.write_bytes(_convert(converter))


def export_fp16(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path.write_bytes(_convert(converter))


def export_dynamic(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    """int8 weights, activations quantised on the fly; needs no calibration images."""
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    path.write_bytes(_convert(converter))


def export_int8(model, spec: ModelSpec, calibration: np.ndarray, path: Path) -> None:
    """Full-integer int8 with int8 input and output, calibrated on CALIBRATION (float inputs, one per image)."""
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(_convert(converter))
