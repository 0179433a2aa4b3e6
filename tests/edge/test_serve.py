"""edge-classify --serve: a real browser (Debian's Chromium, driven by Playwright) shows the label printed for the same
frame; the MJPEG stream, Prometheus metrics and server-sent events parsed by their clients; the token; ten viewers
and one that never reads; --realtime playback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from tests import generated
from tests.conftest import REPO, SAMPLE

TOKEN = "s3cret-token"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLIP = dict(runs=(4,) * 24, fps=20, size=240, repeat=8)  # 96 photos, 8 frames each: 38 s at 20 fps


class Classifier:
    """edge-classify in a subprocess; its JSON lines collected as they are printed."""

    def __init__(self, args: list[str]):
        self.process = subprocess.Popen([sys.executable, "-c", "from edge.classify import main; main()", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                        env={**{k: v for k, v in os.environ.items() if k != "EDGE_SERVE_TOKEN"},
                                             "PYTHONUNBUFFERED": "1"})
        self.lines: list[dict] = []
        self.errors: list[str] = []
        self.url = None
        threading.Thread(target=self._read_errors, daemon=True).start()
        threading.Thread(target=self._read_lines, daemon=True).start()
        deadline = time.monotonic() + 60
        while self.url is None and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.url, "".join(self.errors)[-2000:]

    def _read_lines(self):
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def _read_errors(self):
        for line in self.process.stderr:
            self.errors.append(line)
            if line.startswith("serving the live view at "):
                self.url = line.split(" at ", 1)[1].strip()

    def label_of(self, frame: int, wait: float = 5.0) -> str:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            found = [line["label"] for line in list(self.lines) if line.get("frame") == frame]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"frame {frame} was never printed")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        time.sleep(0.2)
        return self.lines[-1]["summary"]


def _get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def serving(device_models, tmp_path_factory):
    """edge-classify on a 38-second clip played in real time, served on a free port with a token."""
    video = generated.alternating_clip(tmp_path_factory.mktemp("clip") / "clip.avi", SAMPLE / "test", **CLIP)
    classifier = Classifier(["--model", str(device_models[0] / "muffins.tflite"), "--video", str(video), "--realtime",
                             "--json", "--serve", "127.0.0.1:0", "--serve-token", TOKEN, "--threads", "1"])
    yield classifier
    classifier.stop()


def test_a_browser_shows_the_label_printed_for_the_same_frame(serving, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "the browser test needs Debian's chromium: bash scripts/venv.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 412, "height": 900})  # a phone's width
            page.goto(f"{serving.url}?token={TOKEN}")
            page.wait_for_function("document.getElementById('frame').textContent !== ''", timeout=20_000)
            checked = 0
            for _ in range(5):
                frame, label = page.evaluate("[document.getElementById('frame').textContent, "
                                             "document.getElementById('label').textContent]")
                assert label == serving.label_of(int(frame)), (frame, label)
                checked += 1
                page.wait_for_timeout(300)
            page.wait_for_function("document.getElementById('picture').naturalWidth > 0", timeout=20_000)
            shot = tmp_path / "page.png"
            page.locator("#picture").screenshot(path=str(shot))
        finally:
            browser.close()
    picture = cv2.imread(str(shot))
    assert checked == 5 and picture.shape[1] >= 300 and picture.std() > 20, "the picture region shows a photo"


def test_stream_metrics_and_events_as_their_clients_read_them(serving):
    from prometheus_client.parser import text_string_to_metric_families

    auth = {"Authorization": f"Bearer {TOKEN}"}
    stream = urllib.request.urlopen(urllib.request.Request(serving.url + "stream.mjpg", headers=auth), timeout=10)
    assert stream.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    jpegs = []
    while len(jpegs) < 3:
        assert stream.readline() == b"--frame\r\n"
        headers = dict(line.decode().strip().split(": ", 1) for line in iter(stream.readline, b"\r\n"))
        assert headers["Content-Type"] == "image/jpeg"
        jpegs.append(stream.read(int(headers["Content-Length"])))
        assert stream.readline() == b"\r\n"
    stream.close()
    frames = [cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) for jpeg in jpegs]
    assert all(frame is not None and frame.shape == (CLIP["size"], CLIP["size"], 3) for frame in frames)

    families = {f.name: f for f in text_string_to_metric_families(_get(serving.url + "metrics", auth)[1].decode())}
    assert {"edge_frames", "edge_dropped_frames", "edge_reconnects", "edge_label_changes", "edge_latency_seconds",
            "edge_viewers"} <= set(families)
    assert families["edge_frames"].samples[0].value >= 1
    buckets = [s.value for s in families["edge_latency_seconds"].samples if s.name.endswith("_bucket")]
    count = next(s.value for s in families["edge_latency_seconds"].samples if s.name.endswith("_count"))
    assert buckets == sorted(buckets) and buckets[-1] == count >= 1

    events = urllib.request.urlopen(urllib.request.Request(f"{serving.url}events?token={TOKEN}"), timeout=20)
    received = []
    while len(received) < 3:
        line = events.readline().decode()
        if line.startswith("data: "):
            received.append(json.loads(line[6:]))
    events.close()
    frames = [event["frame"] for event in received]
    assert frames == sorted(frames) and all(a["label"] != b["label"] for a, b in zip(received, received[1:]))
    printed = [(line["frame"], line["label"]) for line in serving.lines if frames[0] <= line.get("frame", -1) <= frames[-1]]
    changes = [f for i, (f, label) in enumerate(printed) if i == 0 or label != printed[i - 1][1]]
    printed = dict(printed)
    assert frames == changes and [e["label"] for e in received] == [printed[f] for f in changes], "every change, in order"

    status = json.loads(_get(serving.url + "api/status", auth)[1])
    assert status["model"] == "muffins.tflite" and status["labels"] == ["chihuahua", "muffin"]
    assert status["last"]["label"] in status["labels"] and status["fps"] > 0 and status["latency_ms_p99"] > 0


def test_every_endpoint_wants_the_token_and_only_get(serving):
    for path in ("", "stream.mjpg", "api/status", "events", "metrics"):
        assert _get(serving.url + path)[0] == 401, path
        assert _get(serving.url + path + "?token=wrong")[0] == 401, path
    assert _get(serving.url + "api/status", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert _get(f"{serving.url}?token={TOKEN}")[0] == 200
    assert _get(serving.url + "../../etc/passwd")[0] == 404
    request = urllib.request.Request(serving.url + "api/status", data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 405


def test_ten_viewers_and_one_that_never_reads_do_not_stop_inference(serving):
    def frames_in(seconds: float) -> int:
        before = len(serving.lines)
        time.sleep(seconds)
        return len(serving.lines) - before

    alone, rss_before = frames_in(2.0), serving.rss_mb()
    stalled = socket.create_connection(socket.getaddrinfo("127.0.0.1", int(serving.url.rsplit(":", 1)[1].strip("/")))[0][4])
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # and never reads
    stop, read = threading.Event(), [0] * 10

    def viewer(i: int):
        with urllib.request.urlopen(f"{serving.url}stream.mjpg?token={TOKEN}", timeout=10) as stream:
            while not stop.is_set():
                read[i] += len(stream.read(4096))

    viewers = [threading.Thread(target=viewer, args=(i,), daemon=True) for i in range(10)]
    for thread in viewers:
        thread.start()
    watched = frames_in(3.0)
    stop.set()
    stalled.close()
    assert all(n > 10_000 for n in read), read
    assert watched >= 0.8 * alone * 1.5, (alone, watched)  # the clip plays at 20 fps whoever watches
    assert serving.rss_mb() - rss_before < 50, "no queue grows for a viewer"


def test_a_non_loopback_bind_without_token_warns_and_the_run_lingers_until_stopped(device_models):
    classifier = Classifier(["--model", str(device_models[0] / "muffins.tflite"), "--images", str(SAMPLE / "test" / "muffin"),
                             "--json", "--serve", "0.0.0.0:0"])
    deadline = time.monotonic() + 30
    while not any("the run ended" in line for line in classifier.errors) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("open to anyone who can reach this address; set --serve-token" in line for line in classifier.errors)
    port = int(classifier.url.rsplit(":", 1)[1].strip("/"))
    status = json.loads(_get(f"http://127.0.0.1:{port}/api/status")[1])
    assert status["ended"] and status["frames"] == 50 and status["last"]["frame"] == 49, "the last image stays"
    summary = classifier.stop()
    assert classifier.process.returncode == 0 and summary["frames"] == 50


@pytest.mark.parametrize("args, expected", [
    (["--serve", "nope"], "--serve nope: give [HOST:]PORT"),
    (["--serve", "127.0.0.1:\u00b2"], "--serve 127.0.0.1:\u00b2: give [HOST:]PORT"),  # a digit to str.isdigit
    (["--serve", "8080", "--serve-token", " "], "--serve-token: give a non-empty token"),
    (["--realtime"], "--realtime: only for --video FILE"),
])
def test_bad_serve_flags_get_one_line(device_models, cli, args, expected):
    from edge.classify import app

    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--images", str(SAMPLE / "test"), *args])
    assert result.exit_code == 2 and expected in result.output, result.output


def test_realtime_plays_a_video_at_its_frame_rate(device_models, cli, tmp_path):
    from edge.classify import app

    video = generated.alternating_clip(tmp_path / "clip.avi", SAMPLE / "test", runs=(10, 10), fps=20)  # 1 s
    started = time.perf_counter()
    result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--video", str(video), "--realtime",
                              "--json"])
    elapsed = time.perf_counter() - started
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert result.exit_code == 0 and elapsed >= 0.9, elapsed
    assert summary["frames"] + summary["dropped"] <= 20 and summary["frames"] >= 5 and "ended" in summary


def test_a_port_already_taken_is_one_line(device_models, cli):
    from edge.classify import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli.invoke(app, ["--model", str(device_models[0] / "muffins.tflite"), "--images", str(SAMPLE / "test"),
                                  "--serve", f"127.0.0.1:{port}"])
    assert result.exit_code == 2 and f"--serve 127.0.0.1:{port}: cannot listen there" in result.output, result.output


def _connect(serving) -> socket.socket:
    port = int(serving.url.rsplit(":", 1)[1].strip("/"))
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def test_a_client_that_drips_its_headers_is_dropped_at_the_deadline(serving):
    """Slowloris: one header byte every half second keeps each read under the 10-s timeout; the request line and
    headers get HEADER_SECONDS in all, after which the connection is closed."""
    from edge.serve import HEADER_SECONDS

    dripping = _connect(serving)
    dripping.sendall(b"GET /api/status HTTP/1.1\r\n")
    started, closed = time.monotonic(), False
    while time.monotonic() - started < HEADER_SECONDS + 6:
        try:
            dripping.sendall(b"X")
            time.sleep(0.5)
        except OSError:
            closed = True
            break
    dripping.close()
    assert closed and time.monotonic() - started < HEADER_SECONDS + 2, time.monotonic() - started


def test_clients_that_take_every_place_without_asking_do_not_lock_a_viewer_out(serving):
    """Slowloris with reconnection: MAX_CONNECTIONS clients (and more) hold connections without finishing a request.
    A viewer still gets its answer: it takes the place of the one that has waited longest."""
    from edge.serve import MAX_CONNECTIONS

    holders = []
    for _ in range(MAX_CONNECTIONS + 8):
        holder = _connect(serving)
        holder.sendall(b"GET /api/status HTTP/1.1\r\n")
        holders.append(holder)
    time.sleep(0.5)
    try:
        answers = [_get(f"{serving.url}api/status?token={TOKEN}", timeout=5)[0] for _ in range(5)]
    finally:
        for holder in holders:
            holder.close()
    assert answers == [200] * 5, answers


def test_huge_headers_are_refused_and_resets_print_nothing(serving):
    """Headers past HEAD_BYTES get 431 without being held; a client that resets mid-request leaves no traceback on
    the device's terminal."""
    from edge.serve import HEAD_BYTES

    flood = _connect(serving)
    flood.sendall(b"GET /api/status HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 60_000) for i in range(4)))
    assert flood.recv(64).startswith(b"HTTP/1.1 431") and HEAD_BYTES < 240_000
    flood.close()
    errors_before = len(serving.errors)
    for _ in range(20):
        reset = _connect(serving)
        reset.sendall(b"GET /api/status HTTP/1.1\r\nHost: x")
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        reset.close()
    time.sleep(1.0)
    assert not [line for line in serving.errors[errors_before:] if "Traceback" in line or "Error" in line], \
        serving.errors[errors_before:][:20]
