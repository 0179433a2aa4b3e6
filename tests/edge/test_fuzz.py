"""Generated hostile inputs to the parsers that read untrusted model files (hypothesis, bounded for CI): only the
toolkit's own UserError may escape, and no input takes long. Each property also runs on mutations of a real spec,
a real TFLite file and a real ONNX file, where the interesting bugs live. benchmarks/fuzz.py runs them longer."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import UserError
from edge.metadata import tflite_entry
from edge.spec import SPEC_KEY, ModelSpec

SPEC = ModelSpec("multiclass", ("a", "b", "c"), 32, 32)
EXAMPLES = int(os.environ.get("EDGE_FUZZ_EXAMPLES", "400"))  # benchmarks/fuzz.py raises it
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def _onnx_with_spec(folder: Path) -> Path:
    """A small real ONNX model (Reshape, MatMul) with its spec and checksum, as convert quantize writes them."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from convert.metadata import embed_file

    weights = numpy_helper.from_array(np.linspace(-1, 1, 27 * 3, dtype=np.float32).reshape(27, 3), "w")
    shape = numpy_helper.from_array(np.array([1, 27], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["flat"]),
                               helper.make_node("MatMul", ["flat", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [weights, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "real.onnx"
    onnx.save(model, str(path))
    embed_file(path, ModelSpec("multiclass", ("a", "b", "c"), 3, 3))
    return path


ONNX_FOLDER = Path(tempfile.mkdtemp(prefix="edge-fuzz-"))
atexit.register(shutil.rmtree, ONNX_FOLDER, True)
REAL_ONNX = _onnx_with_spec(ONNX_FOLDER).read_bytes()


@BOUNDED
@given(st.lists(st.tuples(st.integers(0, len(REAL_ONNX) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_an_onnx_with_bytes_changed(changes):
    """Whatever onnxruntime makes of the changed file, the reader either refuses it in one UserError (the checksum
    finds every change that leaves the file parseable) or finds no spec at all, which runtime.load refuses."""
    from edge.onnx_runner import OnnxRunner

    data = bytearray(REAL_ONNX)
    for position, value in changes:
        data[position] = value
    path = ONNX_FOLDER / "changed.onnx"
    path.write_bytes(bytes(data))
    started = time.perf_counter()
    try:
        runner = OnnxRunner(path, 1)
        assert bytes(data) == REAL_ONNX or runner.spec is None, "a changed file was read as sound"
    except UserError as error:
        assert str(error).startswith(f"{path}: ")
    assert time.perf_counter() - started < 1


@BOUNDED
@given(st.dictionaries(st.sampled_from([SPEC_KEY, "edge_checksum", "opset", "other"]),
                       st.text(max_size=60) | st.just(SPEC.to_json()), max_size=4))
def test_any_onnx_metadata_props(props):
    from edge.metadata import spec_from_onnx_metadata

    try:
        spec_from_onnx_metadata(props, ONNX_FOLDER / "real.onnx")
    except UserError as error:
        assert str(error).startswith(f"{ONNX_FOLDER / 'real.onnx'}: ")


def test_the_unchanged_onnx_reads_back():
    from edge.onnx_runner import OnnxRunner

    assert OnnxRunner(ONNX_FOLDER / "real.onnx", 1).spec.labels == ("a", "b", "c")
