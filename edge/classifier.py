"""The device side as a library, for a program of your own on the Pi (turn on a relay when a cat appears):
`Classifier` loads an exported model and classifies a frame, a photo, or every frame of a camera, video or folder,
through the same preprocessing, runtime and frame loop as `edge-classify`, so it gives the same numbers. Needs only
numpy, OpenCV and a runtime, never TensorFlow.

    from edge import Classifier

    classifier = Classifier("muffins.tflite")
    print(classifier.classify("photo.jpg"))          # Result(label='muffin', score=0.97, ...)
    for frame, result in classifier.frames(0):       # camera 0; a video, folder or stream URL works too
        if result.label == "chihuahua" and result.score > 0.8:
            ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from edge import runtime
from edge.errors import UserError
from edge.loop import predictions
from edge.preprocess import read_image
from edge.sources import PICAM, Frame, open_source
from edge.spec import ModelSpec

STREAMS = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
IMAGES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


@dataclass(frozen=True)
class Result:
    """One classified frame."""

    label: str  # the most likely label; `unsure` below the classifier's unsure_below; `value` for a regression model
    score: float  # its probability (a regression model: the value)
    top: list[tuple[str, float]]  # the top_k (label, probability) pairs, most likely first
    latency_ms: float  # preprocessing, inference and postprocessing


class Classifier:
    """A .tflite or .onnx model made by `convert quantize`, ready to classify BGR frames.

    Args:
        model: the model file; its labels, input size and normalisation are read from inside it.
        threads: inference threads (default: every core).
        top_k: how many (label, probability) pairs each Result's `top` holds.
        unsure_below: a best probability below this gives the label `unsure`.
        spec: for a model file without an embedded spec, its labels and preprocessing.

    Raises:
        edge.errors.UserError: a missing, damaged or unsupported model file, or an argument out of range; the
            message names the file or argument and what to do.
    """

    def __init__(self, model: str | Path, threads: int | None = None, top_k: int = 1, unsure_below: float = 0.0,
                 spec: ModelSpec | None = None):
        if not (isinstance(top_k, int) and top_k >= 1):
            raise UserError(f"top_k={top_k!r}: give a count of 1 or more")
        if not 0 <= unsure_below <= 1:
            raise UserError(f"unsure_below={unsure_below!r}: give a probability from 0 to 1")
        self.runner = runtime.load(model, runtime.thread_count(threads, "threads="), spec=spec)
        self.top_k, self.unsure_below = top_k, unsure_below

    @property
    def spec(self) -> ModelSpec:
        """Task, labels, input size, colour order, resizing and normalisation, as embedded in the model file."""
        return self.runner.spec

    @property
    def labels(self) -> tuple[str, ...]:
        return self.runner.spec.labels

    @property
    def runtime(self) -> str:
        """The runtime that runs the model and its version, e.g. 'ai-edge-litert 2.3.0'."""
        return self.runner.runtime

    def classify(self, image: np.ndarray | str | Path) -> Result:
        """Classify one image: a BGR uint8 frame as OpenCV gives it ((H, W, 3), or (H, W) grayscale), or the path of
        an image file."""
        if isinstance(image, (str, Path)):
            frame = Frame(read_image(image), 0, str(image))
        elif isinstance(image, np.ndarray) and image.dtype == np.uint8 and (image.ndim == 2 or
                                                                           (image.ndim == 3 and image.shape[2] == 3)):
            frame = Frame(image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2), 0, "frame 0")
        else:
            got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise UserError(f"image: give a BGR uint8 array (H, W, 3) or (H, W), or an image path; got a {got}")
        return _result(next(predictions(self.runner, [frame], self.top_k, self.unsure_below)))

    def frames(self, source: int | str | Path, smooth: int = 1, max_frames: int | None = None
               ) -> Iterator[tuple[np.ndarray, Result]]:
        """(BGR frame, Result) for every frame of SOURCE: a camera index (0), a device path (/dev/video2), "picam"
        (the Raspberry Pi camera), a stream URL (rtsp://...), a video file, an image or a folder of images. Live
        sources are read on their own thread and always give the newest frame; leaving the loop closes the source.
        SMOOTH averages the probabilities of the last N frames (not for separate photos)."""
        if not (isinstance(smooth, int) and smooth >= 1):
            raise UserError(f"smooth={smooth!r}: give a number of frames, 1 or more")
        kind, value = _source_kind(source)
        opened = open_source({kind: value}, self.labels if self.spec.task != "regression" else None)
        results = predictions(self.runner, opened, self.top_k, self.unsure_below, smooth)
        for count, prediction in enumerate(results, 1):
            yield prediction.frame.image, _result(prediction)
            if count == max_frames:
                return


def _result(prediction) -> Result:
    label, score = prediction.best[0]
    return Result(label, score, prediction.best, prediction.latency_ms)


def _source_kind(source: int | str | Path) -> tuple[str, object]:
    """(the edge-classify flag a SOURCE stands for, its value); UserError naming SOURCE when it is none of them."""
    if isinstance(source, int) and not isinstance(source, bool):
        return "camera", str(source)
    text = str(source)
    if isinstance(source, str) and ((text.isascii() and text.isdigit()) or text == PICAM or text.startswith("/dev/video")):
        return "camera", text
    if isinstance(source, str) and text.lower().startswith(STREAMS):
        return "stream", text
    path = Path(text)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGES):
        return "images", path
    if path.is_file():
        return "video", path
    raise UserError(f"source={source!r}: no such file or folder; give a camera index (0), 'picam', a stream URL, a "
                    "video file, an image or a folder of images")
