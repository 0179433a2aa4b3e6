"""int8 accuracy against calibration set size and method, for int8 TFLite and int8 ONNX (needs the `train` extra).

    python studies/calibration_study.py MODEL.keras --data TEST_DIR --calib TRAIN_DIR --out benchmarks/results/calibration_muffins
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import typer

from benchmarks.results import write_results
from convert import examples, onnx_export, tflite_export
from convert.parity import Thresholds, compare
from edge import runtime
from edge.metrics import points
from edge.tables import markdown
from keras_io import archive

app = typer.Typer(add_completion=False, help=__doc__)

VARIANTS = {  # name -> function(model, spec, calibration, path, work); ONNX with the default (u8 x u8) scheme
    "tflite_int8": tflite_export.export_int8,
    "onnx_int8 minmax": lambda m, s, c, p, w: onnx_export.quantize_static(m, s, c, p, w, method="minmax", weight_type="QUInt8"),
    "onnx_int8 percentile": lambda m, s, c, p, w: onnx_export.quantize_static(m, s, c, p, w, weight_type="QUInt8"),
}
SUFFIX = {"tflite_int8": ".tflite"}


@app.command()
def study(
    model_path: Path = typer.Argument(..., metavar="MODEL.keras"),
    data: Path = typer.Option(..., help="Held-out class folders."),
    calib: Path = typer.Option(..., help="Training class folders to draw calibration images from."),
    sizes: str = typer.Option("16,64,256,1024", help="Calibration set sizes."),
    out: Path = typer.Option(Path("benchmarks/results/calibration"), help="Writes OUT.json and OUT.md."),
):
    model, spec = archive.load(model_path)
    test = examples.load(data, spec)
    float_scores = test.scores(model.predict_on_batch)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size in [int(s) for s in sizes.split(",")]:
            calibration = examples.calibration(calib, spec, size)
            for name, export in VARIANTS.items():
                path = Path(work) / f"m{SUFFIX.get(name, '.int8.onnx')}"
                onnx_export.float_onnx(model, spec, Path(work))  # exported once: not part of any row's time
                started = time.perf_counter()
                export(model, spec, calibration, path, Path(work))
                scores = test.scores(runtime.load(path, spec=spec).predict)
                row = compare(name, scores, float_scores, test.targets, spec, Thresholds())
                rows.append({"export": name, "calibration_images": len(calibration), "accuracy": row["accuracy"],
                             "drop": row["drop"], "agreement": row["agreement"], "disagreements": row["disagreements"],
                             "export_s": round(time.perf_counter() - started, 1)})
                typer.echo(json.dumps(rows[-1]))
    table = markdown([row | {"drop": points(row["drop"])} for row in rows], ["export", "calibration_images", "accuracy",
                     "drop", "agreement", "disagreements", "export_s"], percent=("accuracy", "agreement"))
    write_results(out, {"model": str(model_path), "data": str(data), "images": len(test), "rows": rows},
                  f"int8 parity on {len(test)} images of {data} against calibration size.\n\n{table}\n")
    typer.echo(table)


if __name__ == "__main__":
    app()
