"""The one table of export formats, keyed by name. Export, loading, benchmarks and CLI choices all read it; each
format's exporter registers itself in convert/registry.py and its runner in edge/runtime.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import UserError


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str  # file-name ending; the longest matching ending identifies a file's format
    runtime: str  # the runner that loads it (edge/<runtime>_runner.py): "tflite" or "onnx"
    needs: str  # what the device must have installed to run it
    description: str
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # export options it takes -> allowed values


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("tflite_int8", ".tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8, int8 input and output"),
        Format("tflite_uint8", ".uint8.tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8 inside, uint8 input and output, TFLite Metadata: loads in MediaPipe Tasks "
               "and the Task Library as is (binary models as two scores)"),
        Format("tflite_int8_float_io", ".int8-float-io.tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8 inside, float32 input and output"),
        Format("tflite_fp32", ".fp32.tflite", "tflite", "ai-edge-litert",
               "TFLite float32"),
        Format("tflite_fp16", ".fp16.tflite", "tflite", "ai-edge-litert",
               "TFLite float16 weights, float32 compute"),
        Format("tflite_dynamic", ".dynamic.tflite", "tflite", "ai-edge-litert",
               "TFLite dynamic-range: int8 weights, float activations, no calibration"),
        Format("onnx", ".onnx", "onnx", "onnxruntime",
               "ONNX float32 (opset 17)"),
        Format("onnx_int8", ".int8.onnx", "onnx", "onnxruntime",
               "ONNX int8 static QDQ: uint8 activations, per-channel int8 weights, percentile calibration",
               {"target": ("any", "arm64")}),
    )
}
DEFAULT_FORMATS = ("tflite_int8", "onnx", "onnx_int8")  # what a Raspberry Pi needs


def format_of(path: str | Path) -> Format:
    """The format a model file is in, from its name; UserError for anything the edge runtime cannot run."""
    name = Path(path).name
    matches = [f for f in FORMATS.values() if name.endswith(f.suffix)]
    if not matches:
        hint = " Convert it first: convert quantize MODEL.keras --data DIR." if name.endswith((".keras", ".h5")) else ""
        endings = " and ".join(sorted({"." + f.suffix.rsplit(".", 1)[-1] for f in FORMATS.values()}))
        raise UserError(f"{path}: the edge runtime runs {endings} files, not this one.{hint}")
    return max(matches, key=lambda f: len(f.suffix))


def output_path(out_dir: Path, stem: str, fmt: Format) -> Path:
    return out_dir / f"{stem}{fmt.suffix}"
