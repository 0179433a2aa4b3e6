"""`edge-classify`: classify frames from a camera, a video or images with a .tflite or .onnx model."""

from __future__ import annotations

import collections
import json
import signal
import threading
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import typer

from edge import runtime
from edge.console import user_errors, version_option
from edge.errors import UserError
from edge.postprocess import Smoother, probabilities, top_k
from edge.preprocess import to_pixels
from edge.sources import CaptureSource, Frame, ImageSource
from edge.spec import ModelSpec

app = typer.Typer(add_completion=False, help=__doc__)
LATENCY_WINDOW = 10_000  # frames whose latencies the summary's percentiles cover


def _camera(value: str) -> int | str:
    """--camera: an index (0), a device path (/dev/video2), or picam."""
    return int(value) if value.isdigit() else value


def _open_source(camera: Optional[str], video: Optional[Path], images: Optional[Path], stream: Optional[str]):
    given = (("--camera", camera), ("--video", video), ("--images", images), ("--stream", stream))
    chosen = [name for name, value in given if value is not None]
    if len(chosen) != 1:
        raise UserError("give exactly one source: --camera N, --video FILE, --stream URL or --images PATH "
                        f"(got {', '.join(chosen) or 'none'})")
    if camera is not None:
        return CaptureSource(_camera(camera), "camera")
    if video is not None:
        return CaptureSource(str(video), "video")
    if stream is not None:
        return CaptureSource(stream, "stream")
    return ImageSource(images)


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
    if not labels.is_file():
        raise UserError(f"--labels {labels}: no such file; give a text file with one label per line")
    names = tuple(line.strip() for line in labels.read_text().splitlines() if line.strip())
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {size!r}: write it as WxH, e.g. 224x224") from None
    return ModelSpec("binary" if len(names) == 2 else "multiclass", names, height, width, scale=scale, offset=offset)


def _show(image: np.ndarray) -> bool:
    """Show the frame (with its overlay); False when the user pressed q."""
    try:
        cv2.imshow("edge-classify", image)
        return cv2.waitKey(1) & 0xFF != ord("q")
    except cv2.error:
        raise UserError("--show needs an OpenCV build with a GUI: pip install opencv-python "
                        "(the -headless wheel has none), or drop --show") from None


def _frame_line(frame: Frame, kind: str, best: list[tuple[str, float]], latency: float, json_lines: bool) -> str:
    (label, score), others = best[0], best[1:]
    if not json_lines:
        more = "".join(f"\t{name} {p:.3f}" for name, p in others)
        return f"{frame.name}\t{label}\t{score:.3f}\t{latency:.1f} ms{more}"
    record = {"source": kind, "frame": frame.index, "label": label, "score": round(score, 4), "latency_ms": round(latency, 3)}
    if others:
        record["top"] = [[name, round(p, 4)] for name, p in best]
    if kind == "images":
        record["path"] = frame.name
    if frame.truth is not None:
        record["truth"] = frame.truth
    return json.dumps(record)


def _summary(source, frames: int, latencies, correct: int, judged: int, started: float) -> dict:
    """Counts over the whole run; latency percentiles over the last LATENCY_WINDOW frames."""
    elapsed = time.perf_counter() - started
    summary = {"frames": frames, "skipped": source.skipped,
               "fps": round(frames / elapsed, 2) if elapsed > 0 else None}
    if latencies:
        ordered = np.sort(np.fromiter(latencies, float))  # np.median and np.percentile load numpy.ma: 7 ms of start-up
        median, p90 = np.interp([0.5 * (len(ordered) - 1), 0.9 * (len(ordered) - 1)], np.arange(len(ordered)), ordered)
        summary.update(latency_ms_median=round(float(median), 3), latency_ms_p90=round(float(p90), 3))
    if judged:
        summary.update(accuracy=round(correct / judged, 4), judged=judged)
    summary.update(getattr(source, "counters", {}))
    if getattr(source, "ended", False):
        summary["ended"] = f"{source.kind} {source.target} gave no more frames"
    return summary


@app.command()
def classify(
    model: Path = typer.Option(..., "--model", "-m", help=".tflite or .onnx file made by `convert quantize`."),
    camera: Optional[str] = typer.Option(None, help="Camera index for OpenCV (0 is the first camera), a device path, "
                                         "or picam (Raspberry Pi camera via picamera2)."),
    video: Optional[Path] = typer.Option(None, help="Video file."),
    images: Optional[Path] = typer.Option(None, help="An image, a folder of images, or a folder of class folders (reports accuracy)."),
    json_lines: bool = typer.Option(False, "--json", help="One JSON object per frame, then a summary object."),
    show: bool = typer.Option(False, help="Show frames with label and FPS in a window (q quits)."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Stop after this many frames."),
    threads: Optional[int] = typer.Option(None, min=1, help="Inference threads (default: all cores)."),
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
    debug: bool = typer.Option(False, help="Show the traceback of unexpected errors."),
    version: bool = version_option(),
):
    """Classify every frame and print one line per frame."""
    with user_errors(debug):
        runner = runtime.load(model, threads, spec=_spec_from_flags(labels, size, scale, offset))
        spec = runner.spec
        source = _open_source(camera, video, images, stream)
        if save_video or post or show:  # HTTP and video writing cost start-up time: imported only when asked for
            from edge.outputs import Poster, VideoRecorder, overlay
        recorder = VideoRecorder(save_video, getattr(source, "fps", 0.0)) if save_video else None
        poster = Poster(post) if post else None
        _stop_on_sigterm()
        smooth = Smoother(smooth_frames if source.kind != "images" else 1)  # separate photos are not a sequence
        latencies = collections.deque(maxlen=LATENCY_WINDOW)  # bounded: a camera run may last for days
        frames, correct, judged, started, last_label = 0, 0, 0, time.perf_counter(), None
        recent = collections.deque(maxlen=30)  # wall-clock times of the last frames, for the FPS overlay
        try:
            for frame in source:
                recent.append(time.perf_counter())
                t0 = time.perf_counter()
                scores = runner.run(runner.input_from_pixels(to_pixels(frame.image, spec)[None]))[0]
                if spec.task == "regression":
                    best = [("value", float(scores.ravel()[0]))]
                else:
                    best = top_k(smooth(probabilities(scores, spec)), spec, k, unsure_below)
                label, score = best[0]
                latency = (time.perf_counter() - t0) * 1000
                latencies.append(latency)
                frames += 1
                if frame.truth is not None:
                    judged += 1
                    correct += label == frame.truth
                changed, last_label = label != last_label, label
                if changed or not changes_only:
                    typer.echo(_frame_line(frame, source.kind, best, latency, json_lines))
                if changed and poster:
                    poster.send(json.loads(_frame_line(frame, source.kind, best, latency, True)))
                if show or recorder:
                    fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
                    drawn = overlay(frame.image, label, score, fps)
                    if recorder:
                        recorder.write(drawn)
                    if show and not _show(drawn):
                        break
                if max_frames and frames >= max_frames:
                    break
        except KeyboardInterrupt:  # Ctrl-C ends a camera run; the summary still prints
            pass
        finally:
            if recorder:
                recorder.close()
        summary = _summary(source, frames, latencies, correct, judged, started)
        if poster:
            summary.update(poster.close())
        if recorder and recorder.frames:
            summary["video"] = str(save_video)
        summary.update(model=str(model), runtime=runner.runtime)
        if json_lines:
            typer.echo(json.dumps({"summary": summary}))
        else:
            typer.echo("summary: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
        if not frames:
            raise UserError(f"{images or video}: no frame could be classified (all {source.skipped} files unreadable)")


def main():
    app()


if __name__ == "__main__":
    main()
