"""Generated hostile inputs to the parsers that read untrusted model files (hypothesis, bounded for CI): only the
toolkit's own UserError may escape, and no input takes long. Each property also runs on mutations of a real spec
and a real TFLite file, where the interesting bugs live."""

from __future__ import annotations

import json
import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import UserError
from edge.metadata import tflite_entry
from edge.spec import SPEC_KEY, ModelSpec

SPEC = ModelSpec("multiclass", ("a", "b", "c"), 32, 32)
BOUNDED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                    max_leaves=30)


def _spec_only_fails_cleanly(text) -> None:
    started = time.perf_counter()
    try:
        ModelSpec.from_json(text, "fuzzed.tflite")
    except UserError as error:
        assert str(error).startswith("fuzzed.tflite: ")
    assert time.perf_counter() - started < 1


@BOUNDED
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_as_a_spec(text):
    _spec_only_fails_cleanly(text)


@BOUNDED
@given(st.dictionaries(st.sampled_from(sorted(json.loads(SPEC.to_json())) + ["extra", "future"]), JSON, max_size=10))
def test_a_spec_with_fields_of_any_type(fields):
    _spec_only_fails_cleanly(json.dumps(json.loads(SPEC.to_json()) | fields))


def _tflite_with_spec() -> bytes:
    """A minimal real flatbuffer (no TensorFlow): a TFLite Model with one metadata entry, written by the schema."""
    from ai_edge_litert import schema_py_generated as schema

    from convert.metadata import pack_tflite

    model, buffer, entry = schema.ModelT(), schema.BufferT(), schema.MetadataT()
    model.version, model.buffers, model.subgraphs = 3, [schema.BufferT(), buffer], []
    buffer.data = list(SPEC.to_json().encode())
    entry.name, entry.buffer = SPEC_KEY, 1
    model.metadata = [entry]
    return pack_tflite(model)


REAL = _tflite_with_spec()


@BOUNDED
@given(st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_a_tflite_with_bytes_flipped(flips):
    data = bytearray(REAL)
    for position, value in flips:
        data[position] = value
    started = time.perf_counter()
    try:
        entry = tflite_entry(bytes(data), SPEC_KEY)
    except struct.error:
        entry = None  # read_tflite_spec turns it into one UserError naming the file
    assert entry is None or len(entry) <= len(data)
    assert time.perf_counter() - started < 1
    if entry:
        _spec_only_fails_cleanly(entry)


def test_the_unflipped_file_reads_back():
    assert ModelSpec.from_json(tflite_entry(REAL, SPEC_KEY)) == SPEC
