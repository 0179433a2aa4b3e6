"""One runner per runtime behind one interface: predict(float batch) -> float scores.

Int8 quantisation of inputs and dequantisation of outputs lives here and only here.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edge.errors import UserError
from edge.formats import format_of
from edge.metadata import read_tflite_spec, spec_from_onnx_metadata
from edge.preprocess import normalize
from edge.spec import SPEC_KEY, ModelSpec

# Inputs normalised with the input tensor's own scale land exactly on rounding ties (u8 - 128.5); float error
# would round them either way. Rounding half up, with this tolerance in quantisation steps, maps them all the same way.
_TIE_TOLERANCE = 1e-3


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """float -> int8/uint8 with round-half-up; float32 in place, as it runs on every frame."""
    info = np.iinfo(dtype)
    q = np.multiply(x, np.float32(1 / scale), dtype=np.float32)
    q += np.float32(zero_point + 0.5 + _TIE_TOLERANCE)
    np.floor(q, out=q)
    np.clip(q, info.min, info.max, out=q)
    return q.astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.multiply(np.subtract(q, zero_point, dtype=np.float32), np.float32(scale), dtype=np.float32)


def _package_version(module) -> str:
    """The version a runtime module declares; importlib.metadata costs 20 ms of start-up, so only as a fallback."""
    version = getattr(module, "__version__", None)
    if version:
        return version
    from importlib import metadata

    try:
        return metadata.version(module.__name__.split(".")[0].replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "unknown"


def tflite_interpreter_class():
    """(Interpreter class, description): ai_edge_litert first, then tflite_runtime, then TensorFlow's tf.lite only when
    neither light runtime is installed (a workstation with the `train` extra; never needed on a device)."""
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, f"ai-edge-litert {_package_version(ai_edge_litert)}"
    except ImportError:
        pass
    try:
        import tflite_runtime
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, f"tflite-runtime {_package_version(tflite_runtime)}"
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, f"tensorflow {tf.__version__} tf.lite"
    except ImportError:
        raise UserError("running .tflite models needs a TFLite runtime: pip install ai-edge-litert") from None


class TFLiteRunner:
    """A .tflite model on LiteRT (XNNPACK), one image per invoke."""

    def __init__(self, path: Path, threads: int):
        interpreter_class, self.runtime = tflite_interpreter_class()
        self.spec = read_tflite_spec(path)
        try:
            self.interpreter = interpreter_class(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{path}: LiteRT cannot load it ({str(exc).splitlines()[0][:200]}); re-export it") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._table = None  # uint8 pixel -> int8 input, built on first use (the spec may be replaced after loading)
        self._shift = None  # set when that table is one uint8 add

    def describe(self) -> dict:
        """Input and output tensors with their quantisation (scale, zero point) where int8."""
        def tensor(d):
            scale, zero_point = d["quantization"]
            return {"name": d["name"], "shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name,
                    **({"scale": float(scale), "zero_point": int(zero_point)} if scale else {})}
        return {"inputs": [tensor(self.input)], "outputs": [tensor(self.output)]}

    def _quantized_input(self) -> bool:
        return self.input["dtype"] in (np.int8, np.uint8)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Float model inputs (N, H, W, C) -> float scores."""
        if self._quantized_input():
            batch = quantize(batch, *self.input["quantization"], self.input["dtype"])
        return self.run(batch)

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> the tensor the model takes. An int8 input goes through a 256-entry table of
        quantize(normalize(value)): the same numbers as predict() computes, without float arrays. Where the table is
        a shift modulo 256 (x/255 and x/127.5 - 1 both give q = u8 - 128), one uint8 add does it: 5 us against 75 us
        for cv2.LUT on a 224x224x3 frame."""
        if not self._quantized_input():
            return normalize(pixels, self.spec)
        if self._table is None:
            values = normalize(np.arange(256, dtype=np.uint8), self.spec)
            self._table = quantize(values, *self.input["quantization"], self.input["dtype"])
            shifts = (self._table.view(np.uint8).astype(np.int16) - np.arange(256)) % 256
            self._shift = np.uint8(shifts[0]) if (shifts == shifts[0]).all() else None  # np.unique would load numpy.ma
        if self._shift is not None:
            return np.add(pixels, self._shift, dtype=np.uint8).view(self._table.dtype)
        looked_up = cv2.LUT(np.ascontiguousarray(pixels).reshape(-1), self._table.view(np.uint8))
        return looked_up.view(self._table.dtype).reshape(pixels.shape)

    def run(self, tensors: np.ndarray) -> np.ndarray:
        """Model-ready input tensors (N, H, W, C), one invoke each -> float scores."""
        out_dtype = self.output["dtype"]
        out_scale, out_zero = self.output["quantization"]
        scores = []
        for x in tensors:
            self.interpreter.set_tensor(self.input["index"], x[None].astype(self.input["dtype"], copy=False))
            self.interpreter.invoke()
            y = self.interpreter.get_tensor(self.output["index"])
            scores.append(dequantize(y, out_scale, out_zero) if out_dtype in (np.int8, np.uint8) else y)
        return np.concatenate(scores).astype(np.float32)


class OnnxRunner:
    """An .onnx model on onnxruntime's CPU provider."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        self.runtime = f"onnxruntime {ort.__version__}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception classes for bad files
            raise UserError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:200]}); re-export it") from None
        self.spec = spec_from_onnx_metadata(self.session.get_modelmeta().custom_metadata_map)
        self.input_name = self.session.get_inputs()[0].name

    def describe(self) -> dict:
        """Input and output tensors, and the file's metadata other than the spec (opset, quantisation scheme)."""
        def tensor(t):
            return {"name": t.name, "shape": list(t.shape), "dtype": t.type}
        props = self.session.get_modelmeta().custom_metadata_map
        return {"inputs": [tensor(t) for t in self.session.get_inputs()],
                "outputs": [tensor(t) for t in self.session.get_outputs()],
                "metadata": {k: v for k, v in props.items() if k != SPEC_KEY}}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(np.float32, copy=False)})[0]

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return normalize(pixels, self.spec)  # ONNX models take float input; int8 QDQ quantises inside

    run = predict


RUNNERS = {"tflite": TFLiteRunner, "onnx": OnnxRunner}


def load(path: str | Path, threads: int | None = None, spec: ModelSpec | None = None):
    """Open a model file with the runner its format needs. `spec` replaces the embedded one when given."""
    path = Path(path)
    fmt = format_of(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file; check the --model path")
    runner = RUNNERS[fmt.runtime](path, threads or os.cpu_count() or 1)
    runner.format = fmt
    runner.path = path
    runner.spec = spec or runner.spec
    if runner.spec is None:
        raise UserError(f"{path}: carries no model spec (labels, input size); export it with `convert quantize`, "
                        "or pass --labels FILE --size WxH [--scale S --offset O]")
    return runner
