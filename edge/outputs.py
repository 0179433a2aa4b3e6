"""Where results go besides the terminal: an overlay (label, score, FPS) for --show and --save-video, a video file
written under a temporary name, and label changes POSTed as JSON to an HTTP endpoint from a background thread."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import queue
import socket
import sys
import threading
import urllib.parse
from pathlib import Path

import cv2
import numpy as np

from edge.atomic import durable_rename, partial_name
from edge.errors import UserError

CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def overlay(image: np.ndarray, label: str, score: float, fps: float) -> np.ndarray:
    """A copy of IMAGE with the label, score and FPS drawn in the top-left corner."""
    image = image.copy()
    text = f"{label} {score:.2f}  {fps:.1f} FPS"
    cv2.putText(image, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return image


class VideoRecorder:
    """Frames with their overlay into PATH (.mp4 or .avi); the file gets its name only when the run ends."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps if fps and fps > 0 else 15.0
        if self.path.suffix.lower() not in CODECS:
            raise UserError(f"--save-video {path}: use a .mp4 or .avi file name")
        if not self.path.parent.is_dir():
            raise UserError(f"--save-video {path}: folder {self.path.parent} does not exist; create it first")
        if self.path.is_dir() or not os.access(self.path.parent, os.W_OK):
            raise UserError(f"--save-video {path}: {'is a folder' if self.path.is_dir() else 'its folder is not writable'}; "
                            "give a file name in a writable folder")
        self.tmp = partial_name(self.path)
        self.writer = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            height, width = self.size = image.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (width, height))
            if not self.writer.isOpened():
                raise UserError(f"--save-video {self.path}: OpenCV cannot write this format here; try .avi (MJPG)")
        if image.shape[:2] != self.size:  # OpenCV drops a frame of another size without a word: images differ
            image = cv2.resize(image, self.size[::-1], interpolation=cv2.INTER_AREA)
        self.writer.write(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        """Finish the file and give it its name once it plays back; UserError when it does not (a full disk)."""
        if self.writer is not None:
            self.writer.release()
        try:
            if keep and self.frames:
                if not plays_back(self.tmp, self.frames):
                    raise UserError(f"--save-video {self.path}: the video written does not play back ({self.frames} "
                                    "frames; disk full?); nothing was saved under that name")
                durable_rename(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)


def plays_back(path: Path, frames: int) -> bool:
    """Whether PATH opens as a video, its first frame decodes and its container counts FRAMES frames (a file cut
    short by a full disk counts none: its index was never written)."""
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        return count >= frames and capture.read()[0]
    finally:
        capture.release()


ANSWER_BYTES = 65536  # of an endpoint's answer, read at most: the status says whether it arrived


def _shown(parts: urllib.parse.SplitResult) -> str:
    """The URL as printed: a password in it replaced by ***."""
    if parts.password is None:
        return parts.geturl()
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


class Poster:
    """POSTs JSON records to URL on a background thread. The queue is bounded: when the endpoint is slow or down,
    the oldest waiting record is dropped (and counted, with one warning) so inference never waits. Each request is
    given up after TIMEOUT seconds in all (a socket timeout alone restarts with every byte a slow endpoint sends),
    and of the answer no more than ANSWER_BYTES are read. Credentials in the URL (http://user:password@host/) go in
    an Authorization header and are never printed. Only a 2xx status counts as delivered."""

    def __init__(self, url: str, capacity: int = 64, timeout: float = 5.0):
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
            raise UserError(f"--post {url!r}: a URL cannot hold spaces or control characters; encode them (%20)")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError as exc:
            raise UserError(f"--post {url}: not a URL ({exc}); give e.g. http://host:8080/events") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--post {_shown(parts)}: give an http:// or https:// URL with a host")
        self.url, self.parts, self.timeout = _shown(parts), parts, timeout
        self.headers = {"Content-Type": "application/json"}
        if parts.username is not None:
            user, password = (urllib.parse.unquote(v or "") for v in (parts.username, parts.password))
            self.headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.pending: queue.Queue = queue.Queue(capacity)
        self.sent = self.failed = self.dropped = 0
        self.thread = threading.Thread(target=self._run, name="post", daemon=True)
        self.thread.start()

    def send(self, record: dict) -> None:
        while True:
            try:
                self.pending.put_nowait(record)
                return
            except queue.Full:
                try:
                    self.pending.get_nowait()
                    self.dropped += 1
                    if self.dropped == 1:
                        print(f"warning: --post {self.url} is slower than the label changes; the oldest waiting "
                              "records are dropped and counted", file=sys.stderr)
                except queue.Empty:
                    pass

    def _post(self, body: bytes) -> None:
        """One POST that ends within self.timeout seconds: a timer shuts the socket down at the deadline."""
        parts = self.parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        timer = threading.Timer(self.timeout, self._cut, (connection,))
        timer.start()
        try:
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            connection.request("POST", target, body, self.headers)
            response = connection.getresponse()
            response.read(ANSWER_BYTES)  # never the whole of an answer that may be endless
            if not 200 <= response.status < 300:
                raise OSError(f"HTTP {response.status} {response.reason}"
                              + (" (redirects are not followed; give the final URL)" if 300 <= response.status < 400 else ""))
        except (http.client.HTTPException, OSError, ValueError) as exc:
            if getattr(connection, "cut", False):
                raise OSError(f"no complete answer within {self.timeout:g} s") from None
            raise OSError(str(exc) or type(exc).__name__) from None
        finally:
            timer.cancel()
            connection.close()

    @staticmethod
    def _cut(connection) -> None:
        connection.cut = True
        with contextlib.suppress(OSError, AttributeError):
            connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it

    def _run(self) -> None:
        while (record := self.pending.get()) is not None:
            try:
                self._post(json.dumps(record).encode())
                self.sent += 1
            except OSError as exc:
                self.failed += 1
                if self.failed == 1:  # once: a down endpoint must not flood the terminal
                    print(f"warning: --post {self.url} failed ({exc}); later failures are only counted", file=sys.stderr)

    def close(self, wait: float = 3.0) -> dict:
        """Stop after what is queued (waiting at most WAIT seconds); returns the counters."""
        self.send(None)
        self.thread.join(wait)
        return {"posted": self.sent, "post_failed": self.failed, "post_dropped": self.dropped}
