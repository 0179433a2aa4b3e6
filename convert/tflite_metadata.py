"""Standard TFLite Metadata (the `TFLITE_METADATA` entry of tensorflow/lite/schema/metadata_schema.fbs), so that
MediaPipe Tasks and the TFLite Task Library load a file as is: the input's image properties and normalisation from
the spec, and the labels as a file associated with the output, packed in a zip appended to the model.

The metadata writers shipped with current `mediapipe` wheels fail to import, and nothing else that installs beside
TensorFlow here carries the schema, so the few tables needed are built with flatbuffers directly; the field numbers
are the schema's (checked by tests/test_mediapipe.py, where MediaPipe itself loads the file)."""

from __future__ import annotations

import io
import zipfile

import flatbuffers

from edge.spec import ModelSpec

METADATA_KEY = "TFLITE_METADATA"
LABELS_FILE = "labels.txt"
_IMAGE_PROPERTIES, _NORMALIZATION, _TENSOR_AXIS_LABELS = 2, 1, 2  # union and enum values of the schema
_RGB, _GRAYSCALE = 1, 2
_MIN_PARSER_VERSION = "1.0.0"


def _table(builder: flatbuffers.Builder, fields: list[tuple[str, int, object]]) -> int:
    """One table from (kind, field number, value): kind "offset" (an object already built), "u8" or "i8"."""
    builder.StartObject(max(number for _, number, _ in fields) + 1)
    for kind, number, value in fields:
        if kind == "offset":
            builder.PrependUOffsetTRelativeSlot(number, value, 0)
        elif kind == "u8":
            builder.PrependUint8Slot(number, value, 0)
        else:
            builder.PrependInt8Slot(number, value, 0)
    return builder.EndObject()


def _vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _floats(builder: flatbuffers.Builder, values: list[float]) -> int:
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        builder.PrependFloat32(value)
    return builder.EndVector()


def metadata_buffer(spec: ModelSpec, name: str) -> bytes:
    """The ModelMetadata flatbuffer (identifier M001) for a classifier with SPEC: float input = (pixel - mean) / std
    with mean = -offset / scale and std = 1 / scale, as the spec's pixel * scale + offset."""
    builder = flatbuffers.Builder(1024)
    channels = spec.channels
    mean = _floats(builder, [-spec.offset / spec.scale] * channels)
    std = _floats(builder, [1 / spec.scale] * channels)
    normalization = _table(builder, [("offset", 0, mean), ("offset", 1, std)])
    unit = _table(builder, [("u8", 0, _NORMALIZATION), ("offset", 1, normalization)])
    image = _table(builder, [("i8", 0, _GRAYSCALE if spec.color_order == "gray" else _RGB)])
    content = _table(builder, [("u8", 0, _IMAGE_PROPERTIES), ("offset", 1, image)])
    input_tensor = _table(builder, [("offset", 0, builder.CreateString("image")), ("offset", 3, content),
                                    ("offset", 4, _vector(builder, [unit]))])
    labels = _table(builder, [("offset", 0, builder.CreateString(LABELS_FILE)), ("i8", 2, _TENSOR_AXIS_LABELS)])
    output_tensor = _table(builder, [("offset", 0, builder.CreateString("probability")),
                                     ("offset", 6, _vector(builder, [labels]))])
    subgraph = _table(builder, [("offset", 2, _vector(builder, [input_tensor])),
                                ("offset", 3, _vector(builder, [output_tensor]))])
    model = _table(builder, [("offset", 0, builder.CreateString(name)), ("offset", 3, _vector(builder, [subgraph])),
                             ("offset", 7, builder.CreateString(_MIN_PARSER_VERSION))])
    builder.Finish(model, file_identifier=b"M001")
    return bytes(builder.Output())


def with_labels(model: bytes, spec: ModelSpec) -> bytes:
    """MODEL with a zip appended that holds LABELS_FILE (one label per output), stored, its offsets counted from the
    file's start: what `zipfile` in append mode writes, and what the Task Library's populator writes."""
    out = io.BytesIO(model)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr(LABELS_FILE, "\n".join(spec.labels) + "\n")
    return out.getvalue()
