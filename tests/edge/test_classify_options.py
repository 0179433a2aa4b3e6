"""edge-classify beyond the defaults: models without a spec, streams, and --debug."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import cv2
import pytest

from edge.preprocess import read_image
from tests.conftest import REPO, SAMPLE


def test_model_without_spec_needs_flags_then_runs(device_models, cli, tmp_path):
    from edge.classify import app

    bare = device_models[0] / "bare.fp32.tflite"  # no spec inside, as a model from another tool would be
    refused = cli.invoke(app, ["--model", str(bare), "--images", str(SAMPLE / "test")])
    assert refused.exit_code == 2 and "--labels FILE --size WxH" in refused.output
    labels = tmp_path / "labels.txt"
    labels.write_text("chihuahua\nmuffin\n")
    result = cli.invoke(app, ["--model", str(bare), "--images", str(SAMPLE / "test"), "--labels", str(labels),
                              "--size", "32x32", "--scale", str(1 / 255), "--json"])
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout.splitlines()[-1])["summary"]["accuracy"]
    parity = {row["format"]: row["accuracy"] for row in device_models[1]["rows"]}
    assert accuracy == pytest.approx(parity["tflite_fp32"]), "fractions in both files"


def test_a_spec_that_does_not_fit_the_model_is_refused_at_load(device_models, cli, tmp_path):
    from edge.classify import app

    bare = device_models[0] / "bare.fp32.tflite"
    labels = tmp_path / "labels.txt"
    for names, size, expected in (("chihuahua\nmuffin\n", "48x48", "the model takes"),
                                  ("".join(f"c{i}\n" for i in range(10)), None, "the model has 1 output")):
        labels.write_text(names)
        result = cli.invoke(app, ["--model", str(bare), "--images", str(SAMPLE / "test"), "--labels", str(labels),
                                  "--size", size or "32x32"])
        assert result.exit_code == 2 and expected in result.output and str(bare) in result.output, result.output


def test_unexpected_error_is_one_line_unless_debug(device_models, cli, tmp_path, monkeypatch):
    from edge.classify import app
    from edge.tflite_runner import TFLiteRunner

    real_run = TFLiteRunner.run

    def broken(self, tensors):  # the warm-up invoke at load passes; the first frame meets a runtime bug
        if getattr(self, "warmed_up", False):
            raise RuntimeError("the interpreter failed")  # what a runtime bug looks like to the command
        self.warmed_up = True
        return real_run(self, tensors)

    labels = tmp_path / "labels.txt"
    labels.write_text("chihuahua\nmuffin\n")
    monkeypatch.setattr(TFLiteRunner, "run", broken)
    args = ["--model", str(device_models[0] / "bare.fp32.tflite"), "--images", str(SAMPLE / "test"), "--labels", str(labels),
            "--size", "32x32"]
    quiet = cli.invoke(app, args)
    assert quiet.exit_code == 3 and "Traceback" not in quiet.output, "3: unexpected, apart from 1 (gate) and 2 (input)"
    assert [line for line in quiet.output.splitlines() if line.startswith("error:")][0].endswith("shows the traceback)")
    loud = cli.invoke(app, [*args, "--debug"])
    assert loud.exit_code != 0 and loud.exception is not None and not isinstance(loud.exception, SystemExit)


def _clip(tmp_path, frames: int = 6):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 160))
    for path in sorted((SAMPLE / "test" / "muffin").iterdir())[:frames]:
        writer.write(cv2.resize(read_image(path), (160, 160)))
    writer.release()
    return video


def test_stream_that_ends_is_reopened_and_the_run_goes_on(device_models, cli, tmp_path):
    from edge.classify import app

    out_dir, _ = device_models
    video = _clip(tmp_path)  # a 6-frame stream: it "disconnects" after 6 frames, and reopening it works
    result = cli.invoke(app, ["--model", str(out_dir / "muffins.tflite"), "--stream", f"file://{video}", "--json",
                              "--max-frames", "10"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = lines[-1]["summary"]
    assert lines[0]["source"] == "stream" and summary["frames"] == 10
    assert summary["reconnects"] >= 1
    assert summary["frames"] + summary["dropped"] <= 6 * (summary["reconnects"] + 1), "no frame counted twice"
    assert "gave no frame; reopening in 0.5 s" in result.stderr
    dead = cli.invoke(app, ["--model", str(out_dir / "muffins.tflite"), "--stream", "http://127.0.0.1:9/none.mjpg"])
    assert dead.exit_code == 2 and "stream http://127.0.0.1:9/none.mjpg did not open" in dead.output


def test_live_reader_backs_off_until_the_source_returns(tmp_path):
    from edge.capture import LiveReader

    video = _clip(tmp_path, frames=3)
    opens = []

    def opener():  # the first two reopen attempts fail, as a camera that is still unplugged
        opens.append(len(opens))
        return cv2.VideoCapture(str(tmp_path / "unplugged.avi") if len(opens) <= 2 else str(video))

    capture = cv2.VideoCapture(str(video))
    ok, first = capture.read()
    reader = LiveReader(capture, first, opener, "camera test", backoff=(0.05, 0.2))
    taken = []
    for frame, index in reader.frames():
        taken.append(index)
        if len(taken) == 5:
            break
    assert taken == sorted(set(taken)) and len(opens) >= 3 and reader.reconnects >= 1
    assert not reader.thread.is_alive()


def test_sigterm_stops_cleanly_with_a_summary(device_models, tmp_path):
    out_dir, _ = device_models
    video = _clip(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "edge.classify", "--model", str(out_dir / "muffins.tflite"),
                                "--stream", f"file://{video}", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO)
    first = process.stdout.readline()  # the first classified frame: the loop is running
    assert json.loads(first)["source"] == "stream"
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert summary["frames"] >= 1 and "fps" in summary
