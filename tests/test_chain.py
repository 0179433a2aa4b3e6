"""The real chain on the shipped sample: train -> convert (parity) -> re-load -> classify -> bench."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import zipfile

import numpy as np
import pytest

from edge import runtime
from edge.formats import DEFAULT_FORMATS, FORMATS
from edge.preprocess import prepare, read_image
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


def test_train_writes_run_folder(trained):
    run = trained.parent
    assert {"muffins.keras", "metrics.json", "evaluation.npz", "report.md", "curves.png", "confusion.png", "recall.png",
            "embeddings.png", "kmeans_elbow.png", "clusters.json"} <= {p.name for p in run.iterdir()}
    assert not list(run.parent.glob(".partial-*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["images"] == 200 and metrics["test"]["images"] == 100
    assert set(metrics["test"]["per_class_recall"]) == {"chihuahua", "muffin"}
    assert np.asarray(metrics["test"]["confusion_matrix"]["rows_true_columns_predicted"]).sum() == 100
    assert metrics["test"]["accuracy"] > 0.55, "a few epochs on 200 photos should beat chance"
    spec = json.loads(zipfile.ZipFile(trained).read("edge_spec.json"))
    assert spec["labels"] == ["chihuahua", "muffin"] and spec["height"] == 48


def test_quantize_writes_every_format_and_passes_parity(exported):
    out_dir, report = exported
    assert report["passed"] and report["images"] == 100
    rows = {row["format"]: row for row in report["rows"]}
    for name in FORMATS:
        path = out_dir / f"muffins{FORMATS[name].suffix}"
        assert path.is_file() and rows[name]["size_mb"] == pytest.approx(path.stat().st_size / 1e6)
        assert rows[name]["agreement"] >= 0.98 and rows[name]["drop"] <= 0.01
    assert rows["tflite_int8"]["size_mb"] < 0.3 * rows["onnx"]["size_mb"]
    assert not list(out_dir.glob(".partial-*")), "no temporary file may be left behind"


@pytest.mark.parametrize("name", FORMATS)
def test_exports_reload_with_spec_and_match_float_model(exported, trained, name):
    from keras_io import archive

    out_dir, report = exported
    model, spec = archive.load(trained)
    runner = runtime.load(out_dir / f"muffins{FORMATS[name].suffix}", threads=1)
    embedded = runner.spec.provenance
    row = next(r for r in report["rows"] if r["format"] == name)
    assert embedded.parity == {k: row[k] for k in ("accuracy", "drop", "agreement")} | {"unit": "fraction"}
    assert embedded.export_options == {"target": "any"}
    trained_on = pathlib.Path(spec.provenance.train_data)
    assert trained_on.is_absolute() and embedded.train_data == trained_on.name, "a device file names no host path"
    assert embedded.test_data == pathlib.Path(spec.provenance.test_data).name == "test"
    assert str(trained_on).encode() not in runner.path.read_bytes()
    assert dataclasses.replace(embedded, parity={}, export_options={}, train_data=str(trained_on),
                               test_data=spec.provenance.test_data) == spec.provenance
    assert dataclasses.replace(runner.spec, provenance=spec.provenance) == dataclasses.replace(spec, checksum="crc32")
    images = [read_image(p) for p in sorted((SAMPLE / "test" / "muffin").iterdir())[:8]]
    batch = np.stack([prepare(image, spec) for image in images])
    expected = model.predict(batch, verbose=0)
    got = runner.predict(batch)
    if name == "tflite_uint8":  # two scores per image, [1 - p, p], for MediaPipe and the Task Library
        expected = np.concatenate([1 - expected, expected], axis=1)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) < (1e-4 if name in ("onnx", "tflite_fp32") else 0.08)


def test_classify_reports_the_accuracy_parity_measured(exported, cli):
    from edge.classify import app

    out_dir, report = exported
    parity = {row["format"]: row["accuracy"] for row in report["rows"]}
    for name in (*DEFAULT_FORMATS, "tflite_int16x8"):
        result = cli.invoke(app, ["--model", str(out_dir / f"muffins{FORMATS[name].suffix}"),
                                  "--images", str(SAMPLE / "test"), "--json"])
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        frames, summary = lines[:-1], lines[-1]["summary"]
        assert len(frames) == 100 and summary["frames"] == 100
        assert {f["label"] for f in frames} <= {"chihuahua", "muffin"}
        assert all(f["latency_ms"] > 0 and 0.5 <= f["score"] <= 1.0 for f in frames)
        assert summary["accuracy"] == pytest.approx(parity[name], abs=1e-4)


def test_int16x8_is_integer_inside_and_float_at_its_edges(exported):
    """tflite_int16x8 keeps int8 weights and int16 activations (not a float model under another name), with float32
    input and output, so the device feeds it as it feeds tflite_fp32."""
    from ai_edge_litert.interpreter import Interpreter

    out_dir, _ = exported
    interpreter = Interpreter(model_path=str(out_dir / f"muffins{FORMATS['tflite_int16x8'].suffix}"))
    types = [detail["dtype"] for detail in interpreter.get_tensor_details()]
    assert types.count(np.int16) >= 3 and np.int8 in types and np.float32 in types, sorted(set(map(str, types)))
    assert interpreter.get_input_details()[0]["dtype"] == interpreter.get_output_details()[0]["dtype"] == np.float32


def test_classify_one_image_human_output(exported, cli):
    from edge.classify import app

    out_dir, _ = exported
    image = sorted((SAMPLE / "test" / "chihuahua").iterdir())[0]
    result = cli.invoke(app, ["--model", str(out_dir / "muffins.tflite"), "--images", str(image)])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0].split("\t")
    assert first[0] == str(image) and first[1] in ("chihuahua", "muffin")


@pytest.mark.parametrize("model", ["muffins.tflite", "muffins.onnx"])
def test_classify_video_gives_the_labels_of_its_frames(exported, cli, tmp_path, model):
    """The OpenCV video path (decode, BGR frames, preprocessing, runtime) labels each frame of a lossless video
    exactly as the image path labels the same frames saved as PNG files."""
    import cv2

    from edge.classify import app

    out_dir, _ = exported
    video, stills = tmp_path / "clip.avi", tmp_path / "stills"
    stills.mkdir()
    paths = [p for pair in zip(sorted((SAMPLE / "test" / "muffin").iterdir())[:6],
                               sorted((SAMPLE / "test" / "chihuahua").iterdir())[:6]) for p in pair]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, (200, 160))
    for i, path in enumerate(paths):
        frame = cv2.resize(read_image(path), (200, 160))
        writer.write(frame)
        cv2.imwrite(str(stills / f"{i:02d}.png"), frame)
    writer.release()

    result = cli.invoke(app, ["--model", str(out_dir / model), "--video", str(video), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["summary"]["frames"] == 12 and "gave no more frames" in lines[-1]["summary"]["ended"]
    from_images = cli.invoke(app, ["--model", str(out_dir / model), "--images", str(stills), "--json"])
    expected = [json.loads(line) for line in from_images.stdout.splitlines()][:-1]
    assert [f["label"] for f in lines[:-1]] == [f["label"] for f in expected]
    assert [f["score"] for f in lines[:-1]] == pytest.approx([f["score"] for f in expected], abs=1e-6)
    assert {f["label"] for f in expected} == {"chihuahua", "muffin"}  # known images of both classes, told apart
    limited = cli.invoke(app, ["--model", str(out_dir / model), "--video", str(video), "--max-frames", "5", "--json"])
    assert json.loads(limited.stdout.splitlines()[-1])["summary"]["frames"] == 5


def test_inspect_prints_embedded_spec(exported, cli):
    from convert.cli import app

    out_dir, _ = exported
    result = cli.invoke(app, ["inspect", str(out_dir / "muffins.int8.onnx")])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["format"] == "onnx_int8" and info["spec"]["labels"] == ["chihuahua", "muffin"]
    assert info["inputs"][0]["name"] == "image" and info["metadata"]["quantization"].startswith("QDQ")
    tflite = json.loads(cli.invoke(app, ["inspect", str(out_dir / "muffins.tflite")]).stdout)
    assert tflite["inputs"][0]["dtype"] == "int8" and tflite["inputs"][0]["shape"] == [1, 48, 48, 3]
    assert tflite["inputs"][0]["scale"] > 0 and tflite["outputs"][0]["dtype"] == "int8"


def test_convert_list_shows_the_format_table(cli):
    from convert.cli import app

    result = cli.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if not line.startswith(" ")}
    assert set(lines) == set(FORMATS) and max(map(len, result.stdout.splitlines())) <= 100
    assert all(("yes" in lines[name]) == (name in DEFAULT_FORMATS) for name in FORMATS)


def test_grayscale_model_end_to_end(cli, tmp_path):
    from convert.cli import app as convert_app
    from edge.classify import app as classify_app
    from train.cli import app as train_app

    model = tmp_path / "gray" / "folder.keras"
    trained = cli.invoke(train_app, ["folder", "--data", str(SAMPLE), "--arch", "base_cnn", "--grayscale",
                                     "--size", "32", "--epochs", "3", "--out", str(model.parent)])
    assert trained.exit_code == 0, trained.output
    converted = cli.invoke(convert_app, ["quantize", str(model), "--data", str(SAMPLE / "test"),
                                         "--out-dir", str(tmp_path), "--formats", "tflite_int8", "--json"])
    assert converted.exit_code == 0, converted.output
    parity = json.loads(converted.stdout)["rows"][1]
    runner = runtime.load(tmp_path / "folder.tflite", 1)
    assert runner.spec.color_order == "gray" and runner.describe()["inputs"][0]["shape"] == [1, 32, 32, 1]
    result = cli.invoke(classify_app, ["--model", str(tmp_path / "folder.tflite"), "--images", str(SAMPLE / "test"), "--json"])
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["accuracy"] == pytest.approx(parity["accuracy"], abs=1e-4)


def test_grayscale_transfer_model_is_refused(cli, tmp_path):
    from train.cli import app

    result = cli.invoke(app, ["folder", "--data", str(SAMPLE), "--grayscale", "--weights", "imagenet",
                              "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--grayscale: ImageNet backbones take RGB" in result.output


_OPENCV_READER = """
import sys, cv2, numpy as np
path = sys.argv[1]
try:
    net = cv2.dnn.readNetFromTFLite(path) if path.endswith(".tflite") else cv2.dnn.readNetFromONNX(path)
    net.setInput(np.zeros((1, 48, 48, 3), np.float32))
    print("ran", net.forward().shape)
except cv2.error:
    print("cv2.error")
"""


def test_third_party_readers_never_crash_on_our_files(exported):
    """OpenCV's DNN readers crashed the whole process (exit 139) on every .tflite this toolkit wrote, whose inner
    tensors had no names. A clean OpenCV error (an op it lacks) is fine; a crash is not. The pure-Python `tflite`
    package reads every tensor's name, every operator's code and our metadata."""
    import subprocess
    import sys

    import tflite

    known = {v for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    for path in sorted(exported[0].glob("*.tflite")):
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        graph = model.Subgraphs(0)
        assert all(graph.Tensors(i).Name() for i in range(graph.TensorsLength())), path.name
        codes = [model.OperatorCodes(graph.Operators(i).OpcodeIndex()) for i in range(graph.OperatorsLength())]
        assert codes and all(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()) in known for c in codes), path.name
        names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
        assert b"edge_spec" in names and b"edge_checksum" in names, (path.name, names)

    for path in sorted(p for p in exported[0].iterdir() if p.suffix in (".tflite", ".onnx")):
        run = subprocess.run([sys.executable, "-c", _OPENCV_READER, str(path)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and run.stdout.split()[:1] in (["ran"], ["cv2.error"]), (path.name, run.returncode,
                                                                                              run.stderr[-300:])
