"""The robustness table: each run's int8 TFLite export under camera corruptions (from RUN/models/parity.json,
measured through LiteRT), beside its float model and its full-test accuracy, and the goals of docs/guides/camera-robustness.md. Reads
RUN/metrics.json and RUN/models/parity.json of each run folder given.

    python studies/robustness_table.py runs/robustness/*/ --out benchmarks/results/robustness_recipes
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from benchmarks.results import write_results
from convert.parity import read_report
from edge.metrics import percent, points
from edge.tables import markdown

GOAL_MEAN, GOAL_WORST = 0.02, 0.06  # below clean at the middle severity: the mean, and every family (2 and 6 points)
SHOWN = {"float_test": percent, "int8_test": percent, "int8_clean": percent, "int8_s3_mean": percent,
         "s3_mean_drop": points, "int8_s5_mean": percent, "float_s3_mean": percent, "int8_extra_loss": points}
GOAL_RECIPES = ("muffins", "cats-dogs", "butterflies")  # the transfer recipes the goals are set for


def _variant(settings: dict) -> str:
    passes = settings.get("augment_passes", 0)
    return f"{settings.get('augment', 'none')}, {passes} augmented pass{'es' if passes != 1 else ''}"


def summarise(run: Path) -> tuple[dict, dict]:
    """(the table's row, the family figures at the middle severity) of one run folder."""
    metrics = json.loads((run / "metrics.json").read_text())
    parity = read_report(json.loads((run / "models" / "parity.json").read_text()))
    rows = {row["format"]: row for row in parity["rows"]}
    reference, int8 = rows["keras (float)"]["robustness"], rows["tflite_int8"]["robustness"]
    middle = int8["middle"]
    row = {"run": run.name, "recipe": metrics["recipe"], "training": _variant(metrics["settings"]),
           "float_test": metrics["test"]["accuracy"], "int8_test": rows["tflite_int8"]["accuracy"],
           "images": int8["images"], "int8_clean": int8["clean"], "int8_s3_mean": middle["mean"],
           "s3_mean_drop": middle["mean_drop"], "worst_s3": f"{middle['worst_family']} -{points(middle['worst_drop'])}",
           "int8_s5_mean": int8["mean"][-1], "float_s3_mean": reference["middle"]["mean"],
           "int8_extra_loss": rows["tflite_int8"]["corrupted_extra_loss"],
           "goals": ("met" if middle["mean_drop"] <= GOAL_MEAN and middle["worst_drop"] <= GOAL_WORST else "not met")
           if metrics["recipe"] in GOAL_RECIPES else "figures only"}
    index = int8["severities"].index(middle["severity"])
    return row, {"run": run.name, **{family: values[index] for family, values in int8["accuracy"].items()}}


def main(runs: List[Path] = typer.Argument(..., help="Run folders with metrics.json and models/parity.json."),
         out: Path = typer.Option(Path("benchmarks/results/robustness_recipes"), help="Writes OUT.json and OUT.md.")):
    found = [run for run in runs if (run / "models" / "parity.json").is_file()]
    pairs = [summarise(run) for run in found]
    rows, families = [p[0] for p in pairs], [p[1] for p in pairs]
    columns = list(dict.fromkeys(key for row in families for key in row))
    text = ("Each run's int8 TFLite export through LiteRT on a fixed sample of its test split (`images`, the same "
            "share per class, seed 0), clean and under every camera corruption at severities 1, 3, 5 "
            "(edge/corruptions.py); `float_test` and `int8_test` on the whole test split. Goals at severity 3: the "
            f"mean within {points(GOAL_MEAN)} points of clean, no family more than {points(GOAL_WORST)} below. "
            "`int8_extra_loss`: points the export loses under corruption beyond what the float model loses.\n\n"
            + markdown([row | {k: shown(row[k]) for k, shown in SHOWN.items()} for row in rows], list(rows[0]))
            + "\n\nAccuracy of each int8 export per family at severity 3:\n\n"
            + markdown([{k: percent(v) if k != "run" else v for k, v in row.items()} for row in families], columns) + "\n")
    typer.echo(write_results(out, {"rows": rows, "severity_3": families}, text))


if __name__ == "__main__":
    typer.run(main)
