"""`edge-bench pipeline`: the whole camera loop on a real video, stage by stage, and memory over many frames.

    edge-bench pipeline -m models/muffins.tflite --images ../shared/data/muffin-chihuahua/test --frames 10000

Stages per frame, timed by edge.loop as edge-classify runs them: capture (read and decode the next frame),
preprocess (crop, resize and colour conversion, then the model's input tensor: one uint8 add or a table lookup for
int8 inputs), invoke (runner.run, output dequantised) and postprocess (probabilities and top label). Two modes: `sequential` decodes on the inference thread (a
single-core device), `capture thread` is what edge-classify does for cameras and streams: decoding runs on the
LiveReader thread, fed at --camera-fps like a camera, and the inference thread takes the newest frame (its
not-invoke share counts the work on that thread, not the wait for a frame). The video loops until --frames are
done; resident memory is sampled every 500 frames.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import typer

from benchmarks.machine import rss_mb
from benchmarks.results import write_results
from edge import runtime
from edge.capture import LiveReader
from edge.console import user_errors
from edge.errors import UserError
from edge.folders import any_images
from edge.loop import STAGES, predictions
from edge.preprocess import read_image
from edge.sources import Frame
from edge.tables import markdown

FRAME_SIZE = (640, 480)  # a common camera resolution


def make_video(images: Path, path: Path, limit: int = 100, repeat: int = 1) -> Path:
    """An MJPG video of up to LIMIT real images, letterboxed to 640x480, as a camera would deliver them; the sequence
    REPEAT times over."""
    paths = any_images(images)
    frames = []
    for p in paths[:: max(1, len(paths) // limit)][:limit]:
        image = read_image(p)
        scale = min(FRAME_SIZE[0] / image.shape[1], FRAME_SIZE[1] / image.shape[0])
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8)
        top, left = (FRAME_SIZE[1] - resized.shape[0]) // 2, (FRAME_SIZE[0] - resized.shape[1]) // 2
        frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
        frames.append(frame)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, FRAME_SIZE)
    for _ in range(repeat):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return path


class LoopingCapture:
    """A video file behind VideoCapture's read/isOpened/release that starts again at its end: a camera that never stops."""

    def __init__(self, video: Path, fps: float = 0.0):
        self.video, self.interval, self.due = video, 1 / fps if fps else 0.0, time.perf_counter()
        self.capture = cv2.VideoCapture(str(video))
        if not self.capture.isOpened():
            raise UserError(f"--video {video}: OpenCV cannot open it; give an MJPG/H.264 video")

    def read(self):
        if self.interval:  # deliver frames at the camera's rate, not as fast as the file decodes
            self.due += self.interval
            time.sleep(max(0.0, self.due - time.perf_counter()))
        ok, image = self.capture.read()
        if not ok:
            self.capture.release()
            self.capture = cv2.VideoCapture(str(self.video))
            ok, image = self.capture.read()
            if not ok:
                raise UserError(f"--video {self.video}: gives no frames")
        return ok, image

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.capture.isOpened()

    def release(self) -> None:
        self.capture.release()


def _images(video: Path, threaded: bool, camera_fps: float):
    """An endless iterator of images: read on this thread, or the newest image of a LiveReader thread fed at
    CAMERA_FPS."""
    capture = LoopingCapture(video, camera_fps if threaded else 0.0)
    if threaded:
        ok, first = capture.read()
        reopen = partial(LoopingCapture, video, camera_fps)
        yield from (image for image, _ in LiveReader(capture, first, reopen, str(video)).frames())
    while True:
        yield capture.read()[1]


def _frames(video: Path, threaded: bool, camera_fps: float, count: int):
    """COUNT frames of the looped video, as edge-classify's sources give them."""
    images = _images(video, threaded, camera_fps)
    for index in range(count):
        yield Frame(next(images), index, f"frame {index}")
    images.close()


def run(model: Path, video: Path, frames: int, threads: Optional[int], threaded: bool = False,
        camera_fps: float = 30.0) -> dict:
    runner = runtime.load(model, threads)
    times = {stage: np.empty(frames) for stage in STAGES}
    memory = [rss_mb()]
    for i, prediction in enumerate(predictions(runner, _frames(video, threaded, camera_fps, frames))):
        for stage, ms in prediction.stages_ms.items():
            times[stage][i] = ms
        if (i + 1) % 500 == 0:
            memory.append(rss_mb())
    medians = {f"{stage}_ms": round(float(np.median(values)), 3) for stage, values in times.items()}
    frame_ms = float(np.median(sum(times.values())))
    work_ms = float(np.median(sum(times[s] for s in STAGES if s != "capture"))) if threaded else frame_ms
    return {"model": model.name, "format": runner.format.name, "mode": "capture thread" if threaded else "sequential",
            "threads": threads, "frames": frames, **medians,
            "frame_ms": round(frame_ms, 3), "fps": round(1000 / frame_ms, 1),
            "camera_fps": camera_fps if threaded else None,
            "not_invoke_share": round(1 - medians["invoke_ms"] / work_ms, 3),
            "rss_mb_start": memory[0], "rss_mb_end": memory[-1], "rss_mb_max": max(memory),
            "rss_growth_mb": round(memory[-1] - memory[1], 1) if len(memory) > 2 else None}


def pipeline(
    model: list[Path] = typer.Option(..., "--model", "-m", help="A .tflite or .onnx file; repeat for each model."),
    video: Optional[Path] = typer.Option(None, help="A video to classify frame by frame (looped)."),
    images: Optional[Path] = typer.Option(None, help="Without --video: make a 640x480 video from these images."),
    frames: int = typer.Option(1000, min=10, help="Frames per model."),
    threads: Optional[int] = typer.Option(None, min=1, help="Inference threads [default: all cores]."),
    camera_fps: float = typer.Option(30.0, min=1, help="Capture-thread mode: the rate the reader thread delivers frames at."),
    out: Path = typer.Option(Path("benchmarks/results/pipeline"), help="Writes OUT.json and OUT.md."),
):
    """Time the camera loop stage by stage and watch memory."""
    with user_errors(), tempfile.TemporaryDirectory() as work:
        if video is None:
            if images is None:
                raise UserError("give --video FILE, or --images DIR to make one from real images")
            video = make_video(images, Path(work) / "clip.avi")
        rows = [run(path, video, frames, threads, threaded, camera_fps) for path in model for threaded in (False, True)]
        columns = ["model", "mode", "camera_fps", "frames", *[f"{s}_ms" for s in STAGES], "frame_ms", "fps", "not_invoke_share",
                   "rss_mb_start", "rss_mb_max", "rss_growth_mb"]
        table = markdown(rows, columns)
        write_results(out, {"video": str(video), "rows": rows}, f"Pipeline: 640x480 MJPG frames, medians in ms.\n\n{table}\n")
        typer.echo(table)
