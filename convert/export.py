"""Export one format, check it against the float model, and give the file its final name only when it is complete."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from convert import contact_sheet, examples
from convert.metadata import embed_file
from convert.parity import Thresholds, compare, compare_regression, reference_row
from convert.registry import EXPORTERS, resolved_options
from edge import runtime
from edge.atomic import atomic_path, partial_name, write_text
from edge.errors import UserError
from edge.formats import FORMATS, output_path
from edge.postprocess import class_indices
from keras_io import archive


def _disagreement_sheet(name: str, scores, float_scores, files: list[Path], spec, path: Path) -> Optional[str]:
    """Write the contact sheet of images where NAME and the float model disagree; its file name, or None."""
    predicted, float_predicted = class_indices(scores, spec), class_indices(float_scores, spec)
    items = [(f, spec.labels[a], spec.labels[b]) for f, a, b in zip(files, float_predicted, predicted) if a != b]
    if not items:
        return None
    contact_sheet.write(path, items, name)
    return path.name


def export_and_check(name: str, model, spec, calibration: examples.Examples, test: examples.Examples, float_scores,
                      thresholds: Thresholds, out_dir: Path, stem: str, threads: Optional[int], work: Path,
                      options: Optional[dict[str, str]] = None) -> dict:
    """Export one format with the OPTIONS it takes, run it on the held-out inputs batch by batch, embed the spec with
    its parity figures, and only then give the file its final name. WORK is the run's scratch folder."""
    fmt = FORMATS[name]
    final = output_path(out_dir, stem, fmt)
    started = time.perf_counter()
    taken = {key: value for key, value in (options or {}).items() if key in fmt.options}
    try:
        with atomic_path(final) as tmp:
            note = EXPORTERS.find(name)(model, spec, calibration, tmp, work, **taken)
            scores = test.scores(runtime.load(tmp, threads, spec=spec).predict, what=f"{name} on the test images")
            if spec.task == "regression":
                row = compare_regression(name, scores, float_scores, test.targets, thresholds)
                figures = ("mse", "mse_increase")
            else:
                row = compare(name, scores, float_scores, test.targets, spec, thresholds)
                figures = ("accuracy", "drop", "agreement")
            embed_file(tmp, spec.with_provenance(parity={k: row[k] for k in figures}))
            runtime.load(tmp, 1)  # what gets the final name must load with its spec
        if test.files is not None and spec.task != "regression":
            row["disagreement_sheet"] = _disagreement_sheet(name, scores, float_scores, test.files, spec,
                                                            out_dir / f"{final.name}.disagreements.png")
    except OSError as exc:
        final.unlink(missing_ok=True)  # an older export under this name would no longer match its parity report
        raise UserError(f"--out {out_dir}: cannot write {final.name} ({exc.strerror or exc}); "
                        "free some space or choose a writable folder") from None
    row.update(file=final.name, size_mb=final.stat().st_size / 1e6, export_s=round(time.perf_counter() - started, 1),
               status="FAIL" if row["failures"] else "ok")
    if note:
        row["note"] = note
    return row


def release_freed_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc keeps them otherwise), so that
    what one export's converter freed is not counted again on top of the next one's peak."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def scratch_folder(out_dir: Path):
    """The run's scratch folder, beside its outputs, and the temporary folder of every library it calls meanwhile
    (onnxruntime's quantiser copies the model into the system's one, where a killed run would leave it for good).
    Removed at the end; what a killed run left is removed by a later one (edge/atomic.partial_name)."""
    work = partial_name(out_dir / "convert-work")
    work.mkdir()
    saved, tempfile.tempdir = tempfile.tempdir, str(work)
    try:
        yield work
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(work, ignore_errors=True)


def calibration_source(calib: Optional[Path], data: Path, spec, model_path: Path) -> Path:
    """--calib, else the calibration sample beside the model (array recipes write one), else the training data
    recorded in the model, else DATA's sibling `train` folder."""
    if calib is not None:
        return calib
    recorded = spec.provenance
    candidates = [model_path.parent / recorded.calibration_data] if recorded.calibration_data else []
    candidates += [Path(recorded.train_data)] if recorded.train_data else []
    if data.suffix != ".npz":
        candidates.append(data.parent / "train")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise UserError(f"no calibration data found (looked in {', '.join(map(str, candidates)) or 'nothing recorded'}); "
                    "pass --calib with training images or an .npz")


def quantize(model_path: Path, data: Path, out_dir: Path, names: list[str], thresholds: Thresholds,
             calib: Optional[Path] = None, calib_count: int = 256, threads: Optional[int] = None,
             options: Optional[dict[str, str]] = None, say: Callable[[str], None] = lambda line: None) -> dict:
    """Export MODEL_PATH in each format NAMES (with the export OPTIONS their rows in edge.formats take, e.g.
    {"target": "arm64"}), check each against the float model on DATA, write parity.json into OUT_DIR and return its
    report; SAY receives a progress line per step."""
    with scratch_folder(out_dir) as work:
        report = _quantize(model_path, data, out_dir, names, thresholds, calib, calib_count, threads, options, say, work)
    write_text(out_dir / "parity.json", json.dumps(report, indent=2))
    return report


def _quantize(model_path, data, out_dir, names, thresholds, calib, calib_count, threads, options, say, work) -> dict:
    """quantize() in the scratch folder WORK, without writing parity.json."""
    options = resolved_options(names, options or {})
    model, spec = archive.load(model_path)
    spec = spec.with_provenance(export_options=options)  # every export records the options it was made with
    test = examples.load(data, spec)
    calib_source = calibration_source(calib, data, spec, model_path)
    calibration = examples.calibration(calib_source, spec, calib_count)
    spec = spec.with_provenance(train_data=Path(spec.provenance.train_data).name)  # no path of this host on devices
    say(f"calibrating on {len(calibration)} examples from {calib_source}; evaluating on {len(test)} from {data}")
    float_scores = test.scores(model.predict_on_batch, what="float model on the test images")
    rows = [{"format": "keras (float)", "file": model_path.name, "size_mb": model_path.stat().st_size / 1e6,
             **reference_row(float_scores, test.targets, spec), "status": "reference"}]
    (out_dir / "parity.json").unlink(missing_ok=True)  # a report from an earlier run must not outlive a failed one
    for name in names:
        row = export_and_check(name, model, spec, calibration, test, float_scores, thresholds, out_dir,
                               model_path.stem, threads, work, options)
        rows.append(row)
        release_freed_memory()
        say(f"{name}: {out_dir / row['file']} ({row['size_mb']:.2f} MB, {row['export_s']} s) [{row['status']}]")
    report = {"model": str(model_path), "task": spec.task, "data": str(data), "images": len(test), "calibration": str(calib_source),
              "calibration_images": len(calibration), "thresholds": thresholds.__dict__, "rows": rows,
              "passed": all(not r.get("failures") for r in rows)}
    return report
