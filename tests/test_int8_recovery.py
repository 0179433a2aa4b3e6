"""When int8 fails the gate: a model built to fail in one known place (its first convolution's channel 0 scaled up
1000 times and the next convolution's weights on it scaled down as much: the float model is unchanged, but one
per-tensor int8 scale must now cover values 1000 times larger than the rest, which round to zero). The gate fails,
both runtimes' debuggers rank that layer first, --recover passes with it in float and the recovered files run on
the device without TensorFlow; a healthy model is left untouched. The statistics of the gate on their own."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from convert.statistics import intervals, mcnemar_p, wilson
from edge.spec import ModelSpec
from tests import generated
from tests.conftest import BLOCKED_RUN, REPO

pytestmark = pytest.mark.slow  # trains or converts

PLANTED = "conv_a"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(data folder, healthy .keras, planted .keras): the same trained CNN, and it with the outlier planted."""
    return generated.outlier_cnn(tmp_path_factory.mktemp("shapes"), PLANTED)


def _quantize(cli, model, root, out, *extra, formats="tflite_int8,onnx_int8"):
    from convert.cli import app

    result = cli.invoke(app, ["quantize", str(model), "--data", str(root / "test"), "--calib", str(root / "train"),
                              "--formats", formats, "--out", str(out), *extra])
    return result, json.loads((out / "parity.json").read_text())


def test_the_gate_fails_and_both_debuggers_rank_the_planted_layer_first(models, cli, tmp_path):
    root, _, planted = models
    result, report = _quantize(cli, planted, root, tmp_path / "models")
    assert result.exit_code == 1 and not report["passed"], result.output
    for row in report["rows"][1:]:
        assert row["status"] == "FAIL" and row["drop"] > 0.3, row
        layers = row["layers"]["layers"]
        assert layers[0]["layer"] == PLANTED and layers[0]["error"] > 0.5, layers[:3]
        assert all(layer["error"] < 0.5 * layers[0]["error"] for layer in layers[2:]), "the planted layer stands out"
        assert (tmp_path / "models" / row["layer_chart"]).stat().st_size > 5000
    firsts = re.findall(r"loses most on .*\n  (\S+)  ", result.stderr)
    assert firsts == [PLANTED, PLANTED] and "--recover keeps the fewest" in result.stderr, result.stderr[-2000:]


def test_recover_passes_with_the_planted_layer_in_float_and_runs_without_tensorflow(models, cli, tmp_path):
    from edge import runtime

    root, _, planted = models
    out = tmp_path / "models"
    result, report = _quantize(cli, planted, root, out, "--recover")
    assert result.exit_code == 0 and report["passed"], result.output
    for row in report["rows"][1:]:
        recovery = row["recovery"]
        assert row["status"] == "ok" and row["agreement"] >= 0.98 and recovery["passed"]
        assert recovery["float_layers"] == [PLANTED] and recovery["float_ops"] <= 3, recovery
        assert recovery["all_int8"]["agreement"] < 0.6 and set(recovery["latency_ms"]) == {"1", "2"}
        assert runtime.load(out / row["file"], 1).spec.provenance.float_layers == [PLANTED]
        run = subprocess.run([sys.executable, "-c", BLOCKED_RUN, str(out / row["file"]), str(root / "test")],
                             capture_output=True, text=True, cwd=REPO, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        summary = json.loads(run.stdout.splitlines()[-1])["summary"]
        assert summary["frames"] == 90 and summary["accuracy"] == pytest.approx(row["accuracy"], abs=1e-4)


def test_an_int8_format_its_row_does_not_call_recoverable_is_diagnosed_and_says_so(models, cli, tmp_path):
    root, _, planted = models
    result, report = _quantize(cli, planted, root, tmp_path / "models", "--recover", formats="tflite_uint8")
    row = report["rows"][1]
    assert result.exit_code == 1 and row["layers"]["layers"][0]["layer"] == PLANTED, result.output
    assert row["recovery"] == {"passed": False, "why": "--recover handles tflite_int8, tflite_int8_float_io, onnx_int8"}


def test_a_healthy_model_passes_untouched_and_explain_ranks_its_layers(models, cli, tmp_path):
    root, healthy, _ = models
    result, report = _quantize(cli, healthy, root, tmp_path / "models", "--recover", "--explain")
    assert result.exit_code == 0 and report["passed"], result.output
    for row in report["rows"][1:]:
        assert "recovery" not in row and row["agreement"] >= 0.98
        assert row["layers"]["layers"][0]["error"] < 0.5, "no activation loses most of its values"


def test_recover_settings_come_from_the_toml_and_bad_ones_are_one_line(models, cli, tmp_path):
    root, _, planted = models
    config = tmp_path / "gate.toml"
    config.write_text("[parity]\nrecover = true\nrecover_max_float = 3\n")
    result, report = _quantize(cli, planted, root, tmp_path / "a", "--config", str(config))
    assert result.exit_code == 0 and all(row["recovery"]["passed"] for row in report["rows"][1:]), result.output
    from convert.cli import app

    for extra, expected in ((["--recover-max-float", "0"], "--recover-max-float: 0.0"),
                            (["--gate-on", "median"], "Invalid value for '--gate-on'")):
        bad = cli.invoke(app, ["quantize", str(planted), "--data", str(root / "test"), *extra])
        assert bad.exit_code == 2 and expected in bad.output, bad.output
    config.write_text("[parity]\nrecover = \"yes\"\n")
    bad = cli.invoke(app, ["quantize", str(planted), "--data", str(root / "test"), "--config", str(config)])
    assert bad.exit_code == 2 and "--recover (or recover in the [parity] table): 'yes'; give true or false" in bad.output


def test_intervals_mcnemar_and_the_test_set_size():
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(2, 0) == 0.5 and mcnemar_p(10, 0) == pytest.approx(2 / 1024)
    low, high = wilson(300, 300)
    assert high == 1.0 and 0.987 < low < 0.988
    n = 300
    float_correct = np.ones(n, bool)
    correct = float_correct.copy()
    correct[:2] = False  # int8 loses 2 images: a 0.67-point drop
    figures = intervals(correct, float_correct, correct == float_correct, max_drop=0.01)
    assert figures["drop_ci95"][0] == 0.0 and 0.0067 <= figures["drop_ci95"][1] <= 0.02
    assert figures["mcnemar_p"] == 0.5
    variance = 2 / n - (2 / n) ** 2
    assert figures["images_to_resolve"] == int(np.ceil(1.959964 ** 2 * variance / 0.01 ** 2))


@pytest.mark.parametrize("gate_on, fails", [("point", False), ("upper", True), ("lower", False)])
def test_gate_on_chooses_which_end_of_the_interval_meets_the_threshold(gate_on, fails):
    from convert.parity import Thresholds, compare

    spec = ModelSpec("binary", ("a", "b"), 8, 8)
    targets = np.array([0, 1] * 150)
    float_scores = targets.astype(np.float32)[:, None] * 0.8 + 0.1
    scores = float_scores.copy()
    scores[:2] = 1 - scores[:2]  # 2 of 300 flipped: drop 0.67 points, under --max-drop 1 but not surely
    row = compare("x", scores, float_scores, targets, spec, Thresholds(max_drop=1.0, min_agreement=0.0, gate_on=gate_on))
    assert row["drop"] == pytest.approx(0.0067, abs=1e-4) and bool(row["failures"]) is fails, row["failures"]
