"""Frames from a camera index, a video file, or images (a file, a folder, or a folder of class folders)."""

from __future__ import annotations

import inspect
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

    def __init__(self, path: str | Path, labels: tuple[str, ...] | None = None, bar: bool = False):
        """PATH: an image, a folder of images, or of class folders whose names, where they are among LABELS, are the
        truth its images are judged against (of a data root with train/ and test/, the test/ photos). BAR: count the
        images on a progress bar (edge/progress.py), for a run whose lines are piped away."""
        self.bar = bar
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
    """Frames from OpenCV's VideoCapture (or picamera2): read live on their own thread, the newest frame each time,
    reopened with back-off when the source stops (CameraSource, StreamSource); VideoSource reads a file instead."""

    kind = ""  # the flag it came from
    advice = ""  # what to check when it does not open
    empty = ""  # ... and when it opens but gives no frame
    sequence = True
    every_frame = False  # every frame in order (a file not played in real time), not the newest one
    reopens = True  # reopened with back-off when it stops

    def __init__(self, target: int | str, backoff: tuple[float, float] = (0.5, 30.0)):
        self.target, self.skipped, self.backoff = target, 0, backoff
        what = f"{self.kind} {target}"
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our own message says what failed
        self.capture = self._open()
        if not self.capture.isOpened():
            raise UserError(f"{what} did not open: {self.advice}")
        ok, self.first = self.capture.read()
        if not ok or self.first is None:
            self.capture.release()
            raise UserError(f"{what} opened but gave no frame: {self.empty}")
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
        if self.every_frame:
            return self._every_frame()
        capture = self.capture if self.reopens else Paced(self.capture, self.fps)  # a file: paced as a camera would
        self.live = LiveReader(capture, self.first, self._open if self.reopens else None, f"{self.kind} {self.target}",
                               self.backoff)
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


class CameraSource(CaptureSource):
    kind = "camera"
    advice = "check it is connected and free (ls /dev/video*), or try another camera index"
    empty = "is another program using it?"


class StreamSource(CaptureSource):
    kind = "stream"
    advice = "check the URL and that the stream is up (try it with ffplay or VLC)"
    empty = "it is empty or its codec is not supported"


class VideoSource(CaptureSource):
    """A video file: every frame in order, or with REALTIME at its own frame rate as a camera delivers it (the newest
    frame; the others dropped and counted)."""

    kind = "video"
    advice = "it is not a video OpenCV can decode; re-encode it (e.g. ffmpeg -c:v libx264)"
    empty = "it is empty or its codec is not supported"
    reopens = False

    def __init__(self, target: str, realtime: bool = False):
        if not Path(target).is_file():
            raise UserError(f"{target}: no such video file; check the path")
        self.every_frame = not realtime
        super().__init__(target)


def camera_target(value: str) -> int | str:
    """--camera: an index (0), a device path (/dev/video2), or picam."""
    return int(value) if value.isascii() and value.isdigit() else value  # "²".isdigit() too


SOURCES: dict[str, tuple[str, Callable[..., Source]]] = {  # flag -> (its value in help, opener(value, labels, **options))
    "camera": ("N", lambda value, labels: CameraSource(camera_target(value))),
    "video": ("FILE", lambda value, labels, realtime=False: VideoSource(str(value), realtime)),
    "stream": ("URL", lambda value, labels: StreamSource(value)),
    "images": ("PATH", lambda value, labels, bar=False: ImageSource(value, labels, bar)),
}
OPTIONS = {"realtime": "--realtime: only for --video FILE (cameras and streams are real time already)",
           "bar": None}  # the options a source may take -> the line when the chosen one does not (None: ignored)


def open_source(given: dict[str, object], labels: tuple[str, ...] | None = None, **options: bool) -> Source:
    """The one source among GIVEN (flag -> value or None), for a model with LABELS (class folders are judged
    against them), built with the OPTIONS it takes (realtime: a video; bar: images); UserError unless exactly one
    source is given, or for an option set that it does not take."""
    chosen = [flag for flag, value in given.items() if value is not None]
    if len(chosen) != 1:
        flags = [f"--{flag} {metavar}" for flag, (metavar, _) in SOURCES.items()]
        raise UserError(f"give exactly one source: {', '.join(flags[:-1])} or {flags[-1]} "
                        f"(got {', '.join('--' + c for c in chosen) or 'none'})")
    opener = SOURCES[chosen[0]][1]
    taken = inspect.signature(opener).parameters
    for option, value in options.items():
        if value and option not in taken and OPTIONS[option]:
            raise UserError(OPTIONS[option])
    return opener(given[chosen[0]], labels, **{k: v for k, v in options.items() if k in taken})
