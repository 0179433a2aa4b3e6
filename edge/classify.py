"""`edge-classify`: classify frames from a camera, a video or images with a .tflite or .onnx model."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import typer

from edge import loop, runtime
from edge.console import add_command, command_app, user_errors, version_option
from edge.errors import UserError
from edge.loop import FrameRate, Prediction
from edge.metrics import percent
from edge.reading import small_text
from edge.sources import open_source
from edge.spec import ModelSpec

app = command_app(__doc__)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd stop, docker stop) ends the run like Ctrl-C: the summary still prints."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _spec_from_flags(labels: Optional[Path], size: Optional[str], scale: float, offset: float) -> Optional[ModelSpec]:
    """A spec for a model file that carries none, from --labels and --size; None when neither is given."""
    if labels is None and size is None:
        return None
    if labels is None or size is None:
        raise UserError("a model without an embedded spec needs both --labels FILE and --size WxH")
    names = tuple(line.strip() for line in small_text(labels, "--labels").splitlines() if line.strip())
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {size!r}: write it as WxH, e.g. 224x224") from None
    try:
        return ModelSpec("binary" if len(names) == 2 else "multiclass", names, height, width, scale=scale, offset=offset)
    except UserError as exc:
        raise UserError(f"--labels {labels} / --size {size}: {str(exc).removeprefix('spec: ')}") from None


def _check_window() -> None:
    """--show needs an OpenCV built with a GUI and a display to open a window on: checked before any work."""
    gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                if line.strip().startswith("GUI:")), "NONE")
    if gui == "NONE":
        raise UserError("--show: this OpenCV has no window support (opencv-python-headless, as the edge extras "
                        "install); replace it: pip uninstall -y opencv-python-headless && pip install opencv-python; "
                        "or watch from a browser instead: --serve 8080")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("--show: no display here (DISPLAY is not set: an SSH session, or a device without a desktop); "
                        "run it on the device's desktop, or watch from a browser instead: --serve 0.0.0.0:8080")


def _show(image: np.ndarray) -> bool:
    """Show the frame (with its overlay); False when the user pressed q."""
    cv2.imshow("edge-classify", image)
    return cv2.waitKey(1) & 0xFF != ord("q")


def _summary_line(summary: dict) -> str:
    """The run's summary as people read it: accuracy in percent, as every command prints it."""
    return "summary: " + ", ".join(f"{k}={percent(v) if k == 'accuracy' else v}" for k, v in summary.items())


def _record(prediction: Prediction, kind: str) -> dict:
    """One frame as its JSON line (and the HTTP poster's body)."""
    frame, (label, score) = prediction.frame, prediction.best[0]
    record = {"source": kind, "frame": frame.index, "label": label, "score": round(score, 4),
              "latency_ms": round(prediction.latency_ms, 3)}
    if len(prediction.best) > 1:
        record["top"] = [[name, round(p, 4)] for name, p in prediction.best]
    if kind == "images":
        record["path"] = frame.name
    if frame.truth is not None:
        record["truth"] = frame.truth
    return record


class Printer:
    """One line per frame on stdout: tab-separated text or JSON lines; only label changes with CHANGES_ONLY."""

    def __init__(self, kind: str, json_lines: bool, changes_only: bool):
        self.kind, self.json_lines, self.changes_only = kind, json_lines, changes_only

    def __call__(self, prediction: Prediction, changed: bool) -> None:
        if self.changes_only and not changed:
            return
        if self.json_lines:
            typer.echo(json.dumps(_record(prediction, self.kind)))
            return
        (label, score), others = prediction.best[0], prediction.best[1:]
        more = "".join(f"\t{name} {p:.3f}" for name, p in others)
        typer.echo(f"{prediction.frame.name}\t{label}\t{score:.3f}\t{prediction.latency_ms:.1f} ms{more}")

    def close(self) -> dict:
        return {}


class Changes:
    """Each label change to an HTTP endpoint, through edge.outputs.Poster's bounded queue."""

    def __init__(self, url: str, kind: str):
        from edge.outputs import Poster  # HTTP costs start-up time: imported only when asked for

        self.poster, self.kind = Poster(url), kind

    def __call__(self, prediction: Prediction, changed: bool) -> None:
        if changed:
            self.poster.send(_record(prediction, self.kind))

    def close(self) -> dict:
        return self.poster.close()


class Overlay:
    """Frames with label, score and FPS drawn on: into a video file, a window (q ends the run), or both."""

    def __init__(self, save_video: Optional[Path], show: bool, fps: float):
        from edge.outputs import VideoRecorder, overlay

        self.draw, self.show, self.path = overlay, show, save_video
        self.recorder = VideoRecorder(save_video, fps) if save_video else None
        self.rate = FrameRate()  # for the FPS shown

    def __call__(self, prediction: Prediction, changed: bool) -> bool:
        self.rate.tick()
        drawn = self.draw(prediction.frame.image, *prediction.best[0], self.rate.fps)
        if self.recorder:
            self.recorder.write(drawn)
        return _show(drawn) if self.show else True

    def close(self) -> dict:
        if not self.recorder:
            return {}
        self.recorder.close()
        return {"video": str(self.path)} if self.recorder.frames else {}


def _serving(where: str, token: Optional[str], fps: float, model: Path, runner, source):
    """The --serve sink (edge/serve.py), imported only when asked for."""
    from edge.serve import Serving

    spec = runner.spec
    describe = {"model": model.name, "runtime": runner.runtime, "source": source.kind, "task": spec.task,
                "labels": list(spec.labels), "input": [spec.height, spec.width]}
    return Serving(where, token, fps, describe, lambda prediction: _record(prediction, source.kind),
                   lambda: source.counters)


def classify(
    model: Path = typer.Option(..., "--model", "-m", help=".tflite or .onnx file made by `convert quantize`."),
    camera: Optional[str] = typer.Option(None, help="Camera index for OpenCV (0 is the first camera), a device path, "
                                         "or picam (Raspberry Pi camera via picamera2)."),
    video: Optional[Path] = typer.Option(None, help="Video file."),
    images: Optional[Path] = typer.Option(None, help="An image, a folder of images, or a folder of class folders (reports accuracy)."),
    json_lines: bool = typer.Option(False, "--json", help="One JSON object per frame, then a summary object."),
    show: bool = typer.Option(False, help="Show frames with label and FPS in a window (q quits)."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Stop after this many frames [default: when the source "
                                             "ends, or Ctrl-C]."),
    threads: Optional[int] = typer.Option(None, min=1, help="Inference threads [default: every core]."),
    k: int = typer.Option(1, "--top-k", min=1, help="Also print the K most likely labels."),
    unsure_below: float = typer.Option(0.0, min=0.0, max=1.0, help="Say `unsure` when the best probability is below this."),
    smooth_frames: int = typer.Option(1, "--smooth", min=1, help="Average probabilities over the last N frames (camera, video)."),
    stream: Optional[str] = typer.Option(None, help="Network stream URL OpenCV can open (rtsp://, http://)."),
    labels: Optional[Path] = typer.Option(None, help="For a model without an embedded spec: a text file, one label per line."),
    size: Optional[str] = typer.Option(None, help="For a model without an embedded spec: input size WxH."),
    scale: float = typer.Option(1 / 255, help="For a model without an embedded spec: input = pixels * scale + offset."),
    offset: float = typer.Option(0.0, help="For a model without an embedded spec (see --scale)."),
    changes_only: bool = typer.Option(False, "--changes-only", help="Print a frame only when its label differs from the last one."),
    save_video: Optional[Path] = typer.Option(None, help="Write the frames with their overlay to this .mp4 or .avi file."),
    post: Optional[str] = typer.Option(None, help="POST each label change as JSON to this http(s) URL (never blocks inference)."),
    serve: Optional[str] = typer.Option(None, metavar="[HOST:]PORT", help="Serve a live view to browsers: the page, "
                                        "/stream.mjpg, /api/status, /events, /metrics (host: 127.0.0.1 unless given)."),
    serve_token: Optional[str] = typer.Option(None, envvar="EDGE_SERVE_TOKEN", help="Require this token on every "
                                              "--serve request: Authorization: Bearer TOKEN, or ?token=TOKEN."),
    serve_fps: float = typer.Option(10.0, min=0.5, max=60, help="Most frames per second encoded for --serve viewers."),
    realtime: bool = typer.Option(False, "--realtime", help="Play --video at its own frame rate, as a camera delivers "
                                  "it (the newest frame; the others dropped and counted)."),
    debug: bool = typer.Option(False, help="Show the traceback of unexpected errors."),
    version: bool = version_option(),
):
    """Classify every frame and print one line per frame: the file or frame, the label, its probability and the
    model's milliseconds. Give exactly one source: --camera, --video, --stream or --images."""
    with user_errors(debug):
        if show:
            _check_window()
        runner = runtime.load(model, threads, spec=_spec_from_flags(labels, size, scale, offset))
        source = open_source({"camera": camera, "video": video, "stream": stream, "images": images},
                             runner.spec.labels if runner.spec.task != "regression" else None, realtime=realtime,
                             bar=not sys.stdout.isatty())  # images whose lines go to a file: show how far it is
        sinks = [Printer(source.kind, json_lines, changes_only), *([Changes(post, source.kind)] if post else []),
                 *([Overlay(save_video, show, getattr(source, "fps", 0.0))] if save_video or show else [])]
        serving = _serving(serve, serve_token, serve_fps, model, runner, source) if serve else None
        _stop_on_sigterm()
        try:
            summary = loop.run(runner, source, sinks + ([serving] if serving else []), max_frames, k=k,
                               unsure_below=unsure_below, smooth=smooth_frames)
            summary.update(model=str(model), runtime=runner.runtime)
            typer.echo(json.dumps({"summary": summary}) if json_lines else _summary_line(summary))
            if not summary["frames"]:
                raise UserError(f"{images or video}: no frame could be classified (all {source.skipped} files unreadable)")
            if serving and not summary.get("interrupted"):
                serving.linger()
        finally:
            if serving:
                serving.stop()


add_command(app, classify)


def main():
    app()


if __name__ == "__main__":
    main()
