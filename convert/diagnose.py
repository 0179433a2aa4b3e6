"""Where int8 loses it: each quantised activation of an int8 export, ranked by what quantising it loses, measured
with the runtimes' own tools. TFLite: tf.lite.experimental.QuantizationDebugger, which compares every int8 op's
output with the same op run in float on the same inputs. ONNX: onnxruntime.quantization.qdq_loss_debug, each
activation before and after its QuantizeLinear/DequantizeLinear pair.

The error of a tensor is the median, over the larger half of its non-zero values, of |float - int8| / |float|: the
share of a typical value that quantising loses. Rounding costs a few percent; a tensor whose per-tensor scale is
stretched by a few huge values loses everything else (error near 1). RMSE over the quantisation step, the debugger's own figure, is
kept beside it for TFLite: it stays near 0.29 in exactly that case, since the step is huge.

Each runtime's debugger is registered here (@debugs) for the int8 formats of the table (edge/formats.py); it also
re-quantises the same model with some ops in float, which `--recover` (convert/recover.py) searches over."""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from convert.examples import Examples
from edge.formats import RUNTIMES
from edge.registry import Registry

DIAGNOSIS_IMAGES = 32  # calibration images the layers are compared on (ONNX: 8, it keeps every activation)
SHOWN = 5  # layers printed in the terminal; parity.json and the chart have all


def relative_error(reference: np.ndarray, quantised: np.ndarray) -> float:
    """Median of |reference - quantised| / |reference| over the larger half of the non-zero reference values (0 when
    there are none): the smaller half holds the tails of ReLUs, a step or less, which any 8-bit scale rounds away."""
    reference, quantised = reference.ravel(), quantised.ravel()
    magnitude = np.abs(reference)
    nonzero = magnitude > 1e-6
    if not nonzero.any():
        return 0.0
    kept = magnitude >= np.median(magnitude[nonzero])
    return float(np.median(np.abs(reference[kept] - quantised[kept]) / magnitude[kept]))


def keras_layer(tensor: str, layer_names: set[str]) -> str | None:
    """The Keras layer a converted tensor or node comes from: the innermost name scope that is a layer name
    (TensorFlow adds _N suffixes: conv_a_1 is conv_a), in the first of a fused op's names."""
    from convert.tflite_export import scope_layers

    found = scope_layers(tensor.split(";")[0], layer_names)
    return found[-1] if found else None


@dataclass
class Layer:
    tensor: str  # the activation's name in the converted model
    op: str
    error: float  # relative_error of the activation
    depth: int  # its order in the graph
    layer: str | None = None  # the Keras layer it comes from
    rmse_over_scale: float | None = None  # TFLite only

    def row(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class Diagnosis:
    runtime: str
    layers: list[Layer] = field(default_factory=list)  # in graph order

    def ranked(self) -> list[Layer]:
        return sorted(self.layers, key=lambda layer: -layer.error)

    def report(self) -> dict:
        return {"runtime": self.runtime, "metric": "median relative error of the larger half of the non-zero values",
                "layers": [layer.row() for layer in self.ranked()]}

    def lines(self) -> list[str]:
        """The worst layers, one line each, for the terminal."""
        return [f"  {layer.layer or '-'}  {layer.op}  error {layer.error:.3f}  ({layer.tensor[:60]})"
                for layer in self.ranked()[:SHOWN]]


def _images(calibration: Examples, most: int) -> list[np.ndarray]:
    """Up to MOST calibration inputs, one batch of one each (the debug tools run image by image)."""
    inputs = next(calibration.batches(min(most, len(calibration))))
    return [x[None] for x in inputs]


class Debugger(Protocol):
    """One int8 export, layer by layer, in its runtime's own tools: built as Debugger(job, fmt, path) from the run's
    export job (convert/export.py), the format and the export's file."""

    def layers(self) -> Diagnosis:
        """Every quantised activation and what quantising it loses."""

    def total_ops(self) -> int:
        """Ops in the model that recovery would re-quantise."""

    def nodes(self, tensors: list[str]) -> list[str]:
        """The ops that must run in float for TENSORS never to be quantised."""

    def write(self, nodes: list[str], path: Path) -> None:
        """The int8 model with NODES in float, at PATH."""


DEBUGGERS = Registry("convert", "_export", RUNTIMES)  # runtime -> its Debugger (here, or beside its exporters)
debugs = DEBUGGERS.register  # class decorator: @debugs("tflite")


@debugs("tflite")
class TfliteDebugger:
    """QuantizationDebugger over the model calibrated once; `layers()` diagnoses, `write(nodes)` re-quantises keeping
    those ops in float (recovery), without calibrating again."""

    def __init__(self, job, fmt, path: Path):
        import tensorflow as tf

        from convert.tflite_export import int8_converter, layer_names

        self.tf, self.fully_quantize = tf, fmt.io != "float32"
        _, converter = int8_converter(job.model, job.calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        images = _images(job.calibration, DIAGNOSIS_IMAGES)
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the traced function
            self.debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=lambda: ([x] for x in images), debug_options=self._options([]))
        self.layer_names = layer_names(job.model)

    def _options(self, denylisted: list[str]):
        compare = {"relative_error": lambda ref, quant, scale, zero: relative_error(
            np.concatenate([np.ravel(r) for r in ref]),
            (np.concatenate([np.ravel(q) for q in quant]).astype(np.float32) - zero) * scale)}
        return self.tf.lite.experimental.QuantizationDebugOptions(
            layer_direct_compare_metrics=compare, denylisted_nodes=denylisted or None, fully_quantize=self.fully_quantize)

    def layers(self) -> Diagnosis:
        self.debugger.run()
        dump = io.StringIO()
        self.debugger.layer_statistics_dump(dump)
        diagnosis = Diagnosis("tflite")
        for depth, row in enumerate(csv.DictReader(io.StringIO(dump.getvalue()))):
            scale = float(row["scale"]) or 1.0
            diagnosis.layers.append(Layer(row["tensor_name"], row["op_name"], round(float(row["relative_error"]), 4),
                                          depth, keras_layer(row["tensor_name"], self.layer_names),
                                          round(float(np.sqrt(float(row["mean_squared_error"]))) / scale, 4)))
        return diagnosis

    def total_ops(self) -> int:
        from ai_edge_litert import schema_py_generated as schema

        return len(schema.ModelT.InitFromPackedBuf(self.debugger.calibrated_model, 0).subgraphs[0].operators)

    def nodes(self, tensors: list[str]) -> list[str]:
        """The ops (named by their output tensors) that must run in float for TENSORS never to be quantised: each
        tensor's producer and its consumers, which would otherwise quantise it again on the way in."""
        from ai_edge_litert import schema_py_generated as schema

        model = schema.ModelT.InitFromPackedBuf(self.debugger.calibrated_model, 0)
        graph = model.subgraphs[0]
        names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in graph.tensors]
        nodes = set()
        for op in graph.operators:
            touched = {names[i] for i in [*op.inputs, *op.outputs] if i >= 0}
            if touched & set(tensors):
                nodes |= {names[i] for i in op.outputs}
        return sorted(nodes)

    def write(self, nodes: list[str], path: Path) -> None:
        """The int8 model with NODES (op output tensor names) in float."""
        from convert.tflite_export import short_inner_names

        with contextlib.redirect_stdout(io.StringIO()):
            self.debugger.options = self._options(nodes)
            path.write_bytes(short_inner_names(self.debugger.get_nondebug_quantized_model()))


class _Reader:
    """onnxruntime CalibrationDataReader over single images, iterable as qdq_loss_debug wants."""

    def __init__(self, images: list[np.ndarray], name: str):
        self.items = iter([{name: x} for x in images])

    def get_next(self):
        return next(self.items, None)

    def __iter__(self):
        return self.items


def onnx_layers(int8_path: Path, calibration: Examples, layer_names: set[str], work: Path) -> Diagnosis:
    """Every activation of the QDQ model INT8_PATH before and after its QuantizeLinear/DequantizeLinear pair."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, create_activation_matching,
                                                         modify_model_output_intermediate_tensors)

    from convert.onnx_export import INPUT_NAME

    images = _images(calibration, 8)
    augmented = work / "diagnosis-int8.onnx"
    modify_model_output_intermediate_tensors(str(int8_path), str(augmented))
    matching = create_activation_matching(collect_activations(str(augmented), _Reader(images, INPUT_NAME)))
    producers = {output: (node.op_type, depth) for depth, node in enumerate(onnx.load(str(int8_path)).graph.node)
                 for output in node.output if node.op_type not in ("QuantizeLinear", "DequantizeLinear")}
    diagnosis = Diagnosis("onnx")
    for tensor, pair in matching.items():
        if tensor not in producers or "pre_qdq" not in pair:
            continue
        op, depth = producers[tensor]
        error = relative_error(np.concatenate([np.ravel(a) for a in pair["pre_qdq"]]),
                               np.concatenate([np.ravel(a) for a in pair["post_qdq"]]))
        diagnosis.layers.append(Layer(tensor, op, round(error, 4), depth, keras_layer(tensor, layer_names)))
    diagnosis.layers.sort(key=lambda layer: layer.depth)
    return diagnosis


ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh")  # fused into their producer


def onnx_nodes_keeping_float(prepared: Path, tensors: list[str]) -> list[str]:
    """The nodes of the float ONNX model PREPARED that must stay unquantised for TENSORS never to be quantised: each
    tensor's producer and its consumers (quantize_static's nodes_to_exclude). The quantiser fuses an activation into
    the op before it, so a tensor made by an activation takes that op's output along."""
    import onnx

    nodes = onnx.load(str(prepared)).graph.node
    producer = {output: node for node in nodes for output in node.output}
    kept = set()
    for tensor in tensors:
        while tensor not in kept:
            kept.add(tensor)
            made_by = producer.get(tensor)
            if made_by is None or made_by.op_type not in ACTIVATIONS:
                break
            tensor = made_by.input[0]
    return sorted({node.name for node in nodes if kept & {*node.input, *node.output}})


@debugs("onnx")
class OnnxDebugger:
    """qdq_loss_debug over the QDQ export at PATH; recovery quantises the prepared float model again with
    nodes_to_exclude (onnxruntime's own way to keep ops in float)."""

    def __init__(self, job, fmt, path: Path):
        from convert.registry import options_for
        from convert.tflite_export import layer_names

        self.job, self.path, self.options = job, path, options_for(fmt.name, job.options)
        self.layer_names = layer_names(job.model)

    def _prepared(self) -> Path:
        from convert.onnx_export import prepared_model

        return prepared_model(self.job.model, self.job.spec, self.job.work)

    def layers(self) -> Diagnosis:
        return onnx_layers(self.path, self.job.calibration, self.layer_names, self.job.work)

    def total_ops(self) -> int:
        import onnx

        return len(onnx.load(str(self._prepared())).graph.node)

    def nodes(self, tensors: list[str]) -> list[str]:
        return onnx_nodes_keeping_float(self._prepared(), tensors)

    def write(self, nodes: list[str], path: Path) -> None:
        from convert.onnx_export import export_int8

        export_int8(self.job.model, self.job.spec, self.job.calibration, path, self.job.work,
                    nodes_to_exclude=tuple(nodes), **self.options)


def chart(diagnosis: Diagnosis, path: Path, title: str) -> str:
    """A bar chart of the error of each activation in graph order, the worst ones named; returns its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = diagnosis.layers
    figure, axes = plt.subplots(figsize=(max(6.0, 0.18 * len(layers)), 3.6))
    worst = {id(layer) for layer in diagnosis.ranked()[:SHOWN]}
    axes.bar(range(len(layers)), [layer.error for layer in layers],
             color=["#c0392b" if id(layer) in worst else "#7f8c8d" for layer in layers])
    axes.set_xticks([i for i, layer in enumerate(layers) if id(layer) in worst])
    axes.set_xticklabels([(layer.layer or layer.op)[:18] for layer in layers if id(layer) in worst], rotation=30,
                         ha="right", fontsize=8)
    axes.set_ylabel("median relative error")
    axes.set_xlabel(f"activations in graph order ({len(layers)})")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name
