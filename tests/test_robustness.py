"""Accuracy under camera corruptions in every run folder and every parity report, the --max-robust-drop gate, and
`--augment camera` in both trainers' pipelines."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.corruptions import families
from edge.metrics import percent
from edge.spec import ModelSpec
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


def test_a_run_folder_reports_its_model_under_camera_corruptions(trained):
    run = trained.parent
    metrics = json.loads((run / "metrics.json").read_text())
    result = metrics["robustness"]
    assert result["images"] == metrics["test"]["images"] == 100, "the sample's 100 test images, under the default 250"
    assert result["clean"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-4), "the same model, the same images"
    assert list(result["accuracy"]) == list(families(3)) and all(len(v) == 3 for v in result["accuracy"].values())
    assert result["middle"]["mean"] == result["mean"][1] and result["middle"]["severity"] == 3
    report = (run / "report.md").read_text()
    assert "## Under camera corruptions" in report and f"**{percent(result['middle']['mean'])}**" in report
    chart = cv2.imread(str(run / "robustness.png"))
    assert chart is not None and chart.shape[1] > 500 and chart.std() > 10


def test_every_export_is_measured_under_corruption_through_its_runtime(exported):
    out_dir, report = exported
    reference, exports = report["rows"][0]["robustness"], report["rows"][1:]
    assert reference["images"] == 100 and reference["severities"] == [3], "the middle severity by default"
    assert all(row["robustness_s"] > 0 for row in report["rows"]), "the cost of each model's pass is recorded"
    through = report["rows"][0]["robustness_through"]
    assert through == "tflite_fp32", "the float model through its first fp32 export, which agreed on every image"
    assert next(row for row in exports if row["format"] == through)["robustness"] == reference
    for row in exports:
        result = row["robustness"]
        assert result["images"] == reference["images"] and result["severities"] == reference["severities"]
        assert result["clean"] == row["accuracy"], f"{row['format']}: the clean figure is the parity row's"
        assert row["corrupted_s3"] == result["middle"]["mean"] and (out_dir / row["robustness_chart"]).is_file()
        assert row["corrupted_extra_loss"] == pytest.approx(
            (result["clean"] - result["corrupted_mean"]) - (reference["clean"] - reference["corrupted_mean"]), abs=1.1e-4)
        if row["format"] in ("tflite_fp32", "onnx"):  # float exports: the float model's answers, corrupted or not
            assert abs(row["corrupted_extra_loss"]) <= 0.01, row["format"]
            for family, values in result["accuracy"].items():
                assert np.allclose(values, reference["accuracy"][family], atol=0.02), (row["format"], family)


def test_max_robust_drop_gate(cli, trained, tmp_path):
    from convert.cli import app
    from convert.parity import Thresholds, robust_failures

    assert robust_failures(0.015, Thresholds(max_robust_drop=2.0)) == [], "fractions against points"
    assert robust_failures(0.025, Thresholds(max_robust_drop=2.0)) == [
        "loses 2.50 points more than float under camera corruptions > --max-robust-drop 2.0"]
    assert robust_failures(0.5, Thresholds()) == [], "off by default"
    base = ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out", str(tmp_path / "models"),
            "--formats", "tflite_int8"]
    refused = cli.invoke(app, base + ["--max-robust-drop", "1", "--robustness", "0"])
    assert refused.exit_code == 2 and refused.stderr.strip().splitlines() == [
        "error: --max-robust-drop: nothing to gate on (--robustness 0); drop it or give --robustness N"]
    assert not (tmp_path / "models" / "muffins.tflite").exists()
    negative = cli.invoke(app, base + ["--max-robust-drop", "-1"])
    assert negative.exit_code == 2 and "--max-robust-drop (or max_robust_drop in the [parity] table)" in negative.stderr
    for bad in ("0,3", "3;5", ""):
        refused = cli.invoke(app, base + ["--robustness-severities", bad])
        assert refused.exit_code == 2 and refused.stderr.strip().splitlines() == [
            f"error: --robustness-severities {bad}: give severities from 1 to 5, comma-separated, e.g. 3 or 1,3,5"]
    gated = cli.invoke(app, base + ["--max-robust-drop", "100", "--robustness", "40", "--robustness-severities",
                                    "5,1,3", "--json"])
    assert gated.exit_code == 0, gated.output
    parity = json.loads(gated.stdout)
    assert parity["thresholds"]["max_robust_drop"] == 1 and parity["rows"][1]["robustness"]["images"] == 40
    assert parity["rows"][1]["robustness"]["severities"] == [1, 3, 5], "the full grid when asked"
    assert parity["rows"][0]["robustness_through"] == "keras", "no fp32 export to stand in for the float model"


def test_camera_augmentation_corrupts_about_half_the_images_and_leaves_the_rest_exact():
    from edge.preprocess import normalize
    from train.camera import PROBABILITY, corrupt_batch

    spec = ModelSpec("binary", ("a", "b"), 32, 32, scale=1 / 127.5, offset=-1.0)  # MobileNet's [-1, 1]
    rng = np.random.default_rng(0)
    pixels = cv2.resize(cv2.imread(str(sorted((SAMPLE / "test" / "muffin").glob("*.jpg"))[0])), (32, 32))
    batch = normalize(np.repeat(pixels[None], 400, axis=0), spec)  # as the trainers hand it over
    out = corrupt_batch(batch, spec, rng)
    changed = np.array([not np.array_equal(a, b) for a, b in zip(out, batch)])
    assert out.dtype == np.float32 and out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
    assert abs(changed.mean() - PROBABILITY) < 0.08, "one corruption for about half the images"
    assert np.array_equal(corrupt_batch(batch, spec, np.random.default_rng(0)), out), "seeded"


def test_the_training_pipeline_applies_camera_augmentation():
    from train import end_to_end
    from train.config import TrainConfig

    spec = ModelSpec("multiclass", tuple("abcd"), 24, 24, 1, "gray", "stretch", 1 / 255, 0.0)
    photo = cv2.resize(cv2.imread(str(sorted((SAMPLE / "test" / "muffin").glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE), (24, 24))
    x, y = np.repeat(photo[None, ..., None], 256, axis=0), np.arange(256) % 4
    batched = end_to_end.batches(x, np.arange(len(y)), y, spec, 64, seed=0)
    for augment, share in (("none", 0.0), ("camera", 0.5)):
        data = end_to_end.training_dataset(batched, TrainConfig(batch_size=64, augment=augment), spec, seed=0)
        images = np.concatenate([batch[0] for batch in data.as_numpy_iterator()])
        changed = (np.abs(images - photo[..., None] / 255) > 1e-6).any(axis=(1, 2, 3))
        assert abs(changed.mean() - share) < 0.1, augment


def test_train_with_camera_augmentation_end_to_end(cli, tmp_path):
    from train.cli import app

    run = tmp_path / "camera"
    result = cli.invoke(app, ["muffins", "--data", str(SAMPLE), "--arch", "edge_cnn", "--size", "32", "--epochs", "2",
                              "--augment", "camera", "--robustness", "20", "--out", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["augment"] == "camera" and metrics["robustness"]["images"] == 20
    wrong = cli.invoke(app, ["muffins", "--data", str(SAMPLE), "--augment", "0.05", "--out", str(tmp_path / "x")])
    assert wrong.exit_code == 2 and "'0.05' is not one of 'none', 'camera'" in wrong.output


def test_transfer_with_camera_augmentation_makes_one_augmented_pass_at_least():
    from train.config import resolve
    from train.recipes import RECIPES

    muffins, butterflies = RECIPES["muffins"], RECIPES["butterflies"]
    assert resolve(muffins.defaults_for("transfer"), {"augment": "none"}).augment_passes == 0
    assert resolve(muffins.defaults_for("transfer"), {"augment": "camera"}).augment_passes == 1
    assert resolve(butterflies.defaults_for("transfer"), {"augment": "camera"}).augment_passes == 3, "kept when set"
    assert resolve(muffins.defaults_for("edge_cnn"), {"augment": "camera"}).augment_passes == 0, "CNNs corrupt in tf.data"
