"""Read the ModelSpec embedded in a .tflite or .onnx file, without TensorFlow or the onnx package.

TFLite keeps it in the flatbuffer's `metadata` vector (name -> buffer), which interpreters ignore;
ONNX keeps it in `metadata_props`. convert/metadata.py writes both.
"""

from __future__ import annotations

import struct
from pathlib import Path

from edge.errors import UserError
from edge.spec import SPEC_KEY, ModelSpec

# Field numbers in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA = 0


def _field(buf: bytes, table: int, index: int) -> int | None:
    """Absolute position of field `index` of the flatbuffer table at `table`, or None when absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vtable_size = struct.unpack_from("<H", buf, vtable)[0]
    slot = 4 + 2 * index
    if slot >= vtable_size:
        return None
    offset = struct.unpack_from("<H", buf, vtable + slot)[0]
    return table + offset if offset else None


def _vector(buf: bytes, pos: int) -> tuple[int, int]:
    """(start, length) of the vector referenced at `pos`."""
    start = pos + struct.unpack_from("<I", buf, pos)[0]
    return start + 4, struct.unpack_from("<I", buf, start)[0]


def _table_at(buf: bytes, pos: int) -> int:
    return pos + struct.unpack_from("<I", buf, pos)[0]


def tflite_metadata(buf: bytes) -> dict[str, bytes]:
    """All (name -> bytes) metadata entries of a TFLite flatbuffer."""
    model = _table_at(buf, 0)
    meta_pos, buffers_pos = _field(buf, model, _MODEL_METADATA), _field(buf, model, _MODEL_BUFFERS)
    if meta_pos is None or buffers_pos is None:
        return {}
    buffers_start, _ = _vector(buf, buffers_pos)
    entries = {}
    start, count = _vector(buf, meta_pos)
    for i in range(count):
        entry = _table_at(buf, start + 4 * i)
        name_pos, index_pos = _field(buf, entry, _METADATA_NAME), _field(buf, entry, _METADATA_BUFFER)
        if name_pos is None or index_pos is None:
            continue
        name_start, name_len = _vector(buf, name_pos)
        buffer = _table_at(buf, buffers_start + 4 * struct.unpack_from("<I", buf, index_pos)[0])
        data_pos = _field(buf, buffer, _BUFFER_DATA)
        data = b""
        if data_pos is not None:
            data_start, data_len = _vector(buf, data_pos)
            data = bytes(buf[data_start : data_start + data_len])
        entries[buf[name_start : name_start + name_len].decode()] = data
    return entries


def read_tflite_spec(path: Path) -> ModelSpec | None:
    """The spec embedded in a .tflite file, or None when it carries none."""
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise UserError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier); re-export it with `convert quantize`")
    try:
        text = tflite_metadata(buf).get(SPEC_KEY)
    except struct.error as exc:
        raise UserError(f"{path}: truncated or corrupt TFLite file ({exc}); re-export it") from None
    return ModelSpec.from_json(text) if text else None


def spec_from_onnx_metadata(props: dict[str, str]) -> ModelSpec | None:
    """The spec from an onnxruntime session's custom_metadata_map, or None when it carries none."""
    text = props.get(SPEC_KEY)
    return ModelSpec.from_json(text) if text else None
