"""model.fit with what every recipe wants: epoch times, the best weights by validation loss kept in memory and
restored at the end, and Ctrl-C that stops training but keeps the best epoch so far (the run still gets written):
the first Ctrl-C stops at the end of the current batch, never inside TensorFlow's own code, a second one at once.
With a backup folder, EpochBackup (keras.callbacks.BackupAndRestore, each save whole or nothing) saves the model
and optimizer after every epoch and a restarted fit (a worker that died, or `train ... --resume`) continues from the
last saved epoch; the best epoch, the history and the epoch times are saved with it so that they continue too."""

from __future__ import annotations

import errno
import json
import math
import shutil
import signal
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from edge.atomic import atomic_path, disk_full
from edge.errors import UserError
from edge.metrics import percent
from edge.progress import Stage, shown, stage
from edge.reading import file_crc32


class BestEpoch(keras.callbacks.Callback):
    """Remembers the weights of the epoch with the lowest validation loss (or training loss without validation),
    the logs and how long each epoch took; with BACKUP, picks up what EpochBackup kept there."""

    def __init__(self, backup: Path | None = None):
        super().__init__()
        self.backup = backup
        self.best_loss, self.best_epoch, self.best_weights = math.inf, None, None
        self.epoch_seconds: list[float] = []
        self.history: dict[str, list[float]] = {}

    def restore(self, model: keras.Model) -> bool:
        """Pick up the state BACKUP keeps (once), MODEL's weights left as they are; whether there was one."""
        state = self.backup / "best.json" if self.backup else None
        if self.best_weights is not None or state is None or not state.is_file() \
                or not (self.backup / "best.weights.h5").is_file():
            return self.best_weights is not None
        saved = json.loads(state.read_text())
        self.best_loss, self.best_epoch = saved["best_loss"], saved["best_epoch"]
        self.epoch_seconds, self.history = saved["epoch_seconds"], saved["history"]
        current = model.get_weights()
        model.load_weights(self.backup / "best.weights.h5")
        self.best_weights = model.get_weights()
        model.set_weights(current)
        print(f"resuming after epoch {len(self.epoch_seconds)} (best so far: epoch {self.best_epoch})")
        return True

    def on_train_begin(self, logs=None):
        self.restore(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch_seconds.append(round(time.perf_counter() - self._started, 2))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(round(float(value), 4))
        loss = logs.get("val_loss", logs.get("loss", math.inf))
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.best_weights = float(loss), epoch + 1, self.model.get_weights()

    def state(self, crc32: dict) -> str:
        """best.json: the best epoch, its loss, the history, the epoch times and CRC32 of the weights file."""
        return json.dumps({"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                           "epoch_seconds": self.epoch_seconds, "history": self.history, "crc32": crc32})


class EpochBackup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore (which restores the model, the optimizer and the epoch) whose save after each epoch is whole
    or nothing: the model and optimizer, BEST's weights when they improved, BEST's state and the epoch number go to
    temporary names and are renamed, the epoch number last, only once all are written; and the disk is first checked
    to have room for them, since HDF5 meeting a full disk mid-write can crash the process (SIGSEGV). A full disk is a
    UserError naming the folder, and the previous epoch's backup stays whole for --resume. Each JSON file records the
    CRC-32 of the weights file beside it ("crc32"), checked before --resume uses them (train/run.py)."""

    OVERHEAD = 2048  # bytes per variable in a .weights.h5 beyond its values (measured: 0.9 to 1.4 KB)

    def __init__(self, folder: Path, best: BestEpoch):
        super().__init__(str(folder / "checkpoint"))
        self.folder, self.best, self.crc32 = folder, best, {}

    def on_epoch_end(self, epoch, logs=None):
        try:
            self._save(epoch + 1)
        except OSError as exc:
            if not disk_full(exc):
                raise
            kept = f"the backup of epoch {epoch} is whole" if epoch else "no epoch was backed up yet"
            raise UserError(f"{self.folder}: no space left on its disk to back up epoch {epoch + 1} ({kept}); free "
                            "some space, then run the same command with --resume") from None

    def _save(self, epoch: int) -> None:
        checkpoint = self.folder / "checkpoint"
        checkpoint.mkdir(parents=True, exist_ok=True)
        improved = self.best.best_epoch == epoch  # BestEpoch saw this epoch first
        weights = [checkpoint / "latest.weights.h5"] + ([self.folder / "best.weights.h5"] if improved else [])
        variables = self.model.variables + (self.model.optimizer.variables if self.model.optimizer else [])
        size = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize + self.OVERHEAD for v in variables)
        needed, free = len(weights) * size + 2**16, shutil.disk_usage(self.folder).free
        if free < needed:
            raise OSError(errno.ENOSPC, f"{needed - free} more bytes needed", str(self.folder))
        with ExitStack() as renames:  # renamed in the reverse order of entering: the epoch number last
            metadata = renames.enter_context(atomic_path(checkpoint / "training_metadata.json"))
            state = renames.enter_context(atomic_path(self.folder / "best.json"))
            for path in weights:
                tmp = renames.enter_context(atomic_path(path))
                self.model.save_weights(tmp)
                self.crc32[path.name] = file_crc32(tmp)
            if "best.weights.h5" not in self.crc32:  # resumed, and not improved since
                self.crc32["best.weights.h5"] = file_crc32(self.folder / "best.weights.h5")
            state.write_text(self.best.state({"best.weights.h5": self.crc32["best.weights.h5"]}))
            metadata.write_text(json.dumps({"epoch": epoch, "batch": 0,
                                            "crc32": {"latest.weights.h5": self.crc32["latest.weights.h5"]}}))


class StopOnCtrlC(keras.callbacks.Callback):
    """Turns Ctrl-C into a KeyboardInterrupt raised between two training steps. Raised wherever the main thread
    happens to be, it could land inside TensorFlow's own Python code and leave the process to die in native code
    (seen once: `free(): invalid next size`, SIGABRT). A second Ctrl-C interrupts at once, as usual."""

    def __init__(self):
        super().__init__()
        self.pressed = False

    def _press(self, signum, frame):
        self.pressed = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers belong to the main thread; elsewhere Ctrl-C keeps its default behaviour
            return
        previous = signal.signal(signal.SIGINT, self._press)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_train_batch_end(self, batch, logs=None):
        if self.pressed:
            raise KeyboardInterrupt


def epoch_figures(logs: dict) -> str:
    """'loss 0.4767, accuracy 76.67%, val_loss 0.7950': accuracies in percent, as every command prints them."""
    return ", ".join(f"{key} {percent(value) if 'accuracy' in key else f'{value:.4f}'}" for key, value in logs.items()
                     if key != "learning_rate")


class EpochLines(keras.callbacks.Callback):
    """What a person sees of training instead of Keras' own lines: on a terminal one bar over the epochs with the
    last epoch's figures; in a log one line per epoch (`epoch 4/80: loss 0.4767, accuracy 76.67%, ... (1.3 s)`),
    and STAGE's heartbeat names the epoch and step of an epoch that takes minutes."""

    def __init__(self, step: Stage):
        super().__init__()
        self.step, self.bar = step, None

    def on_train_begin(self, logs=None):
        if shown():
            from tqdm import tqdm

            self.bar = tqdm(total=self.params["epochs"], desc="training", unit="epoch", leave=False, dynamic_ncols=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.started = f"epoch {epoch + 1}/{self.params['epochs']}", time.perf_counter()
        if self.bar is not None:
            self.bar.n = epoch
            self.bar.refresh()
        self.step.status = self.epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step.status = f"{self.epoch}, step {batch + 1}/{self.params.get('steps') or '?'}"

    def on_epoch_end(self, epoch, logs=None):
        figures = epoch_figures(logs or {})
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(figures, refresh=True)
        else:
            print(f"{self.epoch}: {figures} ({time.perf_counter() - self.started:.1f} s)", flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


@dataclass
class Outcome:
    history: dict = field(default_factory=dict)  # per epoch: loss, accuracy, val_loss, ...
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    interrupted: bool = False
    phases: dict = field(default_factory=dict)  # phase name: epochs, when a run has more than one

    def extend(self, other: "Outcome", first: str = "head", second: str = "fine-tuning") -> "Outcome":
        """This phase followed by OTHER (frozen head, then fine-tuning)."""
        keys = set(self.history) | set(other.history)
        offset = len(self.epoch_seconds)
        return Outcome({k: self.history.get(k, []) + other.history.get(k, []) for k in keys},
                       self.epoch_seconds + other.epoch_seconds,
                       other.best_epoch + offset if other.best_epoch else self.best_epoch,
                       self.interrupted or other.interrupted, {first: offset, second: len(other.epoch_seconds)})


def fit(model: keras.Model, train, validation=None, callbacks=(), backup: Path | None = None, **fit_args) -> Outcome:
    """Train; restore the best epoch's weights. TRAIN is a tf.data.Dataset or an (x, y) tuple; BACKUP a folder to
    resume from (see above), or None."""
    best, ctrl_c = BestEpoch(backup), StopOnCtrlC()
    backups = [EpochBackup(backup, best)] if backup is not None else []
    args = dict(validation_data=validation, verbose=0) | fit_args
    interrupted = False
    if best.restore(model) and len(best.epoch_seconds) >= args.get("epochs", 1):  # every epoch ran; the run died later
        model.set_weights(best.best_weights)
        return Outcome(best.history, best.epoch_seconds, best.best_epoch, False)
    try:
        with ctrl_c.installed(), stage("training") as step:
            args["callbacks"] = [ctrl_c, best, *backups, *callbacks, EpochLines(step)]  # lines after the backup
            if isinstance(train, tuple):
                model.fit(*train, **args)
            else:
                model.fit(train, shuffle=False, **args)  # a tf.data.Dataset shuffles itself
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted: keeping epoch {best.best_epoch} of {len(best.epoch_seconds)} completed")
    if best.best_weights is None:
        raise KeyboardInterrupt  # stopped before one epoch finished: nothing worth saving
    model.set_weights(best.best_weights)
    print(f"trained {len(best.epoch_seconds)} epochs in {sum(best.epoch_seconds):.0f} s; kept epoch {best.best_epoch} "
          f"(lowest {'validation' if validation is not None else 'training'} loss)")
    return Outcome(best.history, best.epoch_seconds, best.best_epoch, interrupted)


def learning_rate(rate: float, cosine: bool, epochs: int, examples: int, batch_size: int):
    """RATE, or a cosine decay from RATE to zero over the run's optimizer steps."""
    steps = epochs * math.ceil(examples / batch_size)
    return keras.optimizers.schedules.CosineDecay(rate, steps) if cosine else rate


def validation_split(targets: np.ndarray, fraction: float, seed: int, stratify: bool = True):
    """(train indices, validation indices), stratified by class for classification; a class with a single
    example keeps it for training. FRACTION 0: every example trains, none validates."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(targets))
    if not fraction:
        return indices, indices[:0]
    if not stratify:
        return train_test_split(indices, test_size=fraction, random_state=seed)
    classes, counts = np.unique(targets, return_counts=True)
    alone = np.isin(targets, classes[counts < 2])
    train, validation = train_test_split(indices[~alone], test_size=fraction, random_state=seed, stratify=targets[~alone])
    return np.sort(np.concatenate([train, indices[alone]])), np.sort(validation)


@dataclass
class Trained:
    """What a trainer hands the run-folder writer."""

    model: keras.Model  # as saved: inference layers only, mirror-averaged when asked
    outcome: Outcome
    train_scores: np.ndarray  # the saved model's outputs on the training examples
    test_scores: np.ndarray  # on the test examples (k-fold: out-of-fold scores of every example)
    features: tuple | None  # penultimate features of (test, training or None) examples for the embedding view; None: regression
    class_weight: dict | None = None
    folds: list[dict] = field(default_factory=list)  # per-fold summaries of k-fold cross-validation
