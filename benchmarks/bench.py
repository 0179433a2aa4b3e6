"""`edge-bench`: latency, throughput, memory, size and accuracy of .tflite/.onnx models side by side, on real images.

Each model and thread count is loaded, warmed up, then timed on single images over interleaved rounds (A B A B ...)
so that machine drift hits every model alike. `--direct` adds, for each .tflite, the bare LiteRT interpreter fed
pre-quantised tensors, so the overhead of our runner is a measured ratio. Needs only the `edge` extra.
`edge-bench compare A.json B.json` prints two runs side by side; `edge-bench pipeline` times the camera loop stage by
stage; `edge-bench serve` measures what `edge-classify --serve` viewers cost; `edge-bench moving-camera` what
`--smooth` buys on a moving camera.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import typer

from benchmarks import chart
from benchmarks.compare import compare
from benchmarks import results
from benchmarks.machine import rss_mb
from benchmarks.moving_camera import moving_camera
from benchmarks.pipeline import pipeline
from benchmarks.serve import serve
from edge import corruptions, metrics, runtime
from edge.atomic import writable_folder, write_text
from edge.console import add_command, command_app, user_errors, version_option
from edge.errors import UserError
from edge.folders import any_images, class_folder, held_out, read_xy
from edge.formats import FORMATS, endings, exports_in
from edge.metrics import percent
from edge.postprocess import class_indices
from edge.preprocess import normalize, prepare, read_image
from edge.latency import device_call, device_input, millis
from edge.progress import progress
from edge.tables import aligned, markdown

app = command_app(__doc__, invoke_without_command=True)

COLUMNS = ["model", "format", "runtime", "threads", "median_ms", "p90_ms", "p99_ms", "min_ms", "images_per_s", "size_mb",
           "load_ms", "rss_mb", "accuracy", "agreement", "mse", "max_abs_diff", "preprocess_ms", "status"]
TERMINAL = {"model": "model", "threads": "threads", "median_ms": "median ms", "p99_ms": "p99 ms", "size_mb": "MB",
            "accuracy": "accuracy", "agreement": "agreement", "mse": "MSE", "overhead_vs_direct": "vs bare",
            "status": "status"}  # the terminal's table, within 100 columns; the files have every column
PERCENT = ("accuracy", "agreement")  # fractions in the JSON and CSV, percent where people read them
ROUNDS = 5


@dataclass
class Subject:
    """One row of the table: something to time on preprocessed inputs."""

    row: dict
    call: Callable[[np.ndarray], object]
    inputs: list[np.ndarray]
    runner: object = None  # for accuracy; None for direct-interpreter rows
    times: list[float] = field(default_factory=list)


def _thread_counts(values: list[str]) -> list[int]:
    """--threads as given, once or repeated (`--threads 1 --threads 2`; the older `1,2` still reads)."""
    try:
        counts = sorted({int(t) for text in values for t in text.split(",") if t.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        raise UserError(f"--threads {','.join(values)!r}: give a thread count, repeated for more: --threads 1 --threads 2")
    return counts


def _corruption(text: Optional[str]) -> Optional[Callable[[np.ndarray, int], np.ndarray]]:
    """--corrupt FAMILY:SEVERITY as (BGR photo, its index) -> the photo so corrupted, seeded by the index."""
    if text is None:
        return None
    family, _, severity = text.partition(":")
    if family not in corruptions.CORRUPTIONS or severity not in [str(s) for s in range(1, corruptions.MAX_SEVERITY + 1)]:
        raise UserError(f"--corrupt {text!r}: give FAMILY:SEVERITY, a family of {', '.join(corruptions.CORRUPTIONS)} and a "
                        f"severity 1-{corruptions.MAX_SEVERITY}, e.g. --corrupt motion_blur:3")
    return lambda photo, index: corruptions.corrupt(photo, family, int(severity), index)


def _timing_images(data: Optional[Path], images: Optional[Path], limit: int, corruption=None) -> list[np.ndarray]:
    """Real inputs to time on: BGR images (under CORRUPTION when given), or raw examples (H, W, C) when --data is an
    .npz."""
    source = images or data
    if source is None:
        raise UserError("give --data DIR (class folders: timing and accuracy) or --images DIR (timing only)")
    if source.suffix == ".npz":
        if corruption is not None:
            raise UserError(f"--corrupt: camera corruptions apply to photos; {source} holds arrays, give class folders")
        x = read_xy(source)[0]
        return list(x[:: max(1, len(x) // limit)][:limit])
    paths = any_images(source)
    step = max(1, len(paths) // limit)
    photos = [read_image(p) for p in paths[::step][:limit]]
    return [corruption(photo, index) for index, photo in enumerate(photos)] if corruption else photos


def _float_reference(name: str | None) -> bool:
    """Whether rows of format NAME are what agreement is measured against: the .keras model, or a float export."""
    return name == "keras" or (name in FORMATS and FORMATS[name].reference)


def model_files(paths: list[Path]) -> list[Path]:
    """--model values with folders expanded into their exports (.keras first, then the format table's order);
    UserError for a path that does not exist."""
    order = [".keras"] + [f.suffix for f in FORMATS.values()]
    files = []
    for path in paths:
        if not path.exists():
            raise UserError(f"--model {path}: no such file or folder; check the path")
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(path.glob("*.keras")) + exports_in(path)
        if not found:
            raise UserError(f"--model {path}: folder holds no .keras file and no export ({endings()})")
        rank = lambda p: max((i for i, suffix in enumerate(order) if p.name.endswith(suffix)), default=0)  # noqa: E731
        files += sorted(found, key=lambda p: (p.name.split(".")[0], rank(p)))
    return files


def _open(path: Path, threads: int):
    if path.suffix == ".keras":
        from benchmarks.keras_runner import KerasRunner

        if not path.is_file():
            raise UserError(f"{path}: no such model file; check the --model path")
        return KerasRunner(path, threads)
    return runtime.load(path, threads)


def _load(path: Path, threads: int, frames: list[np.ndarray], warmup: int, direct: bool) -> list[Subject]:
    """The runner for PATH (and its direct-interpreter twin), loaded, fed and warmed up."""
    rss_before, started = rss_mb(), time.perf_counter()
    runner = _open(path, threads)
    load_ms = (time.perf_counter() - started) * 1000
    costs, inputs, call = [], [], device_call(runner)
    for frame in frames:
        t0 = time.perf_counter()
        inputs.append(device_input(frame, runner.spec))
        costs.append((time.perf_counter() - t0) * 1000)
    for i in range(warmup):
        call(inputs[i % len(inputs)])
    rss_after = rss_mb()
    row = {"model": path.name, "format": runner.format.name, "runtime": runner.runtime, "threads": threads,
           "size_mb": round(path.stat().st_size / 1e6, 3), "load_ms": round(load_ms, 1),
           "rss_mb": round(rss_after - rss_before, 1) if rss_after is not None else None,
           "preprocess_ms": round(float(np.median(costs)), 3), "status": "ok"}
    if getattr(runner, "threads", threads) != threads:  # TensorFlow fixes its thread pool once per process
        row["status"] = f"ok (TensorFlow kept {runner.threads} threads)"
    subjects = [Subject(row, call, inputs, runner)]
    if direct and hasattr(runner, "bare"):
        subjects.append(_direct_subject(runner, [runner.input_from_pixels(x) if x.dtype == np.uint8 else x
                                                 for x in inputs], warmup, row))
    return subjects


def _direct_subject(runner, inputs: list[np.ndarray], warmup: int, row: dict) -> Subject:
    """RUNNER's stock interpreter invoked by hand on tensors already in its input type: the floor our runner is
    measured against (INPUTS: the runner's input tensors, or float inputs to quantise once here)."""
    name, call, source = runner.bare()
    if source["dtype"] in (np.int8, np.uint8):
        inputs = [x if x.dtype == source["dtype"] else runtime.quantize_array(x, *source["quantization"], source["dtype"])
                  for x in inputs]
    for i in range(warmup):
        call(inputs[i % len(inputs)])
    direct_row = {k: row[k] for k in ("model", "format", "threads", "size_mb")}
    direct_row.update(runtime=name, status="ok")
    return Subject(direct_row, call, inputs)


def _time(subjects: list[Subject], runs: int, seconds: Optional[float]) -> bool:
    """Interleaved timing rounds; False when Ctrl-C or the --seconds budget cut them short."""
    per_round, started = max(1, runs // ROUNDS), time.perf_counter()
    try:
        for _ in progress(range(ROUNDS), ROUNDS, f"timing {len(subjects)} model x thread rows", "rounds"):
            for subject in subjects:
                for i in range(per_round):
                    x = subject.inputs[(len(subject.times) + i) % len(subject.inputs)]
                    subject.times.append(millis(subject.call, x))
            if seconds is not None and time.perf_counter() - started > seconds:
                return False
    except KeyboardInterrupt:
        typer.echo("interrupted: writing what finished", err=True)
        return False
    return True


def _summarise(subject: Subject) -> None:
    times = subject.times
    if not times:
        subject.row["status"] = "not timed"
        return
    median = float(np.median(times))
    subject.row.update(median_ms=round(median, 3), p90_ms=round(float(np.percentile(times, 90)), 3),
                       p99_ms=round(float(np.percentile(times, 99)), 3), min_ms=round(min(times), 3),
                       images_per_s=round(1000 / median, 1), runs=len(times))


def _predictions(runner, data: Path, corruption=None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class indices or values, targets) over every example of DATA, photos under CORRUPTION when given."""
    if data.suffix == ".npz":
        x, y = read_xy(data)
        if x.shape[1:] != runner.spec.input_shape:
            raise UserError(f"--data {data}: examples are {x.shape[1:]}, the model takes {runner.spec.input_shape}")
        scores = np.concatenate([runner.predict(normalize(x[i:i + 1], runner.spec)) for i in range(len(x))])
        if runner.spec.task == "regression":
            return scores.reshape(-1), y.astype(np.float32)
        return class_indices(scores, runner.spec), y.astype(np.int64)
    if runner.spec.task == "regression":
        raise UserError(f"--data {data}: a regression model needs an .npz with arrays x and y")
    folder = class_folder(data)
    if folder.classes != list(runner.spec.labels):
        raise UserError(f"--data {data}: classes {folder.classes} differ from the model's labels {list(runner.spec.labels)}")
    corruption = corruption or (lambda photo, index: photo)
    predicted = [class_indices(runner.predict(prepare(corruption(read_image(p), i), runner.spec)[None]), runner.spec)[0]
                 for i, p in enumerate(folder.files)]
    return np.asarray(predicted), np.asarray(folder.targets)


def _accuracy_and_agreement(subjects: list[Subject], data: Path, reference: Optional[Path], corruption=None) -> None:
    """Accuracy per model (one row per model carries it) and top-1 agreement with the float reference."""
    predictions = {}
    for subject in subjects:
        if subject.runner is None or subject.row["model"] in predictions:
            continue
        try:
            predictions[subject.row["model"]] = _predictions(subject.runner, data, corruption)
        except UserError as exc:
            subject.row["status"] = f"no accuracy: {exc}"
            continue
        predicted, targets = predictions[subject.row["model"]]
        if subject.runner.spec.task == "regression":
            subject.row["mse"] = round(metrics.mse(predicted, targets), 4)
        else:
            subject.row["accuracy"] = round(metrics.accuracy(predicted, targets), 4)
    names = [reference.name] if reference else [s.row["model"] for s in subjects if _float_reference(s.row.get("format"))]
    reference_name = next((n for n in names if n in predictions), None)
    for subject in subjects:
        if "accuracy" in subject.row and reference_name:
            subject.row["agreement"] = round(metrics.agreement(predictions[subject.row["model"]][0],
                                                               predictions[reference_name][0]), 4)
            subject.row["reference"] = reference_name
        elif "mse" in subject.row and reference_name:
            difference = predictions[subject.row["model"]][0] - predictions[reference_name][0]
            subject.row["max_abs_diff"] = round(float(np.abs(difference).max()), 4)
            subject.row["reference"] = reference_name


def run(models: list[Path], threads: list[int], frames: list[np.ndarray], runs: int, warmup: int, data: Optional[Path],
        direct: bool = False, seconds: Optional[float] = None, reference: Optional[Path] = None,
        corruption=None) -> tuple[list[dict], bool]:
    """(rows, complete): every model at every thread count; a model that fails to load gets a row with its error."""
    subjects, error_rows = [], []
    for path in models:
        for count in threads:
            try:
                subjects += _load(path, count, frames, warmup, direct)
            except UserError as exc:
                error_rows.append({"model": path.name, "threads": count, "status": f"error: {exc}",
                                   "size_mb": round(path.stat().st_size / 1e6, 3) if path.is_file() else None})
    complete = _time(subjects, runs, seconds)
    for subject in subjects:
        _summarise(subject)
    if data is not None and complete:
        top = max(threads)
        _accuracy_and_agreement([s for s in subjects if s.row["threads"] == top], data, reference, corruption)
    ours = {(s.row["model"], s.row["threads"]): s.row for s in subjects if s.runner is not None}
    for subject in subjects:
        if subject.runner is None and "median_ms" in subject.row:
            mine = ours[(subject.row["model"], subject.row["threads"])]
            mine["overhead_vs_direct"] = round(mine["median_ms"] / subject.row["median_ms"], 3)
    order = {path.name: i for i, path in enumerate(models)}
    rows = sorted([s.row for s in subjects] + error_rows, key=lambda r: (order[r["model"]], r["threads"]))
    return rows, complete


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _for_people(row: dict) -> dict:
    return row | {key: percent(row[key]) for key in PERCENT if row.get(key) is not None}


def _header(result: dict) -> str:
    """The machine and the method, above every table."""
    machine = result["machine"]
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, flags {' '.join(machine['cpu_flags']) or 'n/a'}, "
            f"Python {machine['python']}, {', '.join(f'{k} {v}' for k, v in machine['packages'].items())}. "
            f"{result['runs']} timed runs per row after {result['warmup']} warm-up, on {result['timing_images']} real "
            f"images{' under ' + result['corruption'] if result.get('corruption') else ''}; {result['date']}.")


def terminal_table(rows: list[dict]) -> str:
    """The table within 100 columns: bare-interpreter rows marked, `status` only where a row is not ok."""
    shown = [_for_people(row) | {"model": row["model"] + (" (bare)" if row.get("runtime", "").endswith("direct") else ""),
                                 "status": "" if row["status"] == "ok" else row["status"].split(":")[0]}
             for row in rows]
    return aligned(shown, TERMINAL)


def write_results(out: Path, result: dict) -> list[Path]:
    """OUT.json, OUT.csv, OUT.md (machine header and the whole table) and OUT.png; returns the files written."""
    rows = result["rows"]
    writable_folder(out.parent, "--out")
    columns = [c for c in COLUMNS + ["overhead_vs_direct"] if any(c in row for row in rows)]  # none left blank throughout
    results.write_results(out, result, f"\n\n{markdown([_for_people(r) for r in rows], columns)}\n", _header(result))
    write_text(out.with_suffix(".csv"), _csv(rows))
    written = [out.with_suffix(s) for s in (".json", ".csv", ".md")]
    if chart.write(out.with_suffix(".png"), rows):
        written.append(out.with_suffix(".png"))
    return written


@app.callback()
def bench(
    ctx: typer.Context,
    model: Optional[List[Path]] = typer.Option(None, "--model", "-m", help="A .tflite, .onnx or .keras file (.keras needs "
                                               "TensorFlow), or a folder of them; repeat for more."),
    data: Optional[Path] = typer.Option(None, help="Class folders (or an .npz with x and y): real inputs for timing, and "
                                        "accuracy (MSE for regression) per model."),
    images: Optional[Path] = typer.Option(None, help="Images for timing when there is no --data."),
    threads: List[str] = typer.Option(["1", "2"], metavar="N", help="Inference threads, as in the other commands; "
                                      "repeat to time each count (--threads 1 --threads 4)."),
    runs: int = typer.Option(200, min=ROUNDS, help="Timed single-image runs per model and thread count."),
    warmup: int = typer.Option(20, min=0, help="Untimed runs first."),
    seconds: Optional[float] = typer.Option(None, min=0, help="Stop timing after the round that passes this many "
                                            "seconds [default: no limit]."),
    direct: bool = typer.Option(False, help="Also time the bare LiteRT interpreter on each .tflite (overhead ratio)."),
    reference: Optional[Path] = typer.Option(None, help="The float model agreement is measured against [default: the first fp32 export given]."),
    corrupt: Optional[str] = typer.Option(None, metavar="FAMILY:SEVERITY", help="Corrupt every photo first, as a camera "
                                          "would (edge/corruptions.py; e.g. motion_blur:3): accuracy under it."),
    out: Optional[Path] = typer.Option(None, help="Also write OUT.json, OUT.csv, OUT.md (every column) and OUT.png "
                                       "[default: the terminal's table only, no file].", metavar="OUT"),
    version: bool = version_option(),
):
    """Time every model at every thread count on the same images and print one table (without a command)."""
    if ctx.invoked_subcommand:
        return
    if not model:
        raise typer.BadParameter("give at least one model file or folder", param_hint="'--model' / '-m'")
    with user_errors():
        counts = _thread_counts(threads)
        files = model_files(model)  # a mistyped model path is refused before anything else
        corruption = _corruption(corrupt)
        data = held_out(data, "--data") if data is not None else None
        frames = _timing_images(data, images, limit=50, corruption=corruption)
        if out is not None:
            writable_folder(out.parent, "--out")  # before the timing, not after it
        rows, complete = run(files, counts, frames, runs, warmup, data, direct, seconds, reference, corruption)
        result = results.stamped({"runs": runs, "warmup": warmup, "timing_images": len(frames),
                                  "data": str(data) if data else None, "corruption": corrupt, "complete": complete,
                                  "peak_rss_mb": rss_mb("VmHWM"), "rows": rows})
        typer.echo(terminal_table(rows))
        for row in rows:
            if row["status"] != "ok" and not row["status"].startswith("ok "):
                typer.echo(f"{row['model']} ({row['threads']} threads): {row['status']}", err=True)
        typer.echo(f"\n{_header(result)}")
        if out is not None:
            typer.echo(f"wrote {', '.join(map(str, write_results(out, result)))}")
        if not any(r["status"] == "ok" for r in rows):
            raise typer.Exit(1)


add_command(app, compare)
add_command(app, pipeline)
add_command(app, serve)
add_command(app, moving_camera, "moving-camera")


def main():
    app()
