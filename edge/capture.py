"""Live capture on its own thread: inference always takes the newest frame (no growing lag), frames it never took
are counted as dropped, and a source that stops giving frames is reopened with back-off while the run goes on."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Iterator

import numpy as np


class LiveReader:
    """Keeps the newest frame of an open OpenCV capture; OPENER makes a new capture when it fails, or None: a capture
    that fails has ended (a video file played in real time)."""

    def __init__(self, capture, first_frame: np.ndarray, opener: Callable[[], object] | None, name: str,
                 backoff: tuple[float, float] = (0.5, 30.0)):
        self.capture, self.opener, self.name, self.backoff = capture, opener, name, backoff
        self.frame, self.index, self.taken = first_frame, 0, -1  # newest frame, its number, the last number taken
        self.dropped = self.reconnects = 0
        self.stopped = self.ended = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, name=f"capture {name}", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        delay = self.backoff[0]
        while not self.stopped:
            ok, image = self.capture.read()
            if ok and image is not None:
                delay = self.backoff[0]
                with self.changed:
                    self.dropped += self.index > self.taken  # the previous newest frame was never taken
                    self.frame, self.index = image, self.index + 1
                    self.changed.notify_all()
                continue
            self.capture.release()
            if self.opener is None:
                with self.changed:
                    self.ended = True
                    self.changed.notify_all()
                return
            print(f"warning: {self.name} gave no frame; reopening in {delay:.1f} s", file=sys.stderr)
            with self.changed:
                if self.changed.wait_for(lambda: self.stopped, timeout=delay):
                    return
            delay = min(2 * delay, self.backoff[1])
            self.capture = self.opener()
            if self.capture.isOpened():
                self.reconnects += 1

    def frames(self) -> Iterator[tuple[np.ndarray, int]]:
        """(newest frame, its number), each frame at most once, waiting for the next one; stops the reader at the end."""
        try:
            while True:
                with self.changed:
                    self.changed.wait_for(lambda: self.index > self.taken or self.stopped or self.ended)
                    if self.stopped or self.index == self.taken:
                        return
                    self.taken = self.index
                    frame = self.frame
                yield frame, self.taken
        finally:
            self.stop()

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()
        self.thread.join(timeout=5)
        self.capture.release()


class Paced:
    """A video file read as a camera delivers it: frame N no sooner than N / FPS seconds after the first read."""

    def __init__(self, capture, fps: float):
        self.capture, self.period, self.started, self.count = capture, 1 / (fps if fps > 0 else 30.0), None, 0

    def read(self):
        self.started = self.started or time.perf_counter()
        self.count += 1
        wait = self.started + self.count * self.period - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        return self.capture.read()

    def release(self) -> None:
        self.capture.release()
