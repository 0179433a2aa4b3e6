"""The one table of export formats, keyed by name, and what each can do. Export, loading, diagnosis, recovery,
benchmarks and CLI choices all read it; what a format needs beyond its row is registered beside the code that does
it: its exporter (@register_exporter in convert/*_export.py), its runtime's runner (@register_runner in
edge/*_runner.py), the writer of the spec into its files (@embeds in convert/metadata.py) and, for int8 formats, its
runtime's layer debugger (@debugs in convert/diagnose.py). tests/test_registries.py walks every row against them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import UserError


@dataclass(frozen=True)
class ExportOption:
    """An export option: the values allowed (the first is the default), and what it chooses (convert's --help)."""

    values: tuple[str, ...]
    help: str


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str  # file-name ending; the longest matching ending identifies a file's format
    runtime: str  # the runner that loads it (edge/<runtime>_runner.py): "tflite" or "onnx"
    needs: str  # what the device must have installed to run it
    description: str
    options: dict[str, ExportOption] = field(default_factory=dict)  # export options it takes (a --flag each)
    io: str = "float32"  # the type of its input and output tensors: int8, uint8 or float32
    int8: bool = False  # integer inside: diagnosed layer by layer when it fails the gate (and with --explain)
    recoverable: bool = False  # --recover can keep some of its activations in float
    standard_metadata: bool = False  # its files also carry TFLite Metadata and a labels file (MediaPipe, Task Library)
    reference: bool = False  # float: what edge-bench measures agreement against, unless --reference says
    folder: bool = False  # an export is a folder named MODEL<suffix> (e.g. a .xml and a .bin), not one file


TARGET = ExportOption(("any", "arm64"), "the device its scheme is chosen for, any CPU (u8 x u8: no saturation) or "
                                        "arm64 (8-bit; on x86 without VNNI the parity check here measures saturation)")
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("tflite_int8", ".tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8, int8 input and output", io="int8", int8=True, recoverable=True),
        Format("tflite_uint8", ".uint8.tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8 inside, uint8 input and output, TFLite Metadata: loads in MediaPipe Tasks "
               "and the Task Library as is (binary models as two scores)", io="uint8", int8=True,
               standard_metadata=True),  # not recoverable: the debugger writes int8 input and output
        Format("tflite_int8_float_io", ".int8-float-io.tflite", "tflite", "ai-edge-litert",
               "TFLite full-integer int8 inside, float32 input and output", int8=True, recoverable=True),
        Format("tflite_int16x8", ".int16x8.tflite", "tflite", "ai-edge-litert",
               "TFLite int16 activations, int8 weights, float32 input and output: the integer model to try when "
               "int8 activations lose accuracy (XNNPACK lacks its kernels: on x86, 30x slower than fp32)"),
        Format("tflite_fp32", ".fp32.tflite", "tflite", "ai-edge-litert",
               "TFLite float32", reference=True),
        Format("tflite_fp16", ".fp16.tflite", "tflite", "ai-edge-litert",
               "TFLite float16 weights, float32 compute"),
        Format("tflite_dynamic", ".dynamic.tflite", "tflite", "ai-edge-litert",
               "TFLite dynamic-range: int8 weights, float activations, no calibration"),
        Format("onnx", ".onnx", "onnx", "onnxruntime",
               "ONNX float32 (opset 17)", reference=True),
        Format("onnx_int8", ".int8.onnx", "onnx", "onnxruntime",
               "ONNX int8 static QDQ: uint8 activations, per-channel int8 weights, percentile calibration",
               {"target": TARGET}, int8=True, recoverable=True),
    )
}
DEFAULT_FORMATS = ("tflite_int8", "onnx", "onnx_int8")  # what a Raspberry Pi needs
RUNTIMES = tuple(dict.fromkeys(f.runtime for f in FORMATS.values()))


def format_of(path: str | Path) -> Format:
    """The format a model file (or folder) is in, from its name; UserError for anything the edge runtime cannot run."""
    name, folder = Path(path).name, Path(path).is_dir()
    matches = [f for f in FORMATS.values() if name.endswith(f.suffix) and f.folder == folder]
    if not matches:
        hint = " Convert it first: convert quantize MODEL.keras --data DIR." if name.endswith((".keras", ".h5")) else ""
        raise UserError(f"{path}: the edge runtime runs {endings()} files, not this one.{hint}")
    return max(matches, key=lambda f: len(f.suffix))


def output_path(out_dir: Path, stem: str, fmt: Format) -> Path:
    """Where an export of FMT goes: the file (or folder) OUT_DIR/STEM<suffix>."""
    return out_dir / f"{stem}{fmt.suffix}"


def endings() -> str:
    """The file endings of the table's formats, for messages: '.onnx and .tflite'."""
    return " and ".join(sorted({"." + f.suffix.rsplit(".", 1)[-1] for f in FORMATS.values()}))


def exports_in(folder: Path) -> list[Path]:
    """The exports in FOLDER, recognised by name as format_of does; hidden names (partial writes) left out."""
    found = []
    for path in sorted(folder.iterdir()):
        if not path.name.startswith("."):
            try:
                format_of(path)
            except UserError:
                continue
            found.append(path)
    return found
