"""Start-up cost of every command, measured as whole processes side by side (TensorFlow-free).

- `edge-classify --model M --images PHOTO` against benchmarks/bare_classify.py (LiteRT + OpenCV, 15 lines) on the
  same photo: interleaved runs, medians and their ratio (goal: at most 1.3).
- `--help`, `--version` and a usage error of train, convert, edge-classify and edge-bench (goal: under 1 s each).

    python -m benchmarks.startup --model models/muffins.tflite --photo PHOTO --out benchmarks/results/startup
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import typer

from benchmarks.results import write_results
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
BIN = Path(sys.executable).parent
QUICK = [  # (what, command line) that must answer in under a second
    *[(f"{c} --help", [c, "--help"]) for c in ("train", "convert", "edge-classify", "edge-bench")],
    ("train muffins --help", ["train", "muffins", "--help"]),
    ("convert quantize --help", ["convert", "quantize", "--help"]),
    *[(f"{c} --version", [c, "--version"]) for c in ("train", "convert", "edge-classify", "edge-bench")],
    ("train muffins (no --data)", ["train", "muffins"]),
    ("convert quantize (no model)", ["convert", "quantize"]),
    ("edge-classify (no --model)", ["edge-classify"]),
]


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _entry(command: list[str]) -> list[str]:
    """A console script from this environment, or a script path run by this Python."""
    return [sys.executable, *command] if command[0].endswith(".py") else [str(BIN / command[0]), *command[1:]]


@app.command()
def startup(
    model: Path = typer.Option(..., help="An int8-I/O .tflite file (convert's default export)."),
    photo: Path = typer.Option(..., help="One photo to classify."),
    runs: int = typer.Option(7, min=1, help="Interleaved runs of each process."),
    out: Path = typer.Option(Path("benchmarks/results/startup"), help="Writes OUT.json and OUT.md."),
):
    """Time whole processes: edge-classify against the bare LiteRT script, then help/version/usage errors."""
    ours = ["edge-classify", "--model", str(model), "--images", str(photo), "--threads", "1"]
    bare = [str(Path(__file__).with_name("bare_classify.py")), str(model), str(photo)]
    times = {"edge-classify": [], "bare LiteRT script": []}
    for _ in range(runs):  # A B A B: drift on a shared machine hits both alike
        times["edge-classify"].append(_seconds(_entry(ours)))
        times["bare LiteRT script"].append(_seconds(_entry(bare)))
    medians = {name: float(np.median(values)) for name, values in times.items()}
    ratio = medians["edge-classify"] / medians["bare LiteRT script"]
    rows = [{"process": name, "median_s": round(m, 3), "min_s": round(min(times[name]), 3)} for name, m in medians.items()]
    quick = [{"command": what, "median_s": round(float(np.median([_seconds(_entry(cmd)) for _ in range(3)])), 3)}
             for what, cmd in QUICK]
    text = (f"Whole processes, median of {runs} interleaved runs.\n\n"
            f"{markdown(rows, ['process', 'median_s', 'min_s'])}\n\nedge-classify / bare script: **{ratio:.2f}**\n\n"
            f"Help, version and usage errors (median of 3):\n\n{markdown(quick, ['command', 'median_s'])}\n")
    typer.echo(write_results(out, {"runs": runs, "model": str(model), "photo": str(photo), "classify": rows,
                                   "ratio": round(ratio, 3), "quick": quick}, text))


if __name__ == "__main__":
    app()
