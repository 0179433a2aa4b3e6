"""Runners behind one interface, declared by @register_runner in the modules edge/*_runner.py (one per runtime), and
int8 quantisation of inputs and dequantisation of outputs, which lives here and only here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.errors import UserError
from edge.formats import Format, format_of
from edge.registry import Registry
from edge.spec import ModelSpec

# Inputs normalised with the input tensor's own scale land exactly on rounding ties (u8 - 128.5); float error
# would round them either way. Rounding half up, with this tolerance in quantisation steps, maps them all the same way.
_TIE_TOLERANCE = 1e-3


class Runner(Protocol):
    """What every runtime offers. Constructed as Runner(path, threads); `load` then sets `format`, `path` and `spec`."""

    runtime: str  # the runtime's name and version, as the summary prints it
    spec: ModelSpec | None  # embedded in the file, or None
    format: Format
    path: Path

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Float model inputs (N, H, W, C) -> float scores (N, outputs)."""

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 model pixels (N, H, W, C) -> the tensors `run` takes (the path a camera frame takes)."""

    def run(self, tensors: np.ndarray) -> np.ndarray:
        """Tensors from input_from_pixels -> float scores."""

    def describe(self) -> dict:
        """Inputs, outputs and their quantisation or metadata, for `convert inspect`."""

    # A runner may also offer bare() -> (name, call, input details): its runtime's stock interpreter on the same
    # file, invoked by hand, which edge-bench times beside it (TFLiteRunner does).


# runtime name (a Format's `runtime`) -> runner class. Runner modules import their runtime only when a runner is
# built, so finding one imports every edge/*_runner.py cheaply.
RUNNERS = Registry("edge", "_runner")
register_runner = RUNNERS.register  # class decorator: @register_runner("tflite")


def quantize_array(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """float -> int8/uint8 with round-half-up; float32 in place, as it runs on every frame."""
    info = np.iinfo(dtype)
    q = np.multiply(x, np.float32(1 / scale), dtype=np.float32)
    q += np.float32(zero_point + 0.5 + _TIE_TOLERANCE)
    np.floor(q, out=q)
    np.clip(q, info.min, info.max, out=q)
    return q.astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.multiply(np.subtract(q, zero_point, dtype=np.float32), np.float32(scale), dtype=np.float32)


def thread_count(threads: int | None, name: str = "--threads ") -> int:
    """THREADS, or every core when None; UserError naming NAME (the flag, or the argument) outside 1 to 4 x the
    cores (2,000 ONNX threads effectively hung)."""
    cores = os.cpu_count() or 1
    if threads is not None and not (isinstance(threads, int) and 1 <= threads <= 4 * cores):
        raise UserError(f"{name}{threads}: give 1 to {4 * cores} (4 x the {cores} cores here); more only waits")
    return threads or cores


def load(path: str | Path, threads: int | None = None, spec: ModelSpec | None = None) -> Runner:
    """Open a model file with the runner its format needs. `spec` replaces the embedded one when given."""
    path = Path(path)
    fmt = format_of(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file; check the path")
    runner = RUNNERS.find(fmt.runtime)(path, thread_count(threads))
    runner.format = fmt
    runner.path = path
    runner.spec = spec or runner.spec
    if runner.spec is None:
        raise UserError(f"{path}: carries no model spec (labels, input size); export it with `convert quantize`, or "
                        "give them: edge-classify --labels FILE --size WxH [--scale S --offset O], in Python "
                        "Classifier(path, spec=ModelSpec(...))")
    _check_spec(runner)
    _warm_up(runner)
    return runner


def _warm_up(runner: Runner) -> None:
    """One invoke on a black frame, so that a file whose graph breaks the runtime's kernels fails here, at load, with
    exit 2, rather than at the first camera frame (some damaged files load and then fail on invoke)."""
    try:
        runner.run(runner.input_from_pixels(np.zeros((1, *runner.spec.input_shape), np.uint8)))
    except Exception as exc:  # each runtime raises its own classes; any failure here means the file cannot run
        raise UserError(f"{runner.path}: loads but fails on its first run ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); re-export it or copy it again") from None


def _check_spec(runner: Runner) -> None:
    """UserError when the spec does not fit the model: another input size, or labels for another number of outputs."""
    spec, tensors = runner.spec, runner.describe()
    shape, outputs = tensors["inputs"][0]["shape"], tensors["outputs"][0]["shape"]
    given = dict(zip(("height", "width", "channels"), shape[1:] if len(shape) == 4 else ()))
    for name, size in given.items():
        if isinstance(size, int) and size > 0 and size != getattr(spec, name):
            raise UserError(f"{runner.path}: its spec says {name} {getattr(spec, name)}, the model takes {size} "
                            f"(input {shape}); give the matching --size or re-export the model")
    count = outputs[-1] if outputs and isinstance(outputs[-1], int) and outputs[-1] > 0 else None
    wanted = {"binary": (1, 2), "regression": (1,)}.get(spec.task, (len(spec.labels),))
    if count is not None and count not in wanted:
        raise UserError(f"{runner.path}: the model has {count} output{'s' * (count != 1)}, its spec {len(spec.labels)} "
                        f"labels for a {spec.task} task; give a labels file with one name per output")
