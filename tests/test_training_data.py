"""Training data as people have it: mixed image modes, broken files, leaked duplicates, a labels file that
disagrees, a class with one image; and Ctrl-C during training keeping the best epoch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from edge.preprocess import normalize, prepare, read_image
from edge.spec import ModelSpec
from tests.conftest import SAMPLE

PHOTO_SPEC = ModelSpec(task="binary", labels=("chihuahua", "muffin"), height=48, width=64, scale=1 / 127.5, offset=-1.0)


def _mixed_modes(data):
    """A copy of the sample whose muffin training images come in every mode a camera roll holds."""
    shutil.copytree(SAMPLE, data)
    muffins = sorted((data / "train" / "muffin").iterdir())
    photo = Image.open(muffins[0]).convert("RGB")
    photo.convert("CMYK").save(data / "train" / "muffin" / "cmyk.jpg")
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(data / "train" / "muffin" / "palette.png")
    photo.convert("RGBA").save(data / "train" / "muffin" / "rgba.png")
    photo.convert("L").resize((37, 91)).save(data / "train" / "muffin" / "gray_odd_size.jpg")
    Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257)).save(data / "train" / "muffin" / "sixteen_bit.png")
    (data / "train" / "muffin" / "broken.jpg").write_bytes(muffins[1].read_bytes()[:200])
    shutil.copy(muffins[2], data / "test" / "muffin" / "leaked.jpg")  # the same photo on both sides


@pytest.mark.slow
def test_mixed_modes_broken_files_and_leakage_are_counted(cli, tmp_path):
    from train.cli import app

    data = tmp_path / "data"
    _mixed_modes(data)
    run = tmp_path / "run"
    result = cli.invoke(app, ["folder", "--data", str(data), "--arch", "base_cnn", "--size", "32", "--epochs", "1",
                              "--out", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["skipped_files"] == 1 and "broken.jpg" in result.stderr
    assert metrics["leaked_test_files"] == 1 and "byte-identical to training images" in result.stderr
    assert metrics["train"]["images"] == 200 + 5 and metrics["test"]["images"] == 101  # five new modes decode, one file is broken


@pytest.mark.slow
def test_labels_file_that_disagrees_with_the_folders(cli, tmp_path):
    from train.cli import app

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    files = sorted(p.relative_to(data) for p in data.glob("*/*/*"))
    rows = [f"{path},{path.parent.name}" for path in files]
    rows[5] = f"{files[5]},{'muffin' if files[5].parent.name == 'chihuahua' else 'chihuahua'}"
    (data / "labels.csv").write_text("filepath,label\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    result = cli.invoke(app, ["folder", "--data", str(data), "--arch", "base_cnn", "--out", str(run)])
    assert result.exit_code == 2 and "labels.csv: 1 rows disagree with the folders" in result.output
    assert str(files[5]) in result.output and not run.exists()


@pytest.mark.slow
def test_a_class_with_one_training_image_is_warned_about(cli, tmp_path):
    from train.cli import app

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    for extra in sorted((data / "train" / "muffin").iterdir())[1:]:
        extra.unlink()
    result = cli.invoke(app, ["folder", "--data", str(data), "--arch", "base_cnn", "--size", "32", "--epochs", "1",
                              "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "class 'muffin' has 1 image" in result.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_epoch_so_far():
    import keras

    from train import fit

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    outcome = fit.fit(model, (x[:150], y[:150]), (x[150:], y[150:]), epochs=10, verbose=0, callbacks=[Interrupt()])
    assert outcome.interrupted and len(outcome.epoch_seconds) == 3
    best = int(np.argmin(outcome.history["val_loss"])) + 1
    assert outcome.best_epoch == best
    restored = model.evaluate(x[150:], y[150:], verbose=0)
    assert restored == pytest.approx(outcome.history["val_loss"][best - 1], rel=1e-3)


@pytest.mark.slow
def test_fashion_without_the_debian_files_and_offline_is_one_line(cli, tmp_path, monkeypatch):
    """No /usr/share/datasets/fashion-mnist and a download that fails, as on a machine without internet."""
    import keras

    from train import fashion_mnist
    from train.cli import app

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: [Errno -2] Name or service not known")

    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "absent")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    result = cli.invoke(app, ["fashion", "--out", str(tmp_path / "run")])
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"error: --data: {tmp_path / 'absent'} is missing and the download failed")
    assert "apt install dataset-fashion-mnist" in lines[0] and not (tmp_path / "run").exists()


def test_training_calibration_and_device_give_identical_tensors():
    from convert import examples
    from edge.folders import class_folder
    from train import data

    train, test, train_dir = data.folders(SAMPLE, 0.2, 0)
    split = data.load(train, test, train_dir, PHOTO_SPEC)
    device = prepare(read_image(train.files[0]), PHOTO_SPEC)
    assert np.array_equal(normalize(split.train_x[:1], PHOTO_SPEC)[0], device)
    calibration = examples.calibration(SAMPLE / "train", PHOTO_SPEC, count=len(train.files))  # every image, in file order
    assert np.array_equal(next(calibration.batches(1))[0], device)
    assert split.classes == class_folder(SAMPLE / "train").classes


def test_unsplit_folder_is_split_80_20_by_class():
    from train import data

    train, test, _ = data.folders(SAMPLE / "train", 0.2, 0)
    assert len(train.files) == 160 and len(test.files) == 40
    assert np.bincount(test.targets).tolist() == [20, 20]
    assert not set(train.files) & set(test.files)
