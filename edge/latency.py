"""The one latency meter: what a frame costs on the device path, as edge-classify runs it (uint8 model pixels ->
the model's input tensor -> invoke -> float scores). edge-bench times it, and convert quantize --recover times the
recovered export with it."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from edge.preprocess import normalize, to_pixels


def _is_photo(frame: np.ndarray, spec) -> bool:
    return frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and spec.color_order != "none" \
        and frame.shape != spec.input_shape


def device_input(frame: np.ndarray, spec) -> np.ndarray:
    """What a frame is when the timed call starts: a photo as uint8 model pixels (resized, colour-converted), as
    edge-classify holds it before inference; uint8 rows of an .npz as they are; other raw examples (e.g. elevation
    tiles) as their float model input."""
    if _is_photo(frame, spec):
        return to_pixels(frame, spec)[None]
    return frame[None] if frame.dtype == np.uint8 else normalize(frame[None], spec)


def device_call(runner) -> Callable[[np.ndarray], object]:
    """What edge-classify runs per frame: uint8 pixels -> the model's input tensor (a table lookup for int8 inputs)
    -> invoke -> float scores. Raw float examples go through predict."""
    def call(x: np.ndarray):
        return runner.run(runner.input_from_pixels(x)) if x.dtype == np.uint8 else runner.predict(x)

    return call


def millis(call: Callable[[np.ndarray], object], x: np.ndarray) -> float:
    """Milliseconds of one CALL on X."""
    started = time.perf_counter()
    call(x)
    return (time.perf_counter() - started) * 1000


def median_ms(runner, frames, runs: int = 3) -> float:
    """Median milliseconds of RUNNER's device path over RUNS passes of FRAMES (photos, model pixels or examples)."""
    call = device_call(runner)
    inputs = [device_input(frame, runner.spec) for frame in frames]
    call(inputs[0])  # warm-up
    return float(np.median([millis(call, x) for _ in range(runs) for x in inputs]))
