"""One training run for every recipe: load its data, train (end to end or transfer), evaluate, and write the run
folder: MODEL.keras (spec inside), metrics.json (one schema, RunMetrics), evaluation.npz, the report and, for array
data, the test examples and a calibration sample that `convert quantize` reads."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge import robustness
from edge.atomic import disk_full, staged_folder, write_text
from edge.errors import UserError
from edge.metrics import percent, points
from edge.reading import file_crc32
from keras_io import archive
from train import distribute, end_to_end, evaluation, preflight, transfer
from train.config import TrainConfig, config_fields, resolve
from train.fit import Trained
from train.loaders import TEST_LIST, Dataset
from train.recipes import RECIPES

CALIBRATION_EXAMPLES = 1024  # training examples kept beside a model trained on arrays, for int8 calibration


@dataclass
class RunMetrics:
    """metrics.json, the same keys for every recipe."""

    recipe: str
    settings: dict  # the TrainConfig, every field
    data: str  # what --data named (or where Fashion-MNIST was found)
    seconds: float  # loading, training and evaluation
    parameters: int
    train: dict  # evaluation.summary of the training examples: accuracy, loss, per-class recall, ...; MSE, MAE
    test: dict  # of the test examples (k-fold: the out-of-fold scores of every example)
    train_test_gap: float | None  # classification: train minus test accuracy, the size of the overfitting
    history: dict  # per epoch: loss, accuracy, val_loss, ...
    epoch_seconds: list
    best_epoch: int | None  # whose weights were kept (lowest validation loss, or training loss without validation)
    phases: dict  # phase name: epochs, when a run has more than one (transfer: head, then fine-tuning)
    interrupted: bool  # stopped by Ctrl-C; the best epoch so far was kept
    class_weight: dict | None
    skipped_files: int  # unreadable images
    leaked_test_files: int  # test files byte-identical to a training file
    folds: dict | None  # k-fold cross-validation: metric, per_fold, mean, std
    robustness: dict  # test accuracy under camera corruptions (edge/robustness.py), or {"not_measured": why}


def _robustness(data: Dataset, config: TrainConfig, trained: Trained) -> dict:
    """The saved model's accuracy on the test split under camera corruptions, or why it was not measured."""
    why = robustness.not_applicable(data.spec) or ("k-fold: the saved model saw every example" if trained.folds else
                                                  "--robustness 0" if not config.robustness else None)
    if why:
        return {"not_measured": why}
    started = time.perf_counter()
    result = robustness.evaluate(trained.model.predict_on_batch, data.test_x, data.test_y, data.spec, config.robustness)
    middle = result["middle"]
    print(f"under camera corruptions ({result['images']} test images, {time.perf_counter() - started:.0f} s): severity "
          f"{middle['severity']} mean {percent(middle['mean'])} (clean {percent(result['clean'])}), worst "
          f"{middle['worst_family']} {points(middle['worst_drop'])} points below clean")
    return result


def _metrics(recipe: str, data: Dataset, config: TrainConfig, trained: Trained, started: float) -> RunMetrics:
    test_y = data.y if trained.folds else data.test_y
    train, test = evaluation.summary(trained.train_scores, data.y, data.spec), evaluation.summary(trained.test_scores, test_y, data.spec)
    if trained.folds:
        test["note"] = f"out-of-fold predictions of {config.folds} models; the saved model saw every example"
    outcome, corrupted = trained.outcome, _robustness(data, config, trained)
    return RunMetrics(recipe, asdict(config), data.source, round(time.perf_counter() - started, 1),
                      int(trained.model.count_params()), train, test,
                      round(train["accuracy"] - test["accuracy"], 4) if "accuracy" in test else None,
                      outcome.history, outcome.epoch_seconds, outcome.best_epoch, outcome.phases, outcome.interrupted,
                      trained.class_weight, data.skipped_files, data.leaked_test_files,
                      evaluation.fold_summary(trained.folds, data.spec) if trained.folds else None,
                      corrupted)


def write(out: Path, recipe: str, data: Dataset, trained: Trained, metrics: RunMetrics, seed: int) -> None:
    """The run folder OUT, built under a temporary name and renamed when complete."""
    test_x, test_y = (data.x, data.y) if trained.folds else (data.test_x, data.test_y)
    spec = data.spec
    if not data.from_folder:  # `convert quantize` finds the calibration sample and the test split beside the model
        spec = spec.with_provenance(train_data=data.source, calibration_data="calibration.npz",
                                    test_data="" if trained.folds else "test.npz")
    with staged_folder(out) as tmp:
        archive.save(trained.model, spec, tmp / f"{recipe.replace('-', '_')}.keras")
        if data.test_list is not None:  # the photos held out of a folder split here, for `convert quantize`
            write_text(tmp / TEST_LIST, "\n".join(data.test_list) + "\n")
        write_text(tmp / "metrics.json", json.dumps(asdict(metrics), indent=2))
        evaluation.save_arrays(tmp, test_x, test_y, trained.test_scores, spec, trained.features, data.y)
        if not data.from_folder:
            np.savez_compressed(tmp / ("examples.npz" if trained.folds else "test.npz"), x=test_x, y=test_y)
            sample = np.sort(np.random.default_rng(seed).permutation(len(data.y))[:CALIBRATION_EXAMPLES])
            np.savez_compressed(tmp / "calibration.npz", x=data.x[sample], y=data.y[sample])
        from train import report

        report.write(tmp)


RUN_RECORD = "run.json"  # in a backup: the recipe, data and settings of the run that made it
FREE_TO_CHANGE = ("resume", "strategy", "cache_dir", "in_memory", "robustness")  # may differ between a run and its resume


def _run_record(recipe: str, data: Path | None, config: TrainConfig) -> dict:
    settings = {key: value for key, value in asdict(config).items() if key not in FREE_TO_CHANGE}
    return json.loads(json.dumps({"recipe": recipe, "data": str(data.resolve()) if data else None,
                                  "settings": settings}))


def _check_backup(backup: Path, record: dict, config: TrainConfig) -> None:
    """UserError unless BACKUP is this run's to continue: made by the same recipe, data and settings, every file
    in it readable, the weights files matching the CRC-32 their JSON files keep, and no phase past its epochs."""
    fresh = "run again without --resume to start afresh"
    if not (backup / RUN_RECORD).is_file():
        raise UserError(f"--resume: {backup} says nothing of the run that made it (a toolkit before 0.6, or another "
                        f"program); {fresh}")
    saved = {}
    for path in [backup / RUN_RECORD, *backup.rglob("*.json")]:
        try:
            saved[path] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"--resume: {backup} is damaged ({path.name}: {exc}); {fresh}") from None
    recorded = saved[backup / RUN_RECORD]
    if recorded != record:
        settings = recorded.get("settings", {}) if isinstance(recorded, dict) else {}
        differ = sorted(k for k in {*settings, *record["settings"]} if settings.get(k) != record["settings"].get(k))
        differ += [what for what in ("recipe", "data") if not isinstance(recorded, dict) or recorded.get(what) != record[what]]
        raise UserError(f"--resume: {backup} was made by another run ({', '.join(differ)} differs); {fresh}, or "
                        "resume with the same settings and data")
    for path, metadata in saved.items():
        for name, crc in (metadata.get("crc32", {}) if isinstance(metadata, dict) else {}).items():
            weights = path.parent / str(name)
            if Path(str(name)).name != name or not weights.is_file() or file_crc32(weights) != crc:
                raise UserError(f"--resume: {backup} is damaged ({name} does not match the checksum {path.name} "
                                f"keeps); {fresh}")
        if path.name == "training_metadata.json":
            epochs = config.fine_tune_epochs if "fine-tuning" in path.parts else config.epochs
            epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
            if not isinstance(epoch, int) or not -1 <= epoch < epochs:
                raise UserError(f"--resume: {path} says epoch {epoch + 1 if isinstance(epoch, int) else epoch!r}, past "
                                f"--epochs {epochs}; {fresh}")


def _backup(out: Path, placement: distribute.Placement, config: TrainConfig, record: dict) -> Path:
    """BackupAndRestore's folder (one per process): kept after a crash or Ctrl-C for --resume, checked to be this
    run's, else started afresh."""
    backup = Path(f"{out}.backup") / (f"process-{placement.process}" if placement.processes > 1 else "")
    if not config.resume:
        shutil.rmtree(backup, ignore_errors=True)
    elif backup.is_dir() and any(backup.iterdir()):
        _check_backup(backup, record, config)
    backup.mkdir(parents=True, exist_ok=True)
    write_text(backup / RUN_RECORD, json.dumps(record))
    return backup


def _mixed_precision() -> None:
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16" if distribute.gpus() else "mixed_bfloat16")
    print(f"mixed precision: {keras.mixed_precision.global_policy().name}")


def train(recipe: str, data: str | Path | None = None, out: str | Path | None = None, **settings: object
          ) -> RunMetrics | None:
    """Train a recipe and write its run folder: what `train RECIPE --data DATA --out OUT` runs.

    Args:
        recipe: a name of `train.recipes.RECIPES` (muffins, folder, fashion, ...).
        data: its data (default: the recipe's, where it has one).
        out: the run folder (default: runs/RECIPE).
        **settings: fields of `train.config.TrainConfig`, e.g. `model="edge_cnn"` (the flag --arch), `epochs=5`,
            `weights="imagenet"`; the recipe's defaults for the rest.

    Returns:
        The run's metrics.json as a RunMetrics (fractions: `metrics.test["accuracy"]`); None in a process other
        than the chief of a multi-process job.

    Raises:
        edge.errors.UserError: bad input, naming the setting or file and what to do.
    """
    if recipe not in RECIPES:
        raise UserError(f"recipe {recipe!r}: give one of {', '.join(RECIPES)}")
    unknown = set(settings) - set(config_fields())
    if unknown:
        raise UserError(f"settings {sorted(unknown)}: not TrainConfig fields; see train/config.py")
    config = resolve(RECIPES[recipe].defaults_for(settings.get("model")), settings)
    return run(recipe, Path(data) if data is not None else None, Path(out or f"runs/{recipe}"), config)


def run(recipe: str, data: Path | None, out: Path, config: TrainConfig) -> RunMetrics | None:
    """Train RECIPE (a name in train/recipes.py:RECIPES) on DATA as CONFIG says and write the run folder OUT; None
    in a process other than the chief, which trains its share and writes nothing."""
    started = time.perf_counter()
    preflight.check(RECIPES[recipe], data, out, config)
    builder = RECIPES[recipe].models[config.model]
    placement = distribute.choose(config.strategy)
    if config.mixed_precision:
        _mixed_precision()
    backup = _backup(out, placement, config, _run_record(recipe, data, config))
    dataset = RECIPES[recipe].load(data, config, recipe)
    trained = (transfer.train(dataset, config, placement, backup) if builder is None else
               end_to_end.train(dataset, config, builder, placement, backup))
    metrics = _metrics(recipe, dataset, config, trained, started)
    if placement.chief:
        try:
            write(out, recipe, dataset, trained, metrics, config.seed)
        except OSError as exc:
            if not disk_full(exc):
                raise
            raise UserError(f"--out {out}: no space left on its disk for the run folder (the trained epochs are kept in "
                            f"{backup}); free some space, then run the same command with --resume") from None
    if not trained.outcome.interrupted:
        shutil.rmtree(backup, ignore_errors=True)
        if placement.processes > 1:
            with contextlib.suppress(OSError):  # the last process to finish removes the shared folder
                backup.parent.rmdir()
    return metrics if placement.chief else None
