"""Export one format, check it against the float model, and give the file its final name only when it is complete."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from convert import contact_sheet, examples
from convert.metadata import embed_file
from convert.parity import Thresholds, compare, compare_regression, reference_row, robust_failures
from convert.registry import EXPORTERS, resolved_options
from convert.tables import markdown_table
from edge import ROBUSTNESS_IMAGES, robustness, runtime
from edge.atomic import atomic_path, partial_name, writable_folder, write_text
from edge.metrics import UNIT, percent, points
from edge.errors import UserError
from edge.formats import DEFAULT_FORMATS, FORMATS, output_path
from edge.postprocess import class_indices
from edge.progress import stage
from keras_io import archive


def _disagreement_sheet(name: str, scores, float_scores, files: list[Path], spec, path: Path) -> Optional[str]:
    """Write the contact sheet of images where NAME and the float model disagree; its file name, or None."""
    predicted, float_predicted = class_indices(scores, spec), class_indices(float_scores, spec)
    items = [(f, spec.labels[a], spec.labels[b]) for f, a, b in zip(files, float_predicted, predicted) if a != b]
    if not items:
        return None
    contact_sheet.write(path, items, name)
    return path.name


def format_options(name: str, options: Optional[dict[str, str]]) -> dict[str, str]:
    """The export OPTIONS that format NAME takes."""
    return {key: value for key, value in (options or {}).items() if key in FORMATS[name].options}


def check(name: str, path: Path, spec, test: examples.Examples, float_scores, thresholds: Thresholds,
          threads: Optional[int]) -> tuple[dict, object]:
    """(NAME's parity row, its scores) for the model file PATH on the held-out inputs, batch by batch."""
    scores = test.scores(runtime.load(path, threads, spec=spec).predict, what=f"{name} on the test images")
    if spec.task == "regression":
        return compare_regression(name, scores, float_scores, test.targets, thresholds), scores
    return compare(name, scores, float_scores, test.targets, spec, thresholds), scores


def export_and_check(name: str, model, spec, calibration: examples.Examples, test: examples.Examples, float_scores,
                      thresholds: Thresholds, out_dir: Path, stem: str, threads: Optional[int], work: Path,
                      options: Optional[dict[str, str]] = None, made: Optional[Path] = None) -> dict:
    """Export one format with the OPTIONS it takes (or take the file MADE already, e.g. a recovered one), run it on
    the held-out inputs, embed the spec with its parity figures, and only then give the file its final name. WORK
    is the run's scratch folder."""
    fmt = FORMATS[name]
    final = output_path(out_dir, stem, fmt)
    started = time.perf_counter()
    taken = format_options(name, options)
    try:
        with atomic_path(final) as tmp:
            if made is None:
                note = EXPORTERS.find(name)(model, spec, calibration, tmp, work, **taken)
            else:
                shutil.copyfile(made, tmp)
                note = None
            row, scores = check(name, tmp, spec, test, float_scores, thresholds, threads)
            figures = ("mse", "mse_increase") if spec.task == "regression" else ("accuracy", "drop", "agreement")
            embed_file(tmp, spec.with_provenance(parity={k: row[k] for k in figures} | {"unit": UNIT}))
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


def test_source(data: Optional[Path], spec, model_path: Path) -> Path:
    """DATA, else what training held out, as the model records it: a test folder, or a file beside the model (the
    photos held out of a folder it split, or test.npz)."""
    if data is not None:
        return data
    recorded = spec.provenance.test_data
    if not recorded:
        raise UserError(f"--data: {model_path.name} records no held-out data (a k-fold run saw every example, or a "
                        "model from before 0.5); give --data with held-out class folders or an .npz")
    path = Path(recorded) if Path(recorded).is_absolute() else model_path.parent / recorded
    if not path.exists():
        raise UserError(f"--data: the held-out data recorded in {model_path.name}, {path}, is not here any more; "
                        "give --data with held-out class folders or an .npz")
    return path


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


@dataclass(frozen=True)
class Int8Failures:
    """What to do about int8 exports that lose accuracy (docs/guides/int8-failures.md)."""

    explain: bool = False  # diagnose every int8 export, not only the failing ones
    recover: bool = False  # keep the fewest activations in float until a failing export passes
    recover_max_float: Optional[float] = None  # most float ops: a fraction of the model's (default 0.1) or a count


def quantize(model_path: str | Path, data: str | Path | None = None, out_dir: str | Path = "models",
             names: Sequence[str] = DEFAULT_FORMATS, thresholds: Thresholds = Thresholds(),
             calib: str | Path | None = None, calib_count: int = 256, threads: Optional[int] = None,
             options: Optional[dict[str, str]] = None, say: Callable[[str], None] = lambda line: None,
             failures: Int8Failures = Int8Failures(), robustness_images: int = ROBUSTNESS_IMAGES) -> dict:
    """Export a model written by `train` and gate each export on parity with it: what `convert quantize` runs.

    Args:
        model_path: the `.keras` file.
        data: held-out class folders or an `.npz` with `x` and `y` (default: what training held out, as the model
            records it).
        out_dir: the folder for the exports, parity.json and parity.md.
        names: format names of `edge.formats.FORMATS`.
        thresholds: the gate (`Thresholds(max_drop=1.0, min_agreement=98.0, ...)`).
        calib: calibration data (default: the training data the model records).
        options: export options the formats take, e.g. `{"target": "arm64"}`.
        say: receives a progress line per step (e.g. `print`).
        failures: diagnosis and recovery of failing int8 exports (`Int8Failures(recover=True)`).
        robustness_images: test images run under every camera corruption; 0: none.

    Returns:
        The parity report (parity.json): `passed`, and a row per export with accuracy, drop, agreement (fractions).

    Raises:
        edge.errors.UserError: bad input, naming the file or setting and what to do.
    """
    model_path, out_dir = Path(model_path), writable_folder(out_dir, "out_dir")
    data, calib = (Path(data) if data is not None else None), (Path(calib) if calib is not None else None)
    with scratch_folder(out_dir) as work:
        report = _quantize(model_path, data, out_dir, names, thresholds, calib, calib_count, threads, options, say,
                           work, failures, robustness_images)
    write_text(out_dir / "parity.json", json.dumps(report, indent=2))
    write_text(out_dir / "parity.md", markdown_table(report) + "\n")
    return report


def _quantize(model_path, data, out_dir, names, thresholds, calib, calib_count, threads, options, say, work,
              failures: Int8Failures, robustness_images: int) -> dict:
    """quantize() in the scratch folder WORK, without writing parity.json."""
    options = resolved_options(names, options or {})
    model, spec = archive.load(model_path)
    not_robust = robustness.not_applicable(spec) or (None if robustness_images else "--robustness 0")
    if not_robust and thresholds.max_robust_drop is not None:
        raise UserError(f"--max-robust-drop: nothing to gate on ({not_robust}); drop it or give --robustness N")
    robust = not_robust is None
    spec = spec.with_provenance(export_options=options)  # every export records the options it was made with
    data = test_source(data, spec, model_path)
    test = examples.load(data, spec)
    calib_source = calibration_source(calib, data, spec, model_path)
    listed = data.suffix == ".txt"  # the photos train held out of the folder it trained on: never calibrate on them
    calibration = examples.calibration(calib_source, spec, calib_count, held_out=test if listed else None)
    spec = spec.with_provenance(train_data=Path(spec.provenance.train_data).name,  # no path of this host on devices
                                test_data=Path(spec.provenance.test_data).name)
    say(f"calibrating on {len(calibration)} examples from {calib_source}; evaluating on {len(test)} from {data}")
    float_scores = test.scores(model.predict_on_batch, what="float model on the test images")
    rows = [{"format": "keras (float)", "file": model_path.name, "size_mb": model_path.stat().st_size / 1e6,
             **reference_row(float_scores, test.targets, spec), "status": "reference"}]
    reference = None
    if robust:
        with stage("float model under camera corruptions"):
            reference = robustness.evaluate(model.predict_on_batch, test.pixels, test.targets, spec, robustness_images)
        rows[0]["robustness"] = reference
        say(f"float model under camera corruptions: severity {reference['middle']['severity']} mean "
            f"{percent(reference['middle']['mean'])} (clean {percent(reference['clean'])}) on {reference['images']} "
            "test images")
    for report in ("parity.json", "parity.md"):  # a report from an earlier run must not outlive a failed one
        (out_dir / report).unlink(missing_ok=True)
    for name in names:
        with stage(name):  # in a log: a line when it starts, then at least one a minute
            row = export_and_check(name, model, spec, calibration, test, float_scores, thresholds, out_dir,
                                   model_path.stem, threads, work, options)
            if name in DIAGNOSED and spec.task != "regression" and (failures.explain or row["failures"]):
                row = _explain_and_recover(name, row, model, spec, calibration, test, float_scores, thresholds,
                                           out_dir, model_path.stem, threads, work, options, failures, say)
            if reference is not None:
                row = _robustness(name, row, out_dir / row["file"], spec, test, reference, thresholds, threads,
                                  robustness_images, say)
        rows.append(row)
        release_freed_memory()
        say(f"{name}: {out_dir / row['file']} ({row['size_mb']:.2f} MB, {row['export_s']} s) [{row['status']}]")
    report = {"unit": UNIT, "model": str(model_path), "task": spec.task, "data": str(data), "images": len(test),
              "calibration": str(calib_source), "calibration_images": len(calibration), "thresholds": thresholds.stored(),
              "rows": rows,
              "passed": all(not r.get("failures") for r in rows)}
    return report


def _robustness(name, row, path, spec, test, reference, thresholds, threads, images, say) -> dict:
    """ROW with the export's accuracy under camera corruptions, through the runner the device uses, its loss beyond
    the float model's on the same corrupted images, the chart, and the --max-robust-drop failure."""
    result = robustness.evaluate(runtime.load(path, threads, spec=spec).predict, test.pixels, test.targets, spec, images)
    extra = robustness.extra_loss(result, reference)
    found = robust_failures(extra, thresholds)
    row.update(robustness=result, corrupted_s3=result["middle"]["mean"], corrupted_extra_loss=extra,
               robustness_chart=robustness.chart(result, path.parent / f"{path.name}.robustness.png", f"{name}: {path.name}"),
               failures=row["failures"] + found, status="FAIL" if row["failures"] or found else row["status"])
    say(f"{name}: under camera corruptions severity {result['middle']['severity']} mean "
        f"{percent(result['middle']['mean'])} (float {percent(reference['middle']['mean'])}); loses "
        f"{'+' if extra >= 0 else ''}{points(extra)} points more than float over every corruption")
    return row


DIAGNOSED = ("tflite_int8", "tflite_uint8", "tflite_int8_float_io", "onnx_int8")


def _explain_and_recover(name, row, model, spec, calibration, test, float_scores, thresholds, out_dir, stem, threads,
                         work, options, failures: Int8Failures, say) -> dict:
    """ROW with the layer diagnosis of NAME's export (table, chart), and with --recover a failing export replaced by
    the one that keeps the fewest activations in float and passes (its all-int8 figures kept beside)."""
    from convert import diagnose, recover
    from convert.tflite_export import layer_names

    final = out_dir / row["file"]
    tflite = diagnose.TfliteDebugger(model, calibration, fully_quantize=name != "tflite_int8_float_io") \
        if FORMATS[name].runtime == "tflite" else None
    diagnosis = tflite.layers() if tflite else diagnose.onnx_layers(final, calibration, layer_names(model), work)
    row["layers"] = diagnosis.report()
    row["layer_chart"] = diagnose.chart(diagnosis, out_dir / f"{final.name}.layers.png", f"{name}: {final.name}")
    say(f"{name}: the activations int8 loses most on ({diagnosis.runtime} debugger; all in parity.json, "
        f"{row['layer_chart']}):\n" + "\n".join(diagnosis.lines()))
    if not (failures.recover and row["failures"]):
        return row
    if name not in recover.RECOVERABLE:
        row["recovery"] = {"passed": False, "why": f"--recover handles {', '.join(recover.RECOVERABLE)}"}
        return row
    all_int8 = work / f"all-int8{FORMATS[name].suffix}"
    shutil.copyfile(final, all_int8)
    builder = recover.Builder(model, spec, calibration, work, format_options(name, options), tflite)
    outcome = recover.search(diagnosis, builder, lambda path: check(name, path, spec, test, float_scores, thresholds,
                                                                    threads)[0],
                             failures.recover_max_float, FORMATS[name].suffix)
    if outcome.chosen is None:
        row["recovery"] = outcome.report()
        tried = ", ".join(f"{len(a.layers)} ({len(a.nodes)} ops)" for a in outcome.tried)
        say(f"{name}: --recover found no export that passes with at most {failures.recover_max_float or 0.1:g} of "
            f"the ops in float; activations kept float in each try: {tried or 'none'} (parity.json: recovery)")
        return row
    recovered = export_and_check(name, model, spec.with_provenance(float_layers=outcome.chosen.names), calibration,
                                 test, float_scores, thresholds, out_dir, stem, threads, work, options,
                                 made=outcome.path)
    inputs = next(test.batches(min(50, len(test))))
    recovered.update(layers=row["layers"], layer_chart=row["layer_chart"], recovery=outcome.report() | {
        "all_int8": {key: row[key] for key in ("accuracy", "drop", "agreement", "size_mb")} | {
            "latency_ms": latency_ms(all_int8, spec, inputs)},
        "latency_ms": latency_ms(final, spec, inputs)})
    say(f"{name}: recovered with {', '.join(outcome.chosen.names)} in float ({len(outcome.chosen.nodes)} of "
        f"{outcome.total_ops} ops): accuracy {percent(recovered['accuracy'])} (all-int8 {percent(row['accuracy'])}), "
        f"agreement {percent(recovered['agreement'])}")
    return recovered


def latency_ms(path: Path, spec, inputs, runs: int = 3) -> dict:
    """Median milliseconds of one image through PATH at 1 and 2 threads, over RUNS passes of INPUTS."""
    figures = {}
    for threads in (1, 2):
        runner = runtime.load(path, threads, spec=spec)
        times = []
        for _ in range(runs):
            for x in inputs:
                started = time.perf_counter()
                runner.predict(x[None])
                times.append(time.perf_counter() - started)
        figures[str(threads)] = round(1000 * sorted(times)[len(times) // 2], 3)
    return figures
