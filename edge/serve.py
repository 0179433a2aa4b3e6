"""`edge-classify --serve [HOST:]PORT`: watch a headless device from a browser. One page (edge/page.html, no external
assets), the overlaid frames as MJPEG, status JSON, label changes as server-sent events and Prometheus metrics, from
the standard library's threading HTTP server. The frame loop only hands over its newest prediction: drawing,
JPEG encoding (at most --serve-fps, once for every viewer) and each viewer run on other threads."""

from __future__ import annotations

import bisect
import collections
import contextlib
import hmac
import http.client
import io
import ipaddress
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import cv2

from edge.errors import UserError
from edge.loop import FrameRate, Prediction
from edge.metrics import percentiles

PAGE = Path(__file__).with_name("page.html")
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # latency histogram bounds, seconds
MAX_CONNECTIONS = 32  # open at once; more get 503 (each viewer holds one for its stream and one for its events)
SOCKET_TIMEOUT = 10.0  # a viewer that takes nothing for this long is dropped
HEADER_SECONDS = 5.0  # for a request line and its headers, in all (a client sending a byte at a time is dropped)
HEAD_BYTES = 16384  # of a request line and its headers; more gets 431 (a page's GET sends well under 1 KB)
EVENTS_KEPT = 256  # label changes a late or slow /events reader can still catch up with


def address(value: str) -> tuple[str, int]:
    """--serve [HOST:]PORT -> (host, port); the host is 127.0.0.1 unless given."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:  # "²".isdigit() too
        raise UserError(f"--serve {value}: give [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    return host, int(port)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class View:
    """The state viewers see, fed by the frame loop as a sink (edge/loop.py:Sink) and read by the HTTP threads."""

    def __init__(self, describe: dict, record: Callable[[Prediction], dict], counters: Callable[[], dict], fps: float):
        self.describe, self.record, self.counters, self.period = describe, record, counters, 1 / fps
        self.lock = threading.Lock()
        self.latest: Prediction | None = None
        self.seq = self.frames = self.changes = 0
        self.rate = FrameRate()
        self.latencies = collections.deque(maxlen=1000)  # seconds, for p50 / p99
        self.bucket_counts, self.latency_sum = [0] * (len(BUCKETS) + 1), 0.0
        self.events = collections.deque(maxlen=EVENTS_KEPT)  # (number, record) of each label change
        self.changed = threading.Condition()  # a new label change
        self.encoded = threading.Condition()  # a new JPEG
        self.jpeg, self.jpeg_seq, self.streams, self.ended = b"", 0, 0, False

    def __call__(self, prediction: Prediction, changed: bool) -> None:
        """Per frame, on the inference thread: a few assignments; nothing waits."""
        seconds = prediction.latency_ms / 1000
        with self.lock:
            self.latest, self.seq, self.frames = prediction, self.seq + 1, self.frames + 1
            self.rate.tick()
            self.latencies.append(seconds)
            self.bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum += seconds
        if changed:
            with self.changed:
                self.changes += 1
                self.events.append((self.changes, self.record(prediction)))
                self.changed.notify_all()

    def status(self) -> dict:
        with self.lock:
            latest, latencies, fps = self.latest, list(self.latencies), self.rate.fps
        p50, p99 = [round(1000 * v, 3) for v in percentiles(latencies, (0.5, 0.99))] if latencies else (None, None)
        return {**self.describe, "frames": self.frames, "label_changes": self.changes, "fps": round(fps, 2),
                "latency_ms_p50": p50, "latency_ms_p99": p99, **self.counters(),
                "viewers": self.streams, "ended": self.ended, "last": self.record(latest) if latest else None}

    def metrics(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        counters = self.counters()
        with self.lock:
            buckets, total, count = list(self.bucket_counts), self.latency_sum, self.frames
        lines = []
        for name, kind, help, value in (
                ("edge_frames_total", "counter", "Frames classified.", count),
                ("edge_dropped_frames_total", "counter", "Live frames never classified.", counters.get("dropped", 0)),
                ("edge_reconnects_total", "counter", "Times the source was reopened.", counters.get("reconnects", 0)),
                ("edge_label_changes_total", "counter", "Frames whose label differs from the previous one.", self.changes),
                ("edge_viewers", "gauge", "Clients reading /stream.mjpg.", self.streams)):
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}", f"{name} {value}"]
        lines += ["# HELP edge_latency_seconds Preprocess, inference and postprocess per frame.",
                  "# TYPE edge_latency_seconds histogram"]
        running = 0
        for bound, n in zip([*map(repr, BUCKETS), "+Inf"], buckets):
            running += n
            lines.append(f'edge_latency_seconds_bucket{{le="{bound}"}} {running}')
        lines += [f"edge_latency_seconds_sum {total!r}", f"edge_latency_seconds_count {count}"]
        return "\n".join(lines) + "\n"

    def encode_forever(self, draw: Callable) -> None:
        """The one encoder: the newest frame, overlaid, as JPEG, at most once a period and only while someone
        watches the stream."""
        done = 0
        while True:
            time.sleep(self.period)
            with self.lock:
                latest, seq = self.latest, self.seq
            if latest is None or seq == done or not self.streams:
                continue
            label, score = latest.best[0]
            with self.lock:
                fps = self.rate.fps
            ok, jpeg = cv2.imencode(".jpg", draw(latest.frame.image, label, score, fps),
                                    [cv2.IMWRITE_JPEG_QUALITY, 80])
            done = seq
            with self.encoded:
                self.jpeg, self.jpeg_seq = jpeg.tobytes() if ok else self.jpeg, self.jpeg_seq + ok
                self.encoded.notify_all()


class _Head(io.RawIOBase):
    """The connection's reader, lending a request line and its headers at most HEAD_BYTES: past that, the line being
    read is too long (http.server answers 431). Bodies are never read: the view takes GET only."""

    def __init__(self, reader):
        super().__init__()
        self.reader, self.left = reader, HEAD_BYTES

    def readline(self, size: int = -1) -> bytes:
        line = self.reader.readline(min(size if size >= 0 else self.left + 1, self.left + 1))
        self.left -= len(line)
        if self.left < 0:
            raise http.client.LineTooLong("request headers")
        return line

    def read(self, size: int = -1) -> bytes:
        return self.reader.read(size)

    def readable(self) -> bool:
        return True


class Handler(BaseHTTPRequestHandler):
    """GET only; every answer small or streamed; a token, when set, on every endpoint. A request line and its
    headers get HEADER_SECONDS and HEAD_BYTES in all."""

    server: "Server"
    timeout = SOCKET_TIMEOUT
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # the terminal belongs to the classifier's lines
        pass

    def handle_one_request(self):
        """One request, its head read against the clock: the socket is shut at the deadline unless parse_request
        finished first."""
        self.rfile, self.deadline = _Head(getattr(self.rfile, "reader", self.rfile)), threading.Timer(
            HEADER_SECONDS, self._cut)
        self.server.unfinished(self.connection, True)
        self.deadline.start()
        try:
            super().handle_one_request()
        finally:
            self.deadline.cancel()
            self.server.unfinished(self.connection, False)

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.deadline.cancel()
        self.server.unfinished(self.connection, False)
        return parsed

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading the head

    def _respond(self, code: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": kind, "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, code: int, text: str, headers: dict | None = None) -> None:
        self._respond(code, (text + "\n").encode(), "text/plain; charset=utf-8", headers)

    def _allowed(self, query: dict) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip() or query.get("token", [""])[0]
        return hmac.compare_digest(given.encode(), token.encode())

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        routes = {"/": self._page, "/stream.mjpg": self._stream, "/api/status": self._status, "/events": self._events,
                  "/metrics": self._metrics}
        if url.path not in routes:
            return self._refuse(404, "not found: try / /stream.mjpg /api/status /events /metrics")
        if not self._allowed(query):
            return self._refuse(401, "a token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN",
                                {"WWW-Authenticate": "Bearer"})
        try:
            routes[url.path]()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, socket.timeout):
            self.close_connection = True  # the viewer went away or stopped reading

    def _other(self):
        self._refuse(405, "only GET", {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other

    def _send(self, body: bytes, kind: str) -> None:
        self._respond(200, body, kind, {"Cache-Control": "no-store"})

    def _page(self):
        self._send(self.server.page, "text/html; charset=utf-8")

    def _status(self):
        self._send(json.dumps(self.server.view.status()).encode(), "application/json")

    def _metrics(self):
        self._send(self.server.view.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")

    def _open_stream(self, kind: str) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def _stream(self):
        """multipart/x-mixed-replace: the newest JPEG each time the encoder makes one; a slow viewer skips some."""
        view = self.server.view
        self._open_stream("multipart/x-mixed-replace; boundary=frame")
        with view.encoded:
            view.streams += 1
        try:
            seen = 0
            while not self.server.stopping:
                with view.encoded:
                    view.encoded.wait_for(lambda: view.jpeg_seq != seen or self.server.stopping, timeout=1.0)
                    jpeg, seq = view.jpeg, view.jpeg_seq
                if seq == seen:
                    continue
                seen = seq
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                 + jpeg + b"\r\n")
        finally:
            with view.encoded:
                view.streams -= 1

    def _events(self):
        """text/event-stream: each label change (the record --post sends), in order, from the next one on."""
        view = self.server.view
        self._open_stream("text/event-stream")
        with view.changed:
            sent = view.changes
        while not self.server.stopping:
            with view.changed:
                view.changed.wait_for(lambda: view.changes != sent or self.server.stopping, timeout=15.0)
                waiting = [(n, record) for n, record in view.events if n > sent]
            if not waiting:
                self.wfile.write(b": keep-alive\n\n")
            for n, record in waiting:
                self.wfile.write(f"id: {n}\ndata: {json.dumps(record)}\n\n".encode())
                sent = n
            self.wfile.flush()


class Server(ThreadingHTTPServer):
    """At most MAX_CONNECTIONS handled at once. When all are taken, a new connection takes the place of the one that
    has waited longest for its request line and headers (a slowloris client, or an idle keep-alive one), so that
    clients holding connections without asking anything cannot lock viewers out; with none such, it gets 503."""

    daemon_threads = True
    request_queue_size = 16

    def __init__(self, where: tuple[str, int], view: View, token: str | None):
        self.view, self.token, self.stopping = view, token, False
        self.page = PAGE.read_bytes()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.waiting, self.waiting_lock = {}, threading.Lock()  # connection: when it began waiting for a request
        family = socket.AF_INET6 if ":" in where[0] else socket.AF_INET
        self.address_family = family
        try:
            super().__init__(where, Handler)
        except OSError as exc:
            raise UserError(f"--serve {where[0]}:{where[1]}: cannot listen there ({exc.strerror or exc}); "
                            "choose another port or address") from None

    def unfinished(self, connection: socket.socket, waiting: bool) -> None:
        """Record that CONNECTION is waiting for a request line and headers, or no longer is."""
        with self.waiting_lock:
            if waiting:
                self.waiting[connection] = time.monotonic()
            else:
                self.waiting.pop(connection, None)

    def _make_room(self) -> bool:
        """Shut the connection that has waited longest for a request (its thread then frees its place); whether one
        was waiting."""
        with self.waiting_lock:
            if not self.waiting:
                return False
            oldest = min(self.waiting, key=self.waiting.get)
            del self.waiting[oldest]
        with contextlib.suppress(OSError):
            oldest.shutdown(socket.SHUT_RDWR)
        return True

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False) and not (self._make_room() and self.slots.acquire(timeout=1.0)):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            finally:
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        """A client that resets, times out or sends garbage is its own business: no traceback on the device's
        terminal (socketserver prints one for each); anything else still shows."""
        if not isinstance(sys.exc_info()[1], (OSError, http.client.HTTPException)):
            super().handle_error(request, client_address)


class Serving:
    """The sink edge-classify adds for --serve: the view, its server thread and its encoder thread."""

    def __init__(self, where: str, token: str | None, fps: float, describe: dict, record: Callable, counters: Callable):
        from edge.outputs import overlay

        host, port = address(where)
        if token is not None and not token.strip():
            raise UserError("--serve-token: give a non-empty token (or leave it and EDGE_SERVE_TOKEN unset)")
        self.view = View(describe, record, counters, fps)
        self.server = Server((host, port), self.view, token)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.server.server_address[1]}/"
        if not is_loopback(host) and token is None:
            print(f"warning: --serve {where}: the live view is open to anyone who can reach this address; "
                  "set --serve-token TOKEN (or EDGE_SERVE_TOKEN)", file=sys.stderr)
        print(f"serving the live view at {self.url}", file=sys.stderr)
        threading.Thread(target=self.server.serve_forever, name="serve", daemon=True).start()
        threading.Thread(target=self.view.encode_forever, args=(overlay,), name="encode", daemon=True).start()

    def __call__(self, prediction: Prediction, changed: bool) -> None:
        self.view(prediction, changed)

    def close(self) -> dict:
        return {"served": self.url}

    def linger(self) -> None:
        """After a source that ended (images, a video): keep showing its last frame until Ctrl-C or SIGTERM."""
        self.view.ended = True
        print(f"the run ended; the last frame stays at {self.url} until Ctrl-C", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        self.server.stopping = True
        for condition in (self.view.changed, self.view.encoded):
            with condition:
                condition.notify_all()
        self.server.shutdown()
        self.server.server_close()
