"""One table of every recipe run: float and int8 results beside the reference figure, and training time on this
machine. Reads RUN/metrics.json and RUN/models/parity.json of each run folder given.

    python studies/training_summary.py runs/fashion_edge runs/butterflies ... --out benchmarks/results/training
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import typer

from convert.parity import read_report
from benchmarks.results import write_results
from edge.metrics import percent
from edge.tables import markdown

REFERENCES = {  # (recipe, model or backbone): the reference project's figure
    ("muffins", "base_cnn"): "82.5%", ("muffins", "mobilenet_v2"): "98.0% (VGG16)",
    ("cats-dogs", "cats_dogs_cnn"): "80.3% (8,000 training images)", ("cats-dogs", "cats_dogs_bn_cnn"): "80.3%",
    ("cats-dogs", "mobilenet_v2"): "target 98.5%",
    ("butterflies", "mobilenet_v2"): "target 98% (ResNet-50 reference)",
    ("fashion", "reference_2conv"): "2-conv CNN (target 91%)", ("fashion", "reference_3conv"): "89.5%",
    ("fashion", "edge"): "target 94.0% int8 in 150 KB",
    ("emojis", "two_conv_cnn"): "98.9% (5-fold)", ("navigability", "regression_cnn"): "MSE 0.337 (5-fold)",
}


def _figure(row: dict | None, regression: bool) -> float | None:
    """The export's MSE or accuracy (a fraction)."""
    if not row:
        return None
    return row["mse"] if regression else row["accuracy"]


def _shown(row: dict) -> dict:
    """ROW as the table shows it: accuracies in percent, MSE to 4 places."""
    regression = row["regression"]
    return row | {key: (f"MSE {row[key]:.4f}" if regression else percent(row[key])) if row[key] is not None else ""
                  for key in ("float", "train", "tflite_int8", "onnx_int8")}


def summarise(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    parity_path = run / "models" / "parity.json"
    parity = read_report(json.loads(parity_path.read_text())) if parity_path.is_file() else {"rows": []}
    rows = {row["format"]: row for row in parity["rows"]}
    settings = metrics["settings"]
    model = settings.get("model") or settings["architecture"]  # run folders of 0.1.0 call it architecture
    model = settings["backbone"] if model == "transfer" else model
    test, regression = metrics["test"], "mse" in metrics["test"]
    seconds, phases = metrics.get("epoch_seconds") or [], metrics.get("phases") or {"training": len(metrics.get("epoch_seconds") or [])}
    spans, start = [], 0
    for name, count in phases.items():
        spans.append(f"{count} {name} x {float(np.median(seconds[start:start + count])):.1f} s")
        start += count
    int8 = rows.get("tflite_int8")
    return {
        "recipe": metrics["recipe"], "model": model, "reference": REFERENCES.get((metrics["recipe"], model), ""),
        "regression": regression, "float": test["mse"] if regression else test["accuracy"],
        "cv": f"{metrics['folds']['mean']} ± {metrics['folds']['std']}" if metrics.get("folds") else "",
        "train": metrics["train"]["mse"] if regression else metrics["train"]["accuracy"],
        "tflite_int8": _figure(int8, regression), "onnx_int8": _figure(rows.get("onnx_int8"), regression),
        "int8_kb": round(int8["size_mb"] * 1000, 1) if int8 else None,
        "parameters": metrics.get("parameters"), "epochs": ", ".join(spans),
        "minutes": round(metrics["seconds"] / 60, 1), "examples": test.get("images") or test.get("examples"),
    }


def main(runs: List[Path] = typer.Argument(..., help="Run folders written by `train` (converted into RUN/models)."),
         out: Path = typer.Option(Path("benchmarks/results/training"), help="Writes OUT.json and OUT.md.")):
    rows = [summarise(run) for run in runs]
    columns = ["recipe", "model", "reference", "float", "tflite_int8", "onnx_int8", "cv", "train", "examples", "int8_kb",
               "parameters", "epochs", "minutes"]
    table = markdown([_shown(row) for row in rows], columns)
    write_results(out, {"rows": rows}, "Test figures of each recipe on this machine (2 cores); epochs as count x median "
                  f"seconds per epoch.\n\n{table}\n")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
