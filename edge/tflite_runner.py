"""The LiteRT runner for .tflite files (XNNPACK): ai_edge_litert, tflite_runtime, or TensorFlow's tf.lite."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from edge.errors import UserError
from edge.metadata import read_tflite_spec
from edge.native import info_lines_dropped
from edge.preprocess import normalize
from edge.runtime import dequantize, quantize_array, register_runner


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
        raise UserError("running .tflite models needs a TFLite runtime: pip install ai-edge-litert "
                        "(or the toolkit's edge or edge-tflite extra)") from None


@register_runner("tflite")
class TFLiteRunner:
    """A .tflite model on LiteRT (XNNPACK), one image per invoke."""

    def __init__(self, path: Path, threads: int):
        interpreter_class, self.runtime = tflite_interpreter_class()
        self.file, self.threads = path, threads
        self.spec = read_tflite_spec(path)
        try:
            with info_lines_dropped():
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
            batch = quantize_array(batch, *self.input["quantization"], self.input["dtype"])
        return self.run(batch)

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> the tensor the model takes. An int8 input goes through a 256-entry table of
        quantize_array(normalize(value)): the same numbers as predict() computes, without float arrays. Where the table is
        a shift modulo 256 (x/255 and x/127.5 - 1 both give q = u8 - 128), one uint8 add does it: 5 us against 75 us
        for cv2.LUT on a 224x224x3 frame."""
        if not self._quantized_input():
            return normalize(pixels, self.spec)
        if self._table is None:
            values = normalize(np.arange(256, dtype=np.uint8), self.spec)
            self._table = quantize_array(values, *self.input["quantization"], self.input["dtype"])
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

    def bare(self) -> tuple[str, Callable[[np.ndarray], np.ndarray], dict]:
        """(name, call, input details) of the stock interpreter on the same file at the same threads, invoked by hand
        on a tensor already in its input type: the floor edge-bench measures this runner against."""
        interpreter_class, name = tflite_interpreter_class()
        with info_lines_dropped():
            interpreter = interpreter_class(model_path=str(self.file), num_threads=self.threads)
            interpreter.allocate_tensors()
        source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def call(x):
            interpreter.set_tensor(source["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(target["index"])

        return f"{name} direct", call, source
