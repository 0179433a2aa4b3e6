"""Frames from a camera index, a video file, or images (a file, a folder, or a folder of class folders)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import cv2
import numpy as np

from edge.capture import LiveReader, Paced
from edge.errors import UserError
from edge.folders import class_folder, held_out, image_paths, is_class_folder, warn_skipped
from edge.preprocess import read_image
from edge.progress import progress

PICAM = "picam"  # --camera picam: the Raspberry Pi camera through picamera2


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    index: int
    name: str  # file path, or "frame N"
    truth: str | None = None  # the class folder's name, when images come from class folders


class Source(Protocol):
    """Where frames come from. Iterating gives Frames; the rest is for the run's summary."""

    kind: str  # the flag it came from: camera, video, stream, images
    sequence: bool  # its frames follow one another in time (smoothing over them means something); photos do not
    target: object  # what was opened: a path, camera index or URL
    skipped: int  # frames that could not be read
    ended: bool  # the source ran out (a video file's end), as opposed to the run being stopped

    def __iter__(self) -> Iterator[Frame]: ...

    @property
    def counters(self) -> dict:
        """Live-source figures (dropped frames, reconnects), or {}."""


class ImageSource:
    """Images from a file or folder; unreadable files are skipped with a warning and counted."""

    kind = "images"
    sequence = False
    ended = False
    counters: dict = {}
    bar = False  # count the images on a progress bar (edge/progress.py), for a run whose lines are piped away

    def __init__(self, path: str | Path, labels: tuple[str, ...] | None = None):
        """PATH: an image, a folder of images, or of class folders whose names, where they are among LABELS, are the
        truth its images are judged against (of a data root with train/ and test/, the test/ photos)."""
        path = self.target = held_out(path, "--images")
        if is_class_folder(path):
            folder = class_folder(path, min_classes=1)
            others = [name for name in folder.classes if labels is not None and name not in labels]
            if others:
                print(f"warning: {path}: folders {', '.join(others)} are not among the model's labels "
                      f"({', '.join(labels)}); their images are classified but not judged", file=sys.stderr)
            self.items = [(f, None if folder.classes[t] in others else folder.classes[t])
                          for f, t in zip(folder.files, folder.targets)]
            ignored = folder.ignored
        else:
            files, ignored = image_paths(path)
            self.items = [(f, None) for f in files]
        self.skipped = len(ignored)

    def __iter__(self) -> Iterator[Frame]:
        items = progress(self.items, len(self.items), f"classifying {self.target.name}", "images") if self.bar else self.items
        for index, (path, truth) in enumerate(items):
            try:
                image = read_image(path)
            except UserError as exc:
                warn_skipped(path, str(exc).split(": ", 1)[-1])
                self.skipped += 1
                continue
            yield Frame(image, index, str(path), truth)


class CaptureSource:
    """Frames from OpenCV's VideoCapture: a video file (every frame; with `realtime`, at its own frame rate as a
    camera delivers it), or a camera or stream (live: the newest frame, reopened with back-off when it stops)."""

    realtime = False  # a video file played at its frame rate: the newest frame, the others dropped and counted
    sequence = True

    def __init__(self, target: int | str, kind: str, backoff: tuple[float, float] = (0.5, 30.0)):
        self.kind, self.target, self.skipped, self.backoff = kind, target, 0, backoff
        what = f"{kind} {target}"
        if kind == "video" and not Path(target).is_file():
            raise UserError(f"{target}: no such video file; check the path")
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our own message says what failed
        self.capture = self._open()
        if not self.capture.isOpened():
            fix = {"camera": "check it is connected and free (ls /dev/video*), or try another camera index",
                   "video": "it is not a video OpenCV can decode; re-encode it (e.g. ffmpeg -c:v libx264)",
                   "stream": "check the URL and that the stream is up (try it with ffplay or VLC)"}[kind]
            raise UserError(f"{what} did not open: {fix}")
        ok, self.first = self.capture.read()
        if not ok or self.first is None:
            self.capture.release()
            raise UserError(f"{what} opened but gave no frame: "
                            + ("is another program using it?" if kind == "camera" else "it is empty or its codec is not supported"))
        self.ended = False
        self.live = None

    def _open(self):
        if self.target == PICAM:
            from edge.picamera import Picamera2Capture

            return Picamera2Capture()
        return cv2.VideoCapture(self.target)

    @property
    def fps(self) -> float:
        """Frames per second the source reports (0 when unknown)."""
        return 0.0 if self.target == PICAM else float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)

    @property
    def counters(self) -> dict:
        """Frames dropped and reconnections, for live sources."""
        return {"dropped": self.live.dropped, "reconnects": self.live.reconnects} if self.live else {}

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "video" and not self.realtime:  # a file is not real time: classify every frame, in order
            return self._every_frame()
        file = self.kind == "video"
        self.live = LiveReader(Paced(self.capture, self.fps) if file else self.capture, self.first,
                               None if file else self._open, f"{self.kind} {self.target}", self.backoff)
        return self._live_frames()

    def _live_frames(self) -> Iterator[Frame]:
        for image, index in self.live.frames():
            yield Frame(image, index, f"frame {index}")
        self.ended = self.live.ended

    def _every_frame(self) -> Iterator[Frame]:
        try:
            image, index = self.first, 0
            while image is not None:
                yield Frame(image, index, f"frame {index}")
                ok, image = self.capture.read()
                index += 1
                if not ok:
                    self.ended = True
                    break
        finally:
            self.capture.release()


def camera_target(value: str) -> int | str:
    """--camera: an index (0), a device path (/dev/video2), or picam."""
    return int(value) if value.isdigit() else value


SOURCES: dict[str, tuple[str, Callable[[str, tuple | None], Source]]] = {  # flag -> (its value in help, opener)
    "camera": ("N", lambda value, labels: CaptureSource(camera_target(value), "camera")),
    "video": ("FILE", lambda value, labels: CaptureSource(str(value), "video")),
    "stream": ("URL", lambda value, labels: CaptureSource(value, "stream")),
    "images": ("PATH", ImageSource),
}


def open_source(given: dict[str, object], labels: tuple[str, ...] | None = None) -> Source:
    """The one source among GIVEN (flag -> value or None), for a model with LABELS (class folders are judged
    against them); UserError unless exactly one is given."""
    chosen = [flag for flag, value in given.items() if value is not None]
    if len(chosen) != 1:
        flags = [f"--{flag} {metavar}" for flag, (metavar, _) in SOURCES.items()]
        raise UserError(f"give exactly one source: {', '.join(flags[:-1])} or {flags[-1]} "
                        f"(got {', '.join('--' + c for c in chosen) or 'none'})")
    return SOURCES[chosen[0]][1](given[chosen[0]], labels)
