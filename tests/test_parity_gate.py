"""The parity gate fails a model that int8 cannot represent: exit 1, the failing figure, and advice."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.spec import ModelSpec
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


def _outlier_model():
    """Mean colour -> two hidden units: one carries a +-1000 range that swamps the other (the useful signal,
    +-0.05) in a per-tensor int8 activation scale, so int8 outputs lose the signal the float model uses."""
    import keras

    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    hidden = keras.layers.Dense(2, name="hidden")(pooled)
    output = keras.layers.Dense(1, activation="sigmoid", name="out")(hidden)
    model = keras.Model(inputs, output)
    model.get_layer("hidden").set_weights([np.array([[1000.0, 0.05], [0.0, -0.05], [0.0, 0.0]], np.float32),
                                           np.zeros(2, np.float32)])
    model.get_layer("out").set_weights([np.array([[0.0], [200.0]], np.float32), np.zeros(1, np.float32)])
    return model


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    from keras_io import archive

    spec = ModelSpec("binary", ("chihuahua", "muffin"), 32, 32, scale=1 / 127.5, offset=-1.0)
    return archive.save(_outlier_model(), spec, tmp_path_factory.mktemp("outlier") / "outlier.keras")


def _quantize(cli, model_path, out_dir, *extra):
    from convert.cli import app

    return cli.invoke(app, ["quantize", str(model_path), "--data", str(SAMPLE / "test"), "--calib", str(SAMPLE / "train"),
                            "--out-dir", str(out_dir), *extra])


def test_int8_drift_exits_1_with_advice(cli, outlier, tmp_path):
    out_dir = tmp_path / "models"
    result = _quantize(cli, outlier, out_dir, "--formats", "tflite_int8,onnx")
    assert result.exit_code == 1, result.output
    report = json.loads((out_dir / "parity.json").read_text())
    rows = {row["format"]: row for row in report["rows"]}
    assert not report["passed"]
    assert rows["tflite_int8"]["status"] == "FAIL" and rows["tflite_int8"]["agreement"] < 0.98
    assert rows["onnx"]["status"] == "ok" and rows["onnx"]["agreement"] == 1.0
    assert rows["onnx"]["disagreement_sheet"] is None
    sheet = cv2.imread(str(out_dir / rows["tflite_int8"]["disagreement_sheet"]))
    tiles = min(64, rows["tflite_int8"]["disagreements"])
    assert sheet.shape == (196 * -(-tiles // 8), 160 * min(8, tiles), 3)
    assert "parity failed: tflite_int8: agreement" in result.stderr and "advice:" in result.stderr


def test_thresholds_from_a_config_file_flags_win(cli, outlier, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text("[parity]\nmax_drop = 100.0\nmin_agreement = 0.0\nmax_robust_drop = 100.0\n")
    loose = _quantize(cli, outlier, tmp_path / "a", "--formats", "tflite_int8", "--config", str(config), "--json")
    assert loose.exit_code == 0, loose.output
    report = json.loads(loose.stdout)
    assert report["passed"] and report["thresholds"] == {"max_drop": 1.0, "min_agreement": 0.0, "max_mse_increase": 0.1,
                                                      "gate_on": "point", "max_robust_drop": 1.0}, "fractions, as the figures"
    strict = _quantize(cli, outlier, tmp_path / "b", "--formats", "tflite_int8", "--config", str(config),
                       "--min-agreement", "50")
    assert strict.exit_code == 1 and "< --min-agreement 50.0" in strict.stderr


def test_config_file_with_unknown_key(cli, outlier, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text("[parity]\nmax_dorp = 1.0\n")
    result = _quantize(cli, outlier, tmp_path / "a", "--config", str(config))
    assert result.exit_code == 2 and "unknown keys ['max_dorp']" in result.output


@pytest.mark.parametrize("where, value", [("flag", "nan"), ("flag", "-1"), ("toml", "nan"), ("toml", '"1.0"'),
                                          ("toml", "inf")])
def test_a_threshold_that_would_switch_the_gate_off_is_refused(cli, outlier, tmp_path, where, value):
    config = tmp_path / "gate.toml"
    config.write_text(f"[parity]\nmax_drop = {value}\n")
    extra = ["--max-drop", value] if where == "flag" else ["--config", str(config)]
    result = _quantize(cli, outlier, tmp_path / "models", *extra)
    named = "Invalid value for '--max-drop'" if (where, value) == ("flag", "nan") else \
        "--max-drop (or max_drop in the [parity] table)"  # a NaN flag is refused as every number flag's is
    assert result.exit_code == 2 and named in result.output, result.output
    assert not (tmp_path / "models" / "parity.json").exists()
