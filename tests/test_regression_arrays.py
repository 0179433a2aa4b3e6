"""A Navigability-style model (20x20x4 raw tiles, one linear output) converts to int8 and is gated on MSE."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge import runtime
from edge.spec import ModelSpec
from tests import generated
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts

SPEC = ModelSpec("regression", (), 20, 20, channels=4, color_order="none", resize="stretch", scale=0.5, offset=0.0)


@pytest.fixture(scope="module")
def navigability(tmp_path_factory):
    import keras

    from keras_io import archive

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("navigability")
    (x_train, y_train), (x_test, y_test) = generated.tiles(600, rng), generated.tiles(200, rng)
    np.savez(folder / "train.npz", x=x_train, y=y_train)
    np.savez(folder / "test.npz", x=x_test, y=y_test)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(SPEC.input_shape), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x_train * SPEC.scale, y_train, epochs=40, batch_size=32, verbose=0)
    return archive.save(model, SPEC, folder / "navigability.keras"), folder


@pytest.fixture(scope="module")
def converted(navigability, cli):
    from convert.cli import app

    model_path, folder = navigability
    result = cli.invoke(app, ["quantize", str(model_path), "--data", str(folder / "test.npz"), "--calib", str(folder / "train.npz"),
                              "--out-dir", str(folder / "models"), "--formats", "tflite_int8,onnx,onnx_int8", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), folder / "models"


def test_regression_model_converts_and_is_gated_on_mse(navigability, converted):
    _, folder = navigability
    report, out_dir = converted
    rows = {row["format"]: row for row in report["rows"]}
    variance = float(np.var(np.load(folder / "test.npz")["y"]))
    assert rows["keras (float)"]["mse"] < 0.5 * variance, "the float model must have learned the score"
    for name in ("tflite_int8", "onnx", "onnx_int8"):
        assert rows[name]["status"] == "ok" and rows[name]["mse_increase"] <= 10.0
    assert rows["onnx"]["mse_increase"] == pytest.approx(0, abs=0.01)

    runner = runtime.load(out_dir / "navigability.tflite", 1)
    assert runner.spec.channels == 4 and runner.spec.task == "regression"
    assert runner.describe()["inputs"][0]["shape"] == [1, 20, 20, 4]
    x = np.load(folder / "test.npz")["x"][:5] * SPEC.scale
    assert np.allclose(runner.predict(x), runtime.load(out_dir / "navigability.onnx", 1).predict(x), atol=0.15)


def test_strict_mse_gate_fails(navigability, cli, tmp_path):
    from convert.cli import app

    model_path, folder = navigability
    result = cli.invoke(app, ["quantize", str(model_path), "--data", str(folder / "test.npz"), "--calib", str(folder / "train.npz"),
                              "--out-dir", str(tmp_path), "--formats", "tflite_int8", "--max-mse-increase", "0"])
    assert result.exit_code == 1 and "MSE increase" in result.stderr


def test_arrays_of_the_wrong_shape_and_camera_frames_are_refused(navigability, converted, cli, tmp_path):
    from convert.cli import app
    from edge.classify import app as classify

    model_path, _ = navigability
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 20, 20, 3), np.float32), y=np.zeros(3, np.float32))
    result = cli.invoke(app, ["quantize", str(model_path), "--data", str(tmp_path / "bad.npz"), "--out-dir", str(tmp_path)])
    assert result.exit_code == 2 and "the model wants x (N, 20, 20, 4)" in result.output
    exported = converted[1] / "navigability.tflite"
    result = cli.invoke(classify, ["--model", str(exported), "--images", str(SAMPLE / "test" / "muffin")])
    assert result.exit_code == 2 and "raw arrays" in result.output


def test_bench_reports_mse_for_a_regression_model(navigability, converted, cli, tmp_path):
    from benchmarks.bench import app

    model_path, folder = navigability
    parity, models = converted
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(model_path), "-m", str(models / "navigability.tflite"), "--data", str(folder / "test.npz"),
                              "--threads", "1", "--runs", "10", "--warmup", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    gate = {row["format"]: row for row in parity["rows"]}
    assert rows[0]["mse"] == pytest.approx(gate["keras (float)"]["mse"], rel=1e-3)
    assert rows[1]["mse"] == pytest.approx(gate["tflite_int8"]["mse"], rel=1e-3) and rows[1]["max_abs_diff"] > 0
    assert "| mse" in out.with_suffix(".md").read_text() and "accuracy" not in rows[1]
