"""Read the ModelSpec embedded in a .tflite or .onnx file, without TensorFlow or the onnx package.

TFLite keeps it in the flatbuffer's `metadata` vector (name -> buffer), which interpreters ignore;
ONNX keeps it in `metadata_props`. convert/metadata.py writes both.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from edge.errors import UserError
from edge.spec import MAX_SPEC_BYTES, SPEC_KEY, ModelSpec

# Field numbers in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA = 0
MAX_ENTRIES = 1024  # metadata entries looked at; real files carry a handful
# A CRC-32 of the whole file, taken with its own 8 hex digits as zeros; written last by convert/metadata.py. It finds
# bit flips and truncation that the runtimes load unnoticed (most weights are not checked by anything else).
CHECKSUM_KEY, CHECKSUM_PREFIX, UNSET_DIGITS = "edge_checksum", b"crc32:", b"0" * 8
# How an ONNX metadata_props entry (key, value) with the checksum is encoded in the protobuf, up to its 8 digits.
ONNX_CHECKSUM_MARKER = (b"\x0a" + bytes([len(CHECKSUM_KEY)]) + CHECKSUM_KEY.encode()
                         + b"\x12" + bytes([len(CHECKSUM_PREFIX) + 8]) + CHECKSUM_PREFIX)


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
    span = tflite_entry_span(buf, name)
    return None if span is None else bytes(buf[span[0]:span[1]])


def tflite_entry_span(buf: bytes, name: str) -> tuple[int, int] | None:
    """(start, end) in BUF of the bytes of metadata entry NAME, or None; as tflite_entry."""
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
            return 0, 0
        data_start, data_len = _vector(buf, data_pos)
        if data_len > MAX_SPEC_BYTES or data_start + data_len > len(buf):
            raise struct.error(f"metadata {name!r} claims {data_len} bytes")
        return data_start, data_start + data_len
    return None


def read_tflite_spec(path: Path) -> ModelSpec | None:
    """The spec embedded in a .tflite file, or None when it carries none."""
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise UserError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier); re-export it with `convert quantize`")
    try:
        text = tflite_entry(buf, SPEC_KEY)
        span = tflite_entry_span(buf, CHECKSUM_KEY)
    except struct.error as exc:
        raise UserError(f"{path}: truncated or corrupt TFLite file ({exc}); re-export it") from None
    if span is not None:
        if span[1] - span[0] != len(CHECKSUM_PREFIX) + 8 or not buf.startswith(CHECKSUM_PREFIX, span[0]):
            raise UserError(f"{path}: its {CHECKSUM_KEY} entry is damaged; re-export the model or copy it again")
        verify_checksum(buf, span[0] + len(CHECKSUM_PREFIX), path)
    return _unless_checksum_lost(ModelSpec.from_json(text, str(path)) if text else None, span is not None, path)


def spec_from_onnx_metadata(props: dict[str, str], path: Path) -> ModelSpec | None:
    """The spec from the custom_metadata_map of PATH's onnxruntime session, or None when it carries none; the file's
    checksum is verified first when it has one."""
    if CHECKSUM_KEY in props:
        buf = path.read_bytes()
        found = buf.find(ONNX_CHECKSUM_MARKER)
        if found < 0 or buf.find(ONNX_CHECKSUM_MARKER, found + 1) >= 0:
            raise UserError(f"{path}: its {CHECKSUM_KEY} entry is damaged; re-export the model or copy it again")
        verify_checksum(buf, found + len(ONNX_CHECKSUM_MARKER), path)
    text = props.get(SPEC_KEY)
    return _unless_checksum_lost(ModelSpec.from_json(text, str(path)) if text else None, CHECKSUM_KEY in props, path)


def _unless_checksum_lost(spec: ModelSpec | None, has_checksum: bool, path: Path) -> ModelSpec | None:
    """SPEC, unless it says the file carries a checksum and the file has none: damage hit the checksum entry."""
    if spec is not None and spec.checksum and not has_checksum:
        raise UserError(f"{path}: its {CHECKSUM_KEY} entry is missing though its spec names one: the file was damaged; "
                        "copy it again or re-export it")
    return spec


def file_checksum(buf: bytes, digits: int) -> bytes:
    """The 8 hex digits of the CRC-32 of BUF with its 8 checksum digits at DIGITS read as zeros."""
    view = memoryview(buf)
    crc = zlib.crc32(view[digits + 8:], zlib.crc32(UNSET_DIGITS, zlib.crc32(view[:digits])))
    return b"%08x" % crc


def verify_checksum(buf: bytes, digits: int, path: Path) -> None:
    """UserError when the checksum stored at DIGITS does not match the file: it changed after export."""
    stored = bytes(buf[digits:digits + 8])
    if stored != file_checksum(buf, digits):
        raise UserError(f"{path}: checksum mismatch (stored {stored.decode(errors='replace')!r}, file "
                        f"{file_checksum(buf, digits).decode()}): the file was damaged or changed after export; "
                        "copy it again or re-export it")
