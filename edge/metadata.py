"""Read the ModelSpec embedded in a .tflite or .onnx file, without TensorFlow or the onnx package.

TFLite keeps it in the flatbuffer's `metadata` vector (name -> buffer), which interpreters ignore;
ONNX keeps it in `metadata_props`. convert/metadata.py writes both.
"""

from __future__ import annotations

import struct
from pathlib import Path

from edge.errors import UserError
from edge.spec import MAX_SPEC_BYTES, SPEC_KEY, ModelSpec

# Field numbers in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA = 0
MAX_ENTRIES = 1024  # metadata entries looked at; real files carry a handful


def _read(buf: bytes, pos: int, kind: str) -> int:
    """The little-endian integer of struct KIND at POS; struct.error when it lies outside BUF."""
    size = struct.calcsize(kind)
    if pos < 0 or pos + size > len(buf):
        raise struct.error(f"offset {pos} outside the {len(buf)}-byte file")
    return struct.unpack_from(kind, buf, pos)[0]


def _field(buf: bytes, table: int, index: int) -> int | None:
    """Absolute position of field `index` of the flatbuffer table at `table`, or None when absent."""
    vtable = table - _read(buf, table, "<i")
    slot = 4 + 2 * index
    if slot >= _read(buf, vtable, "<H"):
        return None
    offset = _read(buf, vtable + slot, "<H")
    return table + offset if offset else None


def _vector(buf: bytes, pos: int) -> tuple[int, int]:
    """(start, length) of the vector referenced at `pos`."""
    start = pos + _read(buf, pos, "<I")
    return start + 4, _read(buf, start, "<I")


def _table_at(buf: bytes, pos: int) -> int:
    return pos + _read(buf, pos, "<I")


def tflite_entry(buf: bytes, name: str) -> bytes | None:
    """The bytes of metadata entry NAME of a TFLite flatbuffer, or None when it has none. Only entry names are read
    (at most MAX_ENTRIES of them) and one buffer is copied, so a hostile file costs no more than its own size;
    struct.error for offsets outside the file or an entry over MAX_SPEC_BYTES."""
    model = _table_at(buf, 0)
    meta_pos, buffers_pos = _field(buf, model, _MODEL_METADATA), _field(buf, model, _MODEL_BUFFERS)
    if meta_pos is None or buffers_pos is None:
        return None
    buffers_start, buffer_count = _vector(buf, buffers_pos)
    start, count = _vector(buf, meta_pos)
    wanted = name.encode()
    for i in range(min(count, MAX_ENTRIES)):
        entry = _table_at(buf, start + 4 * i)
        name_pos, index_pos = _field(buf, entry, _METADATA_NAME), _field(buf, entry, _METADATA_BUFFER)
        if name_pos is None or index_pos is None:
            continue
        name_start, name_len = _vector(buf, name_pos)
        if buf[name_start:name_start + name_len] != wanted:
            continue
        index = _read(buf, index_pos, "<I")
        if index >= buffer_count:
            raise struct.error(f"metadata {name!r} names buffer {index} of {buffer_count}")
        data_pos = _field(buf, _table_at(buf, buffers_start + 4 * index), _BUFFER_DATA)
        if data_pos is None:
            return b""
        data_start, data_len = _vector(buf, data_pos)
        if data_len > MAX_SPEC_BYTES or data_start + data_len > len(buf):
            raise struct.error(f"metadata {name!r} claims {data_len} bytes")
        return bytes(buf[data_start:data_start + data_len])
    return None


def read_tflite_spec(path: Path) -> ModelSpec | None:
    """The spec embedded in a .tflite file, or None when it carries none."""
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise UserError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier); re-export it with `convert quantize`")
    try:
        text = tflite_entry(buf, SPEC_KEY)
    except struct.error as exc:
        raise UserError(f"{path}: truncated or corrupt TFLite file ({exc}); re-export it") from None
    return ModelSpec.from_json(text, str(path)) if text else None


def spec_from_onnx_metadata(props: dict[str, str], path: Path) -> ModelSpec | None:
    """The spec from the custom_metadata_map of PATH's onnxruntime session, or None when it carries none."""
    text = props.get(SPEC_KEY)
    return ModelSpec.from_json(text, str(path)) if text else None
