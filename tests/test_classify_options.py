"""edge-classify beyond the defaults: models without a spec, streams, and --debug."""

from __future__ import annotations

import json

import cv2

from edge.preprocess import read_image
from tests.conftest import SAMPLE


def _bare_tflite(trained, tmp_path):
    """An fp32 .tflite with no spec inside, as a model from another tool would be."""
    from convert import keras_file, tflite_export

    model, spec = keras_file.load(trained)
    path = tmp_path / "bare.fp32.tflite"
    tflite_export.export_fp32(model, spec, None, path)
    return path


def test_model_without_spec_needs_flags_then_runs(trained, exported, cli, tmp_path):
    from edge.classify import app

    bare = _bare_tflite(trained, tmp_path)
    refused = cli.invoke(app, ["--model", str(bare), "--images", str(SAMPLE / "test")])
    assert refused.exit_code == 2 and "--labels FILE --size WxH" in refused.output
    labels = tmp_path / "labels.txt"
    labels.write_text("chihuahua\nmuffin\n")
    result = cli.invoke(app, ["--model", str(bare), "--images", str(SAMPLE / "test"), "--labels", str(labels),
                              "--size", "48x48", "--scale", str(1 / 255), "--json"])
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout.splitlines()[-1])["summary"]["accuracy"]
    parity = {row["format"]: row["accuracy"] for row in exported[1]["rows"]}
    assert 100 * accuracy == parity["tflite_fp32"]


def test_unexpected_error_is_one_line_unless_debug(trained, cli, tmp_path):
    from edge.classify import app

    bare = _bare_tflite(trained, tmp_path)
    labels = tmp_path / "labels.txt"
    labels.write_text("chihuahua\nmuffin\n")
    args = ["--model", str(bare), "--images", str(SAMPLE / "test"), "--labels", str(labels), "--size", "32x32"]
    quiet = cli.invoke(app, args)
    assert quiet.exit_code == 1 and "Traceback" not in quiet.output
    assert [line for line in quiet.output.splitlines() if line.startswith("error:")][0].endswith("(--debug shows the traceback)")
    loud = cli.invoke(app, [*args, "--debug"])
    assert loud.exit_code != 0 and loud.exception is not None and not isinstance(loud.exception, SystemExit)


def test_stream_source(exported, cli, tmp_path):
    from edge.classify import app

    out_dir, _ = exported
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 160))
    for path in sorted((SAMPLE / "test" / "muffin").iterdir())[:6]:
        writer.write(cv2.resize(read_image(path), (160, 160)))
    writer.release()
    result = cli.invoke(app, ["--model", str(out_dir / "muffins.tflite"), "--stream", f"file://{video}", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["source"] == "stream" and lines[-1]["summary"]["frames"] == 6
    dead = cli.invoke(app, ["--model", str(out_dir / "muffins.tflite"), "--stream", "http://127.0.0.1:9/none.mjpg"])
    assert dead.exit_code == 2 and "stream http://127.0.0.1:9/none.mjpg did not open" in dead.output
