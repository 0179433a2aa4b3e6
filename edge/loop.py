"""The frame loop, once: frames from a source -> a prediction per frame, each stage timed. `edge-classify` hands the
predictions to its sinks (printer, poster, recorder, window); `edge-bench pipeline` keeps the stage times."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

from edge.metrics import percentiles
from edge.postprocess import Smoother, probabilities, top_k
from edge.preprocess import to_pixels
from edge.runtime import Runner
from edge.sources import Frame

STAGES = ("capture", "preprocess", "invoke", "postprocess")


@dataclass
class Prediction:
    frame: Frame
    best: list[tuple[str, float]]  # (label, probability), most likely first; [("value", v)] for regression
    stages_ms: dict[str, float]  # milliseconds per stage of STAGES; capture is the wait for this frame

    @property
    def label(self) -> str:
        return self.best[0][0]

    @property
    def latency_ms(self) -> float:
        """Preprocess, invoke and postprocess: what the model costs a frame."""
        return sum(self.stages_ms[stage] for stage in STAGES[1:])


def predictions(runner: Runner, frames: Iterable[Frame], k: int = 1, unsure_below: float = 0.0,
                smooth: int = 1) -> Iterator[Prediction]:
    """Classify each frame of FRAMES with RUNNER (the uint8 path: pixels -> input tensor -> run): the K most likely
    labels, `unsure` below UNSURE_BELOW, probabilities averaged over the last SMOOTH frames where FRAMES are a
    sequence (a Source whose `sequence` is False, separate photos, is never smoothed)."""
    smooth = smooth if getattr(frames, "sequence", True) else 1
    spec, smoother, frames = runner.spec, Smoother(smooth), iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        t1 = time.perf_counter()
        tensors = runner.input_from_pixels(to_pixels(frame.image, spec)[None])
        t2 = time.perf_counter()
        scores = runner.run(tensors)[0]
        t3 = time.perf_counter()
        if spec.task == "regression":
            best = [("value", float(scores.ravel()[0]))]
        else:
            best = top_k(smoother(probabilities(scores, spec)), spec, k, unsure_below)
        t4 = time.perf_counter()
        yield Prediction(frame, best, {stage: (b - a) * 1000 for stage, (a, b) in
                                       zip(STAGES, ((t0, t1), (t1, t2), (t2, t3), (t3, t4)))})


class Sink(Protocol):
    """Receives every prediction; `close` returns what it adds to the run's summary."""

    def __call__(self, prediction: Prediction, changed: bool) -> bool | None:
        """CHANGED: the label differs from the previous frame's. Return False to end the run (e.g. q in a window)."""

    def close(self) -> dict: ...


class FrameRate:
    """Frames per second over the last WINDOW frames: `tick()` at each frame."""

    def __init__(self, window: int = 30):
        self.times = collections.deque(maxlen=window)

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    @property
    def fps(self) -> float:
        times = list(self.times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


LATENCY_WINDOW = 10_000  # frames whose latencies the summary's percentiles cover: a camera run may last for days


def run(runner: Runner, source, sinks: list[Sink], max_frames: int | None = None, **options) -> dict:
    """Classify SOURCE's frames (OPTIONS as `predictions` takes them) into SINKS until the source ends, MAX_FRAMES, a
    sink says stop, or Ctrl-C; the summary: frames, skipped, fps, latency percentiles, accuracy where frames carry
    their truth, the source's counters, and each sink's additions."""
    latencies = collections.deque(maxlen=LATENCY_WINDOW)
    frames, correct, judged, last, started, interrupted = 0, 0, 0, None, time.perf_counter(), False
    try:
        for prediction in predictions(runner, source, **options):
            frames += 1
            latencies.append(prediction.latency_ms)
            if prediction.frame.truth is not None:
                judged += 1
                correct += prediction.label == prediction.frame.truth
            changed, last = prediction.label != last, prediction.label
            if any([sink(prediction, changed) is False for sink in sinks]) or frames == max_frames:
                break
    except KeyboardInterrupt:  # Ctrl-C (and SIGTERM, see edge.classify) ends a camera run; the summary still prints
        interrupted = True
    finally:
        closed = [sink.close() for sink in sinks]
    elapsed = time.perf_counter() - started
    summary = {"frames": frames, "skipped": source.skipped, "fps": round(frames / elapsed, 2) if elapsed > 0 else None}
    if latencies:
        median, p90, p99 = percentiles(latencies, (0.5, 0.9, 0.99))
        summary.update(latency_ms_median=round(median, 3), latency_ms_p90=round(p90, 3), latency_ms_p99=round(p99, 3))
    if judged:
        summary.update(accuracy=round(correct / judged, 4), judged=judged)
    summary.update(source.counters)
    if source.ended:
        summary["ended"] = f"{source.kind} {source.target} gave no more frames"
    if interrupted:
        summary["interrupted"] = True
    for extra in closed:
        summary.update(extra)
    return summary
