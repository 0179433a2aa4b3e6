"""Export one format, check it against the float model, and give the file its final name only when it is complete."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Optional

from convert import contact_sheet, examples
from convert.metadata import embed_file
from convert.parity import Thresholds, compare, compare_regression
from edge import runtime
from edge.atomic import atomic_path
from edge.errors import UserError
from edge.formats import FORMATS, output_path
from edge.postprocess import class_indices


def _disagreement_sheet(name: str, scores, float_scores, files: list[Path], spec, path: Path) -> Optional[str]:
    """Write the contact sheet of images where NAME and the float model disagree; its file name, or None."""
    predicted, float_predicted = class_indices(scores, spec), class_indices(float_scores, spec)
    items = [(f, spec.labels[a], spec.labels[b]) for f, a, b in zip(files, float_predicted, predicted) if a != b]
    if not items:
        return None
    contact_sheet.write(path, items, name)
    return path.name


def export_and_check(name: str, model, spec, calibration, test: examples.Examples, float_scores,
                      thresholds: Thresholds, out_dir: Path, stem: str, threads: Optional[int]) -> dict:
    """Export one format, run it on the held-out inputs, embed the spec with its parity figures, and only then
    give the file its final name."""
    fmt = FORMATS[name]
    final = output_path(out_dir, stem, fmt)
    started = time.perf_counter()
    module, function = fmt.exporter.split(":")
    try:
        with atomic_path(final) as tmp:
            getattr(importlib.import_module(module), function)(model, spec, calibration, tmp)
            scores = runtime.load(tmp, threads, spec=spec).predict(test.inputs)
            if spec.task == "regression":
                row = compare_regression(name, scores, float_scores, test.targets, thresholds)
                figures = ("mse", "mse_increase")
            else:
                row = compare(name, scores, float_scores, test.targets, spec, thresholds)
                figures = ("accuracy", "drop", "agreement")
            embed_file(tmp, spec.with_extra(parity={k: row[k] for k in figures}))
            runtime.load(tmp, 1)  # what gets the final name must load with its spec
        if test.files is not None and spec.task != "regression":
            row["disagreement_sheet"] = _disagreement_sheet(name, scores, float_scores, test.files, spec,
                                                            out_dir / f"{final.name}.disagreements.png")
    except OSError as exc:
        final.unlink(missing_ok=True)  # an older export under this name would no longer match its parity report
        raise UserError(f"--out-dir {out_dir}: cannot write {final.name} ({exc.strerror or exc}); "
                        "free some space or choose a writable folder") from None
    row.update(file=final.name, size_mb=final.stat().st_size / 1e6, export_s=round(time.perf_counter() - started, 1),
               status="FAIL" if row["failures"] else "ok")
    return row
