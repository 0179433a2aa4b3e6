"""Where results go besides the terminal: an overlay (label, score, FPS) for --show and --save-video, a video file
written under a temporary name, and label changes POSTed as JSON to an HTTP endpoint from a background thread."""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from edge.atomic import partial_name
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
                os.replace(self.tmp, self.path)
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


class Poster:
    """POSTs JSON records to URL on a background thread. The queue is bounded: when the endpoint is slow or down,
    the oldest waiting record is dropped (and counted) so inference never waits."""

    def __init__(self, url: str, capacity: int = 64, timeout: float = 5.0):
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError as exc:
            raise UserError(f"--post {url}: not a URL ({exc}); give e.g. http://host:8080/events") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--post {url}: give an http:// or https:// URL with a host")
        self.url, self.timeout = url, timeout
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
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while (record := self.pending.get()) is not None:
            request = urllib.request.Request(self.url, json.dumps(record).encode(), {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                self.sent += 1
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.failed += 1
                if self.failed == 1:  # once: a down endpoint must not flood the terminal
                    print(f"warning: --post {self.url} failed ({exc}); later failures are only counted", file=sys.stderr)

    def close(self, wait: float = 3.0) -> dict:
        """Stop after what is queued (waiting at most WAIT seconds); returns the counters."""
        self.send(None)
        self.thread.join(wait)
        return {"posted": self.sent, "post_failed": self.failed, "post_dropped": self.dropped}
