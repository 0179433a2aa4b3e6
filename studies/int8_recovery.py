"""The "When int8 fails" table (docs/guides/int8-failures.md): float, all-int8 and recovered figures of the model built to fail (generated
here, as tests/test_int8_recovery.py builds it) and of any real model pushed to fail, from `convert quantize
--recover`'s parity.json.

    convert quantize runs/muffins/muffins.keras --data ../shared/data/muffin-chihuahua/test --calib-count 8 \\
        --min-agreement 100 --formats tflite_int8,onnx_int8 --recover --out runs/muffins/recover
    python studies/int8_recovery.py runs/muffins/recover/parity.json --out benchmarks/results/int8_recovery
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import List

import typer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results import write_results  # noqa: E402
from convert.export import Int8Failures, quantize  # noqa: E402
from convert.parity import Thresholds, read_report  # noqa: E402
from edge.tables import markdown  # noqa: E402
from tests import generated  # noqa: E402


def rows_of(report: dict, model: str) -> list[dict]:
    """Float, all-int8 and recovered rows of each recovered export in a parity report."""
    rows = [{"model": model, "export": "float (Keras)", "accuracy": report["rows"][0]["accuracy"]}]
    for row in report["rows"][1:]:
        recovery = row.get("recovery")
        if not recovery or not recovery.get("passed"):
            rows.append({"model": model, "export": f"{row['format']} (passed untouched)" if not row["failures"]
                         else f"{row['format']} (not recovered)", "accuracy": row["accuracy"],
                         "agreement": row["agreement"], "size_mb": round(row["size_mb"], 3)})
            continue
        before, latency = recovery["all_int8"], recovery["all_int8"]["latency_ms"]
        rows.append({"model": model, "export": f"{row['format']} all-int8", "accuracy": before["accuracy"],
                     "agreement": before["agreement"], "size_mb": round(before["size_mb"], 3),
                     "latency_ms_1": latency["1"], "latency_ms_2": latency["2"]})
        rows.append({"model": model, "export": f"{row['format']} recovered", "accuracy": row["accuracy"],
                     "agreement": row["agreement"], "size_mb": round(row["size_mb"], 3),
                     "latency_ms_1": recovery["latency_ms"]["1"], "latency_ms_2": recovery["latency_ms"]["2"],
                     "float_layers": ", ".join(recovery["float_layers"]),
                     "float_ops": f"{recovery['float_ops']} of {recovery['total_ops']}"})
    return rows


def main(reports: List[Path] = typer.Argument(None, help="parity.json files of real models run with --recover."),
         out: Path = typer.Option(Path("benchmarks/results/int8_recovery"))):
    with tempfile.TemporaryDirectory() as work:
        root, _, planted = generated.outlier_cnn(Path(work))
        (Path(work) / "models").mkdir()
        report = quantize(planted, root / "test", Path(work) / "models", ["tflite_int8", "onnx_int8"], Thresholds(),
                          calib=root / "train", failures=Int8Failures(recover=True))
    rows = rows_of(report, "planted CNN (generated shapes, 90 test images)")
    for path in reports or []:
        report = read_report(json.loads(path.read_text()))
        rows += rows_of(report, f"{Path(report['model']).name} ({report['images']} test images, "
                                f"{report['calibration_images']} calibration)")
    columns = ["model", "export", "accuracy", "agreement", "size_mb", "latency_ms_1", "latency_ms_2", "float_layers",
               "float_ops"]
    text = ("`convert quantize --recover`: each failing int8 export beside the one that keeps the fewest activations "
            "in float and passes the gate; latency: median ms per image, 1 and 2 threads.\n\n"
            + markdown(rows, columns, percent=("accuracy", "agreement")) + "\n")
    print(write_results(out, {"rows": rows}, text))


if __name__ == "__main__":
    typer.run(main)
