"""Write the ModelSpec into .tflite (flatbuffer metadata entry) and .onnx (metadata_props); edge/metadata.py reads them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from convert.tflite_metadata import METADATA_KEY, metadata_buffer, with_labels
from edge.formats import RUNTIMES, Format, format_of
from edge.registry import Registry
from edge.metadata import CHECKSUM_KEY, CHECKSUM_PREFIX, ONNX_CHECKSUM_MARKER, UNSET_DIGITS, file_checksum, tflite_entry_span
from edge.spec import SPEC_KEY, ModelSpec


def embed_tflite(model_bytes: bytes, spec: ModelSpec, standard: bool = False) -> bytes:
    """The TFLite flatbuffer with SPEC as metadata entry `edge_spec` (replacing an older one) and the file's
    checksum (edge/metadata.py) as `edge_checksum`. STANDARD adds TFLite Metadata for MediaPipe and the Task Library
    (convert/tflite_metadata.py) and the labels zip after the flatbuffer; the checksum covers it too."""
    spec = replace(spec, checksum="crc32")
    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    ours = {key for name in (SPEC_KEY, CHECKSUM_KEY, METADATA_KEY) for key in (name, name.encode())}
    model.metadata = [m for m in (model.metadata or []) if m.name not in ours]
    entries = [(SPEC_KEY, spec.to_json().encode())]
    entries += [(METADATA_KEY, metadata_buffer(spec, spec.provenance.recipe or "classifier"))] if standard else []
    for name, data in entries + [(CHECKSUM_KEY, CHECKSUM_PREFIX + UNSET_DIGITS)]:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata.append(entry)
    packed = pack_tflite(model)
    packed = bytearray(with_labels(packed, spec) if standard else packed)
    digits = tflite_entry_span(packed, CHECKSUM_KEY)[0] + len(CHECKSUM_PREFIX)
    packed[digits:digits + 8] = file_checksum(packed, digits)
    return bytes(packed)


def pack_tflite(model) -> bytes:
    """A TFLite ModelT (schema object API) back to flatbuffer bytes."""
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def embed_onnx_props(path: Path, **props: str) -> None:
    """Set string entries in an .onnx file's metadata_props (replacing entries with the same keys)."""
    import onnx

    proto = onnx.load(str(path))
    merged = {p.key: p.value for p in proto.metadata_props} | props
    del proto.metadata_props[:]
    for key, value in merged.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


# runtime -> the function writing the spec and the file's checksum into its files: TFLite's and ONNX's here, another
# runtime's beside its exporters (convert/<runtime>_export.py, imported on the first lookup of a runtime not yet here)
EMBEDDERS = Registry("convert", "_export", RUNTIMES)
embeds = EMBEDDERS.register  # decorator: @embeds("tflite")


@embeds("tflite")
def _embed_tflite_file(path: Path, spec: ModelSpec, fmt: Format) -> None:
    path.write_bytes(embed_tflite(path.read_bytes(), spec, standard=fmt.standard_metadata))


@embeds("onnx")
def _embed_onnx_file(path: Path, spec: ModelSpec, fmt: Format) -> None:
    spec = replace(spec, checksum="crc32")
    embed_onnx_props(path, **{SPEC_KEY: spec.to_json(), CHECKSUM_KEY: (CHECKSUM_PREFIX + UNSET_DIGITS).decode()})
    packed = bytearray(path.read_bytes())
    digits = packed.find(ONNX_CHECKSUM_MARKER) + len(ONNX_CHECKSUM_MARKER)
    packed[digits:digits + 8] = file_checksum(packed, digits)
    path.write_bytes(packed)


def embed_file(path: Path, spec: ModelSpec) -> None:
    """Write SPEC into an exported model file in place, as its format allows, with the file's checksum last."""
    fmt = format_of(path)
    EMBEDDERS.find(fmt.runtime)(path, spec, fmt)
