"""Export one format, check it against the float model, and give the file its final name only when it is complete."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from convert import contact_sheet, examples
from convert.metadata import embed_file
from convert.parity import Thresholds, compare, compare_regression, reference_row, robust_failures
from convert.registry import EXPORTERS, options_for, resolved_options
from convert.tables import markdown_table
from edge import ROBUSTNESS_IMAGES, ROBUSTNESS_SEVERITIES, robustness, runtime
from edge.atomic import atomic_path, disk_full, partial_name, writable_folder, write_text
from edge.errors import UserError
from edge.formats import DEFAULT_FORMATS, FORMATS, Format, output_path
from edge.latency import median_ms
from edge.metrics import UNIT, percent, points
from edge.postprocess import class_indices
from edge.progress import stage
from edge.spec import ModelSpec
from keras_io import archive


def _disagreement_sheet(name: str, scores, float_scores, files: list[Path], spec, path: Path) -> Optional[str]:
    """Write the contact sheet of images where NAME and the float model disagree; its file name, or None."""
    predicted, float_predicted = class_indices(scores, spec), class_indices(float_scores, spec)
    items = [(f, spec.labels[a], spec.labels[b]) for f, a, b in zip(files, float_predicted, predicted) if a != b]
    if not items:
        return None
    contact_sheet.write(path, items, name)
    return path.name


@dataclass(frozen=True)
class Int8Failures:
    """What to do about int8 exports that lose accuracy (docs/guides/int8-failures.md)."""

    explain: bool = False  # diagnose every int8 export, not only the failing ones
    recover: bool = False  # keep the fewest activations in float until a failing export passes
    recover_max_float: Optional[float] = None  # most float ops: a fraction of the model's (default 0.1) or a count


@dataclass(frozen=True)
class ExportJob:
    """What every export of one `convert quantize` run shares: the float model and its figures, the data, the gate
    and where the files go. Export, check, diagnosis, recovery and robustness each take it."""

    model: Any  # the float Keras model
    spec: ModelSpec  # with the run's provenance
    calibration: examples.Examples
    test: examples.Examples
    float_scores: Any  # the float model's scores on TEST
    thresholds: Thresholds = Thresholds()
    out_dir: Path = Path("models")
    stem: str = "model"  # exports are OUT_DIR/STEM<suffix>
    work: Path = Path("models")  # the run's scratch folder
    threads: Optional[int] = None  # for evaluating the exports
    options: dict = field(default_factory=dict)  # export options, resolved for the run's formats
    failures: Int8Failures = Int8Failures()
    robustness_images: int = ROBUSTNESS_IMAGES
    robustness_severities: tuple[int, ...] = ROBUSTNESS_SEVERITIES
    say: Callable[[str], None] = lambda line: None

    def path(self, fmt: Format) -> Path:
        return output_path(self.out_dir, self.stem, fmt)


def check(job: ExportJob, name: str, path: Path) -> tuple[dict, object]:
    """(NAME's parity row, its scores) for the model file PATH on the held-out inputs, batch by batch."""
    scores = job.test.scores(runtime.load(path, job.threads, spec=job.spec).predict, what=f"{name} on the test images")
    if job.spec.task == "regression":
        return compare_regression(name, scores, job.float_scores, job.test.targets, job.thresholds), scores
    return compare(name, scores, job.float_scores, job.test.targets, job.spec, job.thresholds), scores


def export_and_check(job: ExportJob, name: str, made: Optional[Path] = None, spec: Optional[ModelSpec] = None) -> dict:
    """Export one format with the options it takes (or take the file MADE already, e.g. a recovered one, whose SPEC
    records how), run it on the held-out inputs, embed the spec with its parity figures, and only then give the file
    its final name."""
    fmt, spec = FORMATS[name], spec or job.spec
    final = job.path(fmt)
    started = time.perf_counter()
    try:
        with atomic_path(final) as tmp:
            if made is None:
                note = EXPORTERS.find(name)(job.model, spec, job.calibration, tmp, job.work, **options_for(name, job.options))
            else:
                shutil.copyfile(made, tmp)
                note = None
            row, scores = check(job, name, tmp)
            figures = ("mse", "mse_increase") if spec.task == "regression" else ("accuracy", "drop", "agreement")
            embed_file(tmp, spec.with_provenance(parity={k: row[k] for k in figures} | {"unit": UNIT}))
            runtime.load(tmp, 1)  # what gets the final name must load with its spec
        if job.test.files is not None and spec.task != "regression":
            row["disagreement_sheet"] = _disagreement_sheet(name, scores, job.float_scores, job.test.files, spec,
                                                            job.out_dir / f"{final.name}.disagreements.png")
    except OSError as exc:
        final.unlink(missing_ok=True)  # an older export under this name would no longer match its parity report
        raise UserError(f"--out {job.out_dir}: cannot write {final.name} ({exc.strerror or exc}); "
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


def pixel_cache_of(model_path: Path) -> Optional[Path]:
    """The pixel cache `train --cache-dir` filled for this model, as its run folder's metrics.json records it, where
    that folder is here; None: the default cache (EDGE_CACHE_DIR, else ~/.cache), which train uses otherwise."""
    try:
        recorded = json.loads((model_path.parent / "metrics.json").read_text())["settings"]["cache_dir"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(recorded) if isinstance(recorded, str) and Path(recorded).is_dir() else None


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


def quantize(model_path: str | Path, data: str | Path | None = None, out_dir: str | Path = "models",
             names: Sequence[str] = DEFAULT_FORMATS, thresholds: Thresholds = Thresholds(),
             calib: str | Path | None = None, calib_count: int = 256, threads: Optional[int] = None,
             options: Optional[dict[str, str]] = None, say: Callable[[str], None] = lambda line: None,
             failures: Int8Failures = Int8Failures(), robustness_images: int = ROBUSTNESS_IMAGES,
             robustness_severities: Sequence[int] = ROBUSTNESS_SEVERITIES) -> dict:
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
        robustness_severities: the corruption severities (1 to 5) they are run at; `edge.robustness.SEVERITIES`
            is the full grid train's report shows.

    Returns:
        The parity report (parity.json): `passed`, and a row per export with accuracy, drop, agreement (fractions).

    Raises:
        edge.errors.UserError: bad input, naming the file or setting and what to do.
    """
    model_path, out_dir = Path(model_path), writable_folder(out_dir, "out_dir")
    data, calib = (Path(data) if data is not None else None), (Path(calib) if calib is not None else None)
    try:
        with scratch_folder(out_dir) as work:
            settings = ExportJob(model=None, spec=None, calibration=None, test=None, float_scores=None,
                                 thresholds=thresholds, out_dir=out_dir, stem=model_path.stem, work=work,
                                 threads=threads, failures=failures, robustness_images=robustness_images,
                                 robustness_severities=tuple(robustness_severities), say=say)
            report = _quantize(model_path, data, calib, calib_count, names, options, settings)
        write_text(out_dir / "parity.json", json.dumps(report, indent=2))
        write_text(out_dir / "parity.md", markdown_table(report) + "\n")
    except OSError as exc:
        if not disk_full(exc):
            raise
        raise UserError(f"--out {out_dir}: no space left on its disk ({exc.strerror}), where the exports and the "
                        "model's unpacked copy go; free some space or choose a folder on a disk with room") from None
    return report


def _quantize(model_path: Path, data: Optional[Path], calib: Optional[Path], calib_count: int, names, options,
              settings: ExportJob) -> dict:
    """quantize() in the scratch folder, without writing parity.json: SETTINGS is the job before its model and data
    are loaded."""
    options = resolved_options(names, options or {})
    model, spec = archive.load(model_path)
    not_robust = robustness.not_applicable(spec) or (None if settings.robustness_images else "--robustness 0")
    if not_robust and settings.thresholds.max_robust_drop is not None:
        raise UserError(f"--max-robust-drop: nothing to gate on ({not_robust}); drop it or give --robustness N")
    spec = spec.with_provenance(export_options=options)  # every export records the options it was made with
    data, cache = test_source(data, spec, model_path), pixel_cache_of(model_path)
    test = examples.load(data, spec, cache=cache)
    calib_source = calibration_source(calib, data, spec, model_path)
    listed = data.suffix == ".txt"  # the photos train held out of the folder it trained on: never calibrate on them
    calibration = examples.calibration(calib_source, spec, calib_count, held_out=test if listed else None, cache=cache)
    spec = spec.with_provenance(train_data=Path(spec.provenance.train_data).name,  # no path of this host on devices
                                test_data=Path(spec.provenance.test_data).name)
    say = settings.say
    say(f"calibrating on {len(calibration)} examples from {calib_source}; evaluating on {len(test)} from {data}")
    float_scores = test.scores(model.predict_on_batch, what="float model on the test images")
    job = replace(settings, model=model, spec=spec, calibration=calibration, test=test, float_scores=float_scores,
                  options=options)
    rows = [{"format": "keras (float)", "file": model_path.name, "size_mb": model_path.stat().st_size / 1e6,
             **reference_row(float_scores, test.targets, spec), "status": "reference"}]
    for report in ("parity.json", "parity.md"):  # a report from an earlier run must not outlive a failed one
        (job.out_dir / report).unlink(missing_ok=True)
    for name in names:
        with stage(name):  # in a log: a line when it starts, then at least one a minute
            row = export_and_check(job, name)
            if FORMATS[name].int8 and spec.task != "regression" and (job.failures.explain or row["failures"]):
                row = _explain_and_recover(job, name, row)
        rows.append(row)
        release_freed_memory()
        say(f"{name}: {job.out_dir / row['file']} ({row['size_mb']:.2f} MB, {row['export_s']} s) [{row['status']}]")
    if not_robust is None:
        _robustness(job, rows)
    return {"unit": UNIT, "model": str(model_path), "task": spec.task, "data": str(data), "images": len(test),
            "calibration": str(calib_source), "calibration_images": len(calibration),
            "thresholds": job.thresholds.stored(), "rows": rows, "passed": all(not r.get("failures") for r in rows)}


def _robustness(job: ExportJob, rows: list[dict]) -> None:
    """Every row's accuracy under camera corruptions, all on the same corrupted images, made once: each export
    through the runner the device uses; the float model (the reference) through its fp32 export when one gave the
    float model's answer on every test image (the same arithmetic, two to three times faster than Keras on a CPU),
    else through Keras. Each export's loss beyond the float model's, its chart and the --max-robust-drop failure."""
    exports = {row["format"]: job.out_dir / row["file"] for row in rows[1:]}
    stand_in = next((row["format"] for row in rows[1:] if FORMATS[row["format"]].reference and not row["failures"]
                     and row.get("agreement") == 1), None)
    predicts = {} if stand_in else {"float": job.model.predict_on_batch}
    predicts |= {name: runtime.load(path, job.threads, spec=job.spec).predict for name, path in exports.items()}
    with stage("every model under camera corruptions"):
        results, seconds = robustness.evaluate_many(predicts, job.test.pixels, job.test.targets, job.spec,
                                                    job.robustness_images, job.robustness_severities)
    through = stand_in or "float"
    reference = results[through]
    rows[0].update(robustness=reference, robustness_through=stand_in or "keras", robustness_s=seconds[through])
    job.say(f"float model under camera corruptions (through {stand_in or 'Keras'}): severity "
            f"{reference['middle']['severity']} mean {percent(reference['middle']['mean'])} (clean "
            f"{percent(reference['clean'])}) on {reference['images']} test images")
    for row in rows[1:]:
        name, path, result = row["format"], exports[row["format"]], results[row["format"]]
        extra = robustness.extra_loss(result, reference)
        found = robust_failures(extra, job.thresholds)
        row.update(robustness=result, robustness_s=seconds[name], corrupted_s3=result["middle"]["mean"],
                   corrupted_extra_loss=extra, robustness_chart=robustness.chart(
                       result, path.parent / f"{path.name}.robustness.png", f"{name}: {path.name}"),
                   failures=row["failures"] + found, status="FAIL" if row["failures"] or found else row["status"])
        job.say(f"{name}: under camera corruptions severity {result['middle']['severity']} mean "
                f"{percent(result['middle']['mean'])} (float {percent(reference['middle']['mean'])}); loses "
                f"{'+' if extra >= 0 else ''}{points(extra)} points more than float over every corruption")


def _explain_and_recover(job: ExportJob, name: str, row: dict) -> dict:
    """ROW with the layer diagnosis of NAME's export (table, chart), and with --recover a failing export replaced by
    the one that keeps the fewest activations in float and passes (its all-int8 figures kept beside)."""
    from convert import diagnose, recover

    fmt, final, say = FORMATS[name], job.out_dir / row["file"], job.say
    debugger = diagnose.DEBUGGERS.find(fmt.runtime)(job, fmt, final)
    diagnosis = debugger.layers()
    row["layers"] = diagnosis.report()
    row["layer_chart"] = diagnose.chart(diagnosis, job.out_dir / f"{final.name}.layers.png", f"{name}: {final.name}")
    say(f"{name}: the activations int8 loses most on ({diagnosis.runtime} debugger; all in parity.json, "
        f"{row['layer_chart']}):\n" + "\n".join(diagnosis.lines()))
    if not (job.failures.recover and row["failures"]):
        return row
    if not fmt.recoverable:
        recoverable = ", ".join(f.name for f in FORMATS.values() if f.recoverable)
        row["recovery"] = {"passed": False, "why": f"--recover handles {recoverable}"}
        return row
    all_int8 = job.work / f"all-int8{fmt.suffix}"
    shutil.copyfile(final, all_int8)
    max_float = job.failures.recover_max_float
    outcome = recover.search(diagnosis, debugger, lambda path: check(job, name, path)[0], max_float, job.work,
                             fmt.suffix)
    if outcome.chosen is None:
        row["recovery"] = outcome.report()
        tried = ", ".join(f"{len(a.layers)} ({len(a.nodes)} ops)" for a in outcome.tried)
        say(f"{name}: --recover found no export that passes with at most {max_float or 0.1:g} of "
            f"the ops in float; activations kept float in each try: {tried or 'none'} (parity.json: recovery)")
        return row
    recovered = export_and_check(job, name, made=outcome.path,
                                 spec=job.spec.with_provenance(float_layers=outcome.chosen.names))
    frames = job.test.pixels[:min(50, len(job.test))]
    recovered.update(layers=row["layers"], layer_chart=row["layer_chart"], recovery=outcome.report() | {
        "all_int8": {key: row[key] for key in ("accuracy", "drop", "agreement", "size_mb")} | {
            "latency_ms": latency_ms(all_int8, job.spec, frames)},
        "latency_ms": latency_ms(final, job.spec, frames)})
    say(f"{name}: recovered with {', '.join(outcome.chosen.names)} in float ({len(outcome.chosen.nodes)} of "
        f"{outcome.total_ops} ops): accuracy {percent(recovered['accuracy'])} (all-int8 {percent(row['accuracy'])}), "
        f"agreement {percent(recovered['agreement'])}")
    return recovered


def latency_ms(path: Path, spec: ModelSpec, frames, runs: int = 3) -> dict:
    """Median milliseconds of one frame through PATH on the device path (edge/latency.py), at 1 and 2 threads."""
    return {str(threads): round(median_ms(runtime.load(path, threads, spec=spec), frames, runs), 3)
            for threads in (1, 2)}
