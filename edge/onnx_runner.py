"""The onnxruntime runner for .onnx files (fp32 and int8 QDQ), on the CPU provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.metadata import spec_from_onnx_metadata
from edge.preprocess import normalize
from edge.runtime import register_runner
from edge.spec import SPEC_KEY


@register_runner("onnx")
class OnnxRunner:
    """An .onnx model on onnxruntime's CPU provider."""

    def __init__(self, path: Path, threads: int):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("running .onnx models needs onnxruntime: pip install onnxruntime "
                            "(or the toolkit's edge or edge-onnx extra)") from None

        self.runtime = f"onnxruntime {ort.__version__}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception classes for bad files
            raise UserError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:200]}); re-export it") from None
        try:
            self.props = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError:
            raise UserError(f"{path}: its metadata is not UTF-8 text (a damaged file); copy it again or re-export it") from None
        self.spec = spec_from_onnx_metadata(self.props, path)
        self.input_name = self.session.get_inputs()[0].name

    def describe(self) -> dict:
        """Input and output tensors, and the file's metadata other than the spec (opset, quantisation scheme)."""
        def tensor(t):
            return {"name": t.name, "shape": list(t.shape), "dtype": t.type}
        return {"inputs": [tensor(t) for t in self.session.get_inputs()],
                "outputs": [tensor(t) for t in self.session.get_outputs()],
                "metadata": {k: v for k, v in self.props.items() if k != SPEC_KEY}}

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(np.float32, copy=False)})[0]

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return normalize(pixels, self.spec)  # ONNX models take float input; int8 QDQ quantises inside

    run = predict
