"""edge-classify outputs: label changes only, a recorded video with the overlay, label changes POSTed to a real
local HTTP server (also one that is down), and the picamera2 source."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, HTTPServer

import cv2
import numpy as np
import pytest

from edge.preprocess import read_image
from tests import generated
from tests.conftest import REPO, SAMPLE, with_terminal_stderr


def _alternating_clip(tmp_path):
    return generated.alternating_clip(tmp_path / "alternating.avi", SAMPLE / "test")


def _frames(result) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1]["summary"]


def test_changes_only_prints_each_label_change(device_models, cli, tmp_path):
    from edge.classify import app

    model = device_models[0] / "muffins.tflite"
    video = _alternating_clip(tmp_path)
    every, _ = _frames(cli.invoke(app, ["--model", str(model), "--video", str(video), "--json"]))
    changes, summary = _frames(cli.invoke(app, ["--model", str(model), "--video", str(video), "--json", "--changes-only"]))
    expected = [f for i, f in enumerate(every) if i == 0 or f["label"] != every[i - 1]["label"]]
    assert summary["frames"] == len(every) == 12
    assert [(f["frame"], f["label"]) for f in changes] == [(f["frame"], f["label"]) for f in expected]


def test_save_video_writes_the_overlay(device_models, cli, tmp_path):
    from edge.classify import app

    video, out = _alternating_clip(tmp_path), tmp_path / "labelled.avi"
    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--video", str(video), "--save-video", str(out)])
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob(".partial-*"))
    recorded, original = cv2.VideoCapture(str(out)), cv2.VideoCapture(str(video))
    assert int(recorded.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    (_, drawn), (_, plain) = recorded.read(), original.read()
    corner, rest = np.abs(drawn.astype(int) - plain.astype(int)), slice(60, None)
    assert corner[:40, :].mean() > 5 * max(corner[rest].mean(), 1.0), "the label is drawn in the top-left corner only"
    bad = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--video", str(video), "--save-video",
                           str(tmp_path / "out.gif")])
    assert bad.exit_code == 2 and "use a .mp4 or .avi" in bad.output


class _Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_post_sends_label_changes_to_an_http_endpoint(device_models, cli, tmp_path):
    from edge.classify import app

    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/events"
        result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--video", str(_alternating_clip(tmp_path)),
                                  "--json", "--changes-only", "--post", url])
    finally:
        server.shutdown()
    changes, summary = _frames(result)
    assert summary["posted"] == len(changes) == len(_Collector.received) and summary["post_failed"] == 0
    assert [r["label"] for r in _Collector.received] == [c["label"] for c in changes]


def test_post_to_a_dead_endpoint_never_stops_inference(device_models, cli, tmp_path):
    from edge.classify import app

    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--video", str(_alternating_clip(tmp_path)),
                              "--json", "--post", "http://127.0.0.1:9/events"])
    assert result.exit_code == 0, result.output
    _, summary = _frames(result)
    assert summary["frames"] == 12 and summary["posted"] == 0
    assert summary["post_failed"] + summary["post_dropped"] >= 1 and "later failures are only counted" in result.stderr


def test_picam_without_picamera2_says_how_to_install(device_models, cli):
    from edge.classify import app

    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--camera", "picam"])
    assert result.exit_code == 2 and "sudo apt install python3-picamera2" in result.output
    assert "--system-site-packages" in result.output


def test_picam_frames_flow_through_the_live_reader(device_models, cli, monkeypatch):
    """picamera2 only installs on a Raspberry Pi, so this stands in a module with its API (create_video_configuration,
    configure, start, capture_array) giving real photos; everything after it is the real pipeline."""
    from edge.classify import app

    photos = [read_image(p) for p in sorted((SAMPLE / "test" / "muffin").iterdir())[:5]]

    cameras = []

    class Picamera2:
        def create_video_configuration(self, main):
            assert main["format"] == "RGB888"
            return main

        def configure(self, config):
            self.size = config["size"]

        def start(self):
            self.taken = 0
            cameras.append(self)

        def capture_array(self, stream):
            self.taken += 1
            image = cv2.resize(photos[self.taken % len(photos)], self.size)
            return np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])  # XRGB8888-like 4th channel

        def stop(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=Picamera2))
    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--camera", "picam", "--json", "--max-frames", "4"])
    assert result.exit_code == 0, result.output
    frames, summary = _frames(result)
    assert summary["frames"] == 4 and {f["label"] for f in frames} <= {"chihuahua", "muffin"}
    assert summary["frames"] + summary["dropped"] <= sum(camera.taken for camera in cameras), "no frame counted twice"


@pytest.mark.parametrize("value, expected", [("0", 0), ("/dev/video2", "/dev/video2"), ("picam", "picam")])
def test_camera_flag_values(value, expected):
    from edge.sources import camera_target

    assert camera_target(value) == expected


class _Dripping(BaseHTTPRequestHandler):
    """An endpoint that answers one byte every 0.3 s: a socket timeout never fires, only a deadline ends it."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        for byte in b"HTTP/1.1 204 No Content\r\n\r\n":
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)

    def log_message(self, *args):
        pass


def test_a_dripping_post_endpoint_is_given_up_at_the_deadline(capsys):
    from http.server import ThreadingHTTPServer

    from edge.outputs import Poster

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        poster = Poster(f"http://127.0.0.1:{server.server_port}/events", timeout=1.0)
        started = time.perf_counter()
        poster.send({"label": "muffin"})
        counters = poster.close(wait=5.0)
        seconds = time.perf_counter() - started
    finally:
        server.shutdown()
    assert counters == {"posted": 0, "post_failed": 1, "post_dropped": 0} and seconds < 2.5, (counters, seconds)
    assert "no complete answer within 1 s" in capsys.readouterr().err


def test_a_progress_bar_shows_only_on_a_terminal(device_models):
    command = [sys.executable, "-m", "edge.classify", "--model", str(device_models[0] / "muffins.tflite"),
               "--images", str(SAMPLE / "test"), "--json"]
    stdout, terminal = with_terminal_stderr(command)
    piped = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert "classifying test:" in terminal and "/100 [" in terminal, terminal[-500:]
    assert "classifying" not in piped.stderr, "no bar where stderr is not a terminal"
    assert _untimed(stdout) == _untimed(piped.stdout) and len(stdout.splitlines()) == 101, "stdout the same either way"


def _untimed(stdout: str) -> list[dict]:
    """The JSON lines without their timings, which differ from run to run."""
    def strip(record: dict) -> dict:
        return {k: strip(v) if isinstance(v, dict) else v for k, v in record.items() if "latency" not in k and k != "fps"}
    return [strip(json.loads(line)) for line in stdout.splitlines()]
