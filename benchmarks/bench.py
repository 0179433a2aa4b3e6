"""`edge-bench`: latency, throughput, size and accuracy of .tflite/.onnx models side by side, on real images.

Each model and thread count gets a warm-up, then its timed single-image runs are spread over interleaved rounds
(A B A B ...) so that machine drift hits every model alike. Needs only the `edge` extra.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from benchmarks.machine import describe
from edge import runtime
from edge.atomic import write_text
from edge.console import user_errors
from edge.errors import UserError
from edge.folders import class_folder, image_paths, is_class_folder
from edge.postprocess import class_indices
from edge.preprocess import prepare, read_image
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)

COLUMNS = ["model", "format", "threads", "median_ms", "p90_ms", "p99_ms", "min_ms", "images_per_s", "size_mb",
           "accuracy", "preprocess_ms", "status"]
ROUNDS = 5


def _thread_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        raise UserError(f"--threads {text!r}: give thread counts like 1,2,4")
    return counts


def _timing_images(data: Optional[Path], images: Optional[Path], limit: int) -> list[np.ndarray]:
    source = images or data
    if source is None:
        raise UserError("give --data DIR (class folders: timing and accuracy) or --images DIR (timing only)")
    paths = class_folder(source).files if is_class_folder(source) else image_paths(source)
    step = max(1, len(paths) // limit)
    return [read_image(p) for p in paths[::step][:limit]]


def _accuracy(runner, data: Path) -> float:
    folder = class_folder(data)
    if folder.classes != list(runner.spec.labels):
        raise UserError(f"--data {data}: classes {folder.classes} differ from the model's labels {list(runner.spec.labels)}")
    predicted = [class_indices(runner.predict(prepare(read_image(p), runner.spec)[None]), runner.spec)[0] for p in folder.files]
    return round(float(np.mean(np.asarray(predicted) == np.asarray(folder.targets))), 4)


def _open(path: Path, threads: int, frames: list[np.ndarray]):
    """(runner, preprocessed inputs, median preprocessing ms); UserError when the model cannot be loaded."""
    runner = runtime.load(path, threads)
    costs, inputs = [], []
    for frame in frames:
        t0 = time.perf_counter()
        inputs.append(prepare(frame, runner.spec)[None])
        costs.append((time.perf_counter() - t0) * 1000)
    return runner, inputs, float(np.median(costs))


def run(models: list[Path], threads: list[int], frames: list[np.ndarray], runs: int, warmup: int,
        data: Optional[Path]) -> list[dict]:
    rows, live = [], []
    for path in models:
        for count in threads:
            row = {"model": path.name, "threads": count, "size_mb": round(path.stat().st_size / 1e6, 3) if path.is_file() else None}
            try:
                runner, inputs, preprocess_ms = _open(path, count, frames)
                row.update(format=runner.format.name, runtime=runner.runtime, preprocess_ms=round(preprocess_ms, 3), status="ok")
                for i in range(warmup):
                    runner.predict(inputs[i % len(inputs)])
                live.append((row, runner, inputs, []))
            except UserError as exc:
                row.update(status=f"error: {exc}")
            rows.append(row)
    per_round = max(1, runs // ROUNDS)
    for _ in range(ROUNDS):
        for row, runner, inputs, times in live:
            for i in range(per_round):
                x = inputs[(len(times) + i) % len(inputs)]
                t0 = time.perf_counter()
                runner.predict(x)
                times.append((time.perf_counter() - t0) * 1000)
    for row, runner, inputs, times in live:
        median = float(np.median(times))
        row.update(median_ms=round(median, 3), p90_ms=round(float(np.percentile(times, 90)), 3),
                   p99_ms=round(float(np.percentile(times, 99)), 3), min_ms=round(min(times), 3),
                   images_per_s=round(1000 / median, 1), runs=len(times))
        if data is not None and row["threads"] == max(threads):
            try:
                row["accuracy"] = _accuracy(runner, data)
            except UserError as exc:
                row["status"] = f"no accuracy: {exc}"
    return rows


@app.command()
def bench(
    model: List[Path] = typer.Option(..., "--model", "-m", help="A .tflite or .onnx file; repeat for each model."),
    data: Optional[Path] = typer.Option(None, help="Class folders: real images for timing, and accuracy per model."),
    images: Optional[Path] = typer.Option(None, help="Images for timing when there is no --data."),
    threads: str = typer.Option("1,2", help="Comma-separated thread counts."),
    runs: int = typer.Option(200, min=ROUNDS, help="Timed single-image runs per model and thread count."),
    warmup: int = typer.Option(20, min=0, help="Untimed runs first."),
    out: Path = typer.Option(Path("benchmarks/results/bench"), help="Writes OUT.json and OUT.md."),
):
    """Time every model at every thread count on the same images and write one table."""
    with user_errors():
        counts = _thread_counts(threads)
        frames = _timing_images(data, images, limit=50)
        rows = run(model, counts, frames, runs, warmup, data)
        result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe(),
                  "runs": runs, "warmup": warmup, "timing_images": len(frames), "data": str(data) if data else None,
                  "rows": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(out.with_suffix(".json"), json.dumps(result, indent=2))
        machine = result["machine"]
        table = markdown(rows, COLUMNS)
        header = (f"Machine: {machine['cpu']}, {machine['cores']} cores, flags {' '.join(machine['cpu_flags']) or 'n/a'}, "
                  f"Python {machine['python']}, {', '.join(f'{k} {v}' for k, v in machine['packages'].items())}. "
                  f"{runs} timed runs per row after {warmup} warm-up, on {len(frames)} real images; {result['date']}.")
        write_text(out.with_suffix(".md"), f"{header}\n\n{table}\n")
        typer.echo(table)
        typer.echo(f"\n{header}\nwrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
        if not any(r["status"] == "ok" for r in rows):
            raise typer.Exit(1)


def main():
    app()
