"""Keras -> TFLite with builtin ops only (what LiteRT and tflite-runtime on a device can run).

Each exporter writes the bare model; `convert quantize` embeds the spec once parity is known."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from convert.examples import Examples
from convert.registry import register_exporter
from edge.errors import UserError
from edge.spec import ModelSpec


def _converter(model):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never Flex: devices lack it
    return tf, converter


def unsupported_ops(message: str, layer_names: set[str]) -> tuple[list[str], list[str]]:
    """(TensorFlow op names, Keras layer names) from a converter error about ops TFLite builtins lack.
    Op locations read like "functional_1/determinant_1/MatrixDeterminant@...": name scopes that are layer names,
    possibly with a _N suffix TensorFlow added."""
    ops = sorted(set(re.findall(r"^\s*tf\.(\w+)", message, flags=re.M)))
    layers = {name for scope in re.findall(r'"([\w./]+)/\w+@', message) for name in scope_layers(scope, layer_names)}
    return ops, sorted(layers)


def scope_layers(scope: str, layer_names: set[str]) -> list[str]:
    """The Keras layer names among the parts of a converted op's name scope (split at / ; :), outermost first;
    TensorFlow adds _N suffixes: conv_a_1 is conv_a."""
    return [name for part in re.split(r"[/;:]", scope) for name in (part, re.sub(r"_\d+$", "", part))
            if name in layer_names]


def layer_names(model) -> set[str]:
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if hasattr(layer, "layers"):
            names |= layer_names(layer)
    return names


def _convert(converter, path: Path, model) -> None:
    from tensorflow.lite.python.convert_phase import ConverterError

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the traced function
            flatbuffer = converter.convert()
    except ConverterError as exc:
        ops, layers = unsupported_ops(str(exc), layer_names(model))
        if not ops:
            raise
        raise UserError(f"{path.name}: TFLite builtins lack {', '.join(ops)} (used by layers: {', '.join(layers) or 'unknown'}); "
                        "replace those layers, since device runtimes have no Flex (TensorFlow) ops") from None
    path.write_bytes(short_inner_names(flatbuffer))


def short_inner_names(flatbuffer: bytes) -> bytes:
    """FLATBUFFER with its inner tensors named t<index>; inputs, outputs and signatures keep their names. The
    converter names a fused op's output after every layer in it: 3% of a 150 KB model. No name at all (what LiteRT's
    flatbuffer_utils.strip_strings leaves) crashes OpenCV's TFLite reader (cv2.dnn.readNetFromTFLite, exit 139)."""
    from ai_edge_litert import schema_py_generated as schema

    from convert.metadata import pack_tflite

    model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    for graph in model.subgraphs:
        kept = set(graph.inputs) | set(graph.outputs)
        for index, tensor in enumerate(graph.tensors):
            if index not in kept:
                tensor.name = f"t{index}"
    return pack_tflite(model)


@register_exporter("tflite_fp32")
def export_fp32(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    _, converter = _converter(model)
    _convert(converter, path, model)


@register_exporter("tflite_fp16")
def export_fp16(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    _convert(converter, path, model)


@register_exporter("tflite_dynamic")
def export_dynamic(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    """int8 weights, activations quantised on the fly; needs no calibration images."""
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    _convert(converter, path, model)


def calibration_batch(count: int, most: int = 16) -> int:
    """Images per calibration step: the largest divisor of COUNT up to MOST, since the converter's calibrator sizes
    its input once, by the first batch (the ranges it keeps are the same whatever the batch)."""
    return max(size for size in range(1, min(most, count) + 1) if count % size == 0)


def int8_converter(model, calibration: Examples):
    """Full-integer int8, calibrated on CALIBRATION a batch at a time (the converter keeps ranges, not images)."""
    tf, converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    size = calibration_batch(len(calibration))
    converter.representative_dataset = lambda: ([x] for x in calibration.batches(size, "calibrating TFLite int8"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return tf, converter


@register_exporter("tflite_int8")
def export_int8(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    """int8 input and output: the device feeds quantised pixels straight in (see edge.runtime.quantize_array)."""
    tf, converter = int8_converter(model, calibration)
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    _convert(converter, path, model)


def two_scores(model):
    """MODEL with its one sigmoid score p as two, [1 - p, p]: one per label, as MediaPipe and the Task Library count
    them (edge-classify reads either head)."""
    import keras

    p = model.outputs[0]
    return keras.Model(model.inputs, keras.layers.Concatenate(name="two_scores")([keras.layers.Rescaling(-1.0, offset=1.0)(p), p]))


@register_exporter("tflite_uint8")
def export_uint8(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    """int8 inside, uint8 input and output, with TFLite Metadata added at embedding (convert/tflite_metadata.py): the
    file MediaPipe Tasks and the TFLite Task Library load as is. A binary model gets two scores."""
    model = two_scores(model) if spec.task == "binary" else model
    tf, converter = int8_converter(model, calibration)
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    _convert(converter, path, model)


@register_exporter("tflite_int8_float_io")
def export_int8_float_io(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    """int8 inside, float32 input and output: a drop-in for a float model."""
    _, converter = int8_converter(model, calibration)
    _convert(converter, path, model)


@register_exporter("tflite_int16x8")
def export_int16x8(model, spec: ModelSpec, calibration: Examples, path: Path, work: Path) -> None:
    """int16 activations and int8 weights (TFLite's 16x8 scheme, calibrated as int8 is), float32 input and output:
    65,536 activation levels where int8 has 256, at the cost of kernels XNNPACK does not have."""
    tf, converter = int8_converter(model, calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    _convert(converter, path, model)
