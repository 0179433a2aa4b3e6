"""Plain against mirror-averaged int8 TFLite accuracy for trained Fashion-MNIST edge run folders (`--no-mirror`
runs, or runs from before mirror averaging), each exported through convert's parity-checked path.

    python studies/mirror_gain.py runs/a runs/b ... --out benchmarks/results/mirror_gain
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.results import write_results
from edge import metrics
from edge.tables import markdown


def measure(run: Path) -> dict:
    from convert import examples
    from convert.export import ExportJob, export_and_check
    from keras_io import archive
    from train.models import mirror_averaged

    model, spec = archive.load(run / "fashion.keras")
    test = examples.load(run / "test.npz", spec)
    calibration = examples.calibration(run / "calibration.npz", spec, 1024)
    row = {"run": run.name}
    with tempfile.TemporaryDirectory() as out:
        for name, variant in (("plain", model), ("mirrored", mirror_averaged(model))):
            scores = test.scores(variant.predict_on_batch, size=1000)
            job = ExportJob(variant, spec, calibration, test, scores, out_dir=Path(out), stem=name, work=Path(out))
            result = export_and_check(job, "tflite_int8")
            row |= {f"{name}_float": metrics.stored((scores.argmax(1) == test.targets).mean()),
                    f"{name}_int8": result["accuracy"], f"{name}_bytes": int(round(result["size_mb"] * 1e6))}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    rows = [measure(run) for run in args.runs]
    table = markdown(rows, list(rows[0]), percent=tuple(k for k in rows[0] if k.endswith(("_float", "_int8"))))
    write_results(args.out, {"rows": rows}, "Mirror averaging: float and int8 accuracy of each run, plain and "
                  f"mirror-averaged.\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
