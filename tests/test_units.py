"""One unit in every stored figure: fractions (edge/metrics.py), in parity.json, its robustness blocks, metrics.json
and the spec inside each export; files written before 0.6, in percent and points, still read as fractions."""

from __future__ import annotations

import json

import pytest

from convert.parity import ROW_FIGURES, read_report
from edge import robustness

OLD_ROBUSTNESS = {"images": 4, "seed": 0, "severities": [1, 3, 5], "clean": 75.0, "accuracy": {"dark": [75.0, 50.0, 25.0]},
                  "mean": [75.0, 50.0, 25.0], "worst": [{"family": "dark", "accuracy": a} for a in (75.0, 50.0, 25.0)],
                  "middle": {"severity": 3, "mean": 50.0, "mean_drop": 25.0, "worst_family": "dark", "worst_drop": 25.0},
                  "corrupted_mean": 50.0}
OLD_REPORT = {"task": "binary", "images": 4, "thresholds": {"max_drop": 1.0, "min_agreement": 98.0, "max_mse_increase": 10.0,
                                                            "gate_on": "point", "max_robust_drop": None},
              "rows": [{"format": "keras (float)", "accuracy": 75.0, "robustness": OLD_ROBUSTNESS, "status": "reference"},
                       {"format": "tflite_int8", "accuracy": 50.0, "drop": 25.0, "agreement": 75.0, "disagreements": 1,
                        "recall": {"a": 100.0, "b": 0.0}, "drop_ci95": [0.0, 75.0], "corrupted_s3": 50.0,
                        "corrupted_extra_loss": 1.5, "robustness": OLD_ROBUSTNESS, "status": "FAIL"}]}


def _figures(block, keys=("accuracy", "drop", "agreement", "clean", "mean", "corrupted_mean", "mean_drop", "worst_drop",
                          "corrupted_s3", "corrupted_extra_loss", "recall", "drop_ci95", "agreement_ci95")):
    """Every number under KEYS anywhere in BLOCK."""
    if isinstance(block, dict):
        for key, value in block.items():
            if key in keys:
                yield from (v for v in _numbers(value))
            else:
                yield from _figures(value, keys)
    elif isinstance(block, list):
        for value in block:
            yield from _figures(value, keys)


def _numbers(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
    elif isinstance(value, (dict, list)):
        for inner in value.values() if isinstance(value, dict) else value:
            yield from _numbers(inner)


def test_a_report_from_before_0_6_reads_in_fractions():
    report = read_report(OLD_REPORT)
    int8 = report["rows"][1]
    assert report["unit"] == "fraction" and int8["accuracy"] == 0.5 and int8["drop"] == 0.25 and int8["agreement"] == 0.75
    assert int8["recall"] == {"a": 1.0, "b": 0.0} and int8["drop_ci95"] == [0.0, 0.75] and int8["disagreements"] == 1
    assert int8["corrupted_extra_loss"] == 0.015 and report["thresholds"]["min_agreement"] == 0.98
    assert int8["robustness"]["middle"] == {"severity": 3, "mean": 0.5, "mean_drop": 0.25, "worst_family": "dark",
                                            "worst_drop": 0.25}
    assert all(0 <= figure <= 1 for figure in _figures(report)), "every figure a fraction"
    assert read_report(report) == report and robustness.read(int8["robustness"]) == int8["robustness"], "read once"


@pytest.mark.slow
def test_every_figure_a_run_stores_is_a_fraction(exported, trained):
    out_dir, report = exported
    assert report["unit"] == "fraction" and set(ROW_FIGURES) >= {"accuracy", "drop", "agreement"}
    assert all(-1 <= figure <= 1 for figure in _figures(report)), "parity.json, its robustness blocks included"
    assert report["thresholds"]["max_drop"] == 0.01 and report["thresholds"]["min_agreement"] == 0.98
    metrics = json.loads((trained.parent / "metrics.json").read_text())
    assert metrics["robustness"]["unit"] == "fraction" and all(-1 <= f <= 1 for f in _figures(metrics["robustness"]))
    from edge import runtime

    embedded = runtime.load(out_dir / "muffins.tflite", 1).spec.provenance.parity
    assert embedded["unit"] == "fraction" and embedded["accuracy"] == report["rows"][1]["accuracy"]
