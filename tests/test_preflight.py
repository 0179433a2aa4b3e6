"""`train` refuses a data layout or settings it cannot use in one line, before TensorFlow loads (proved by running it
checking that TensorFlow was never imported), and in a log says what it is doing at least once a heartbeat; a run folder keeps the
library output in train.log and prints accuracy in percent."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, RUN_MAIN, SAMPLE

UNLOADED = RUN_MAIN + 'print("tensorflow loaded" if "tensorflow" in sys.modules else "tensorflow not loaded")\n'

PHOTO = next((SAMPLE / "train" / "muffin").iterdir())


def _layout(root, kind: str):
    """A data folder with one kind of mistake."""
    if kind == "no_class_folders":
        root.mkdir()
        shutil.copy(PHOTO, root)
    elif kind == "one_class":
        (root / "muffin").mkdir(parents=True)
        shutil.copy(PHOTO, root / "muffin")
    elif kind == "empty_class":
        for name in ("muffin", "chihuahua"):
            (root / name).mkdir(parents=True)
        shutil.copy(PHOTO, root / "muffin")
    elif kind == "one_photo_class":
        for name in ("muffin", "chihuahua"):
            (root / name).mkdir(parents=True)
            shutil.copy(PHOTO, root / name)
        shutil.copy(PHOTO, root / "muffin" / "second.jpg")
    return root


CASES = {  # layout or settings -> (extra arguments, the error line's start)
    "no_class_folders": ([], "{data}: needs at least 2 class folders (found: none); put each class's images"),
    "one_class": ([], "{data}: needs at least 2 class folders (found: muffin)"),
    "empty_class": ([], "{data}/chihuahua: class folder is empty"),
    "one_photo_class": ([], "{data}: class 'chihuahua' has 1 image; a train/test split needs at least 2 per class"),
    "no_weights": ([], "--weights: transfer learning starts from ImageNet weights: --weights imagenet"),
    "missing_weights": (["--weights", "nope.weights.h5"], "--weights nope.weights.h5: no such file"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_run_that_cannot_work_is_refused_before_tensorflow_loads(case, tmp_path):
    data = _layout(tmp_path / "photos", case) if case in ("no_class_folders", "one_class", "empty_class",
                                                          "one_photo_class") else SAMPLE
    arch = ["--arch", "edge_cnn"] if data != SAMPLE else []
    args, expected = CASES[case]
    done = subprocess.run([sys.executable, "-c", UNLOADED, "train.cli", "folder", "--data", str(data), *arch, *args,
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.split("\n")[-3:] == ["exit 2", "tensorflow not loaded", ""], (done.stdout[-500:], done.stderr[-1500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + expected.format(data=data)), lines
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_logged_run_has_a_heartbeat_one_line_per_epoch_and_its_library_output_in_train_log(tmp_path):
    run = tmp_path / "run"
    done = subprocess.run([str(REPO / ".venv/bin/train"), "folder", "--data", str(SAMPLE), "--arch", "edge_cnn",
                           "--size", "32", "--epochs", "3", "--robustness", "0", "--out", str(run)],
                          capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**__import__("os").environ, "EDGE_HEARTBEAT_SECONDS": "0.5"})
    assert done.returncode == 0, done.stderr[-2000:]
    epochs = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("accuracy" in line and "%" in line for line in epochs)
    assert "training ..." in done.stderr and "training: epoch" in done.stderr, "a heartbeat names the epoch"
    assert "WARNING:tensorflow" not in done.stderr + done.stdout and "oneDNN" not in done.stderr
    assert (run / "train.log").is_file() and not (tmp_path / "run.log").exists()
    summary = done.stdout.splitlines()[-2:]
    assert summary[0].startswith("test accuracy ") and summary[0].split()[2].endswith("%")
    assert summary[1].startswith(f"wrote {run}/: the model folder.keras, metrics.json, report.md, train.log")
