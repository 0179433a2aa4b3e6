"""Parity of every export against the float Keras model on held-out images: accuracy, drop, top-1 agreement. The rows
hold fractions (edge/metrics.py); the thresholds are set as people write them, in points and percent."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convert.statistics import intervals
from edge import metrics, robustness
from edge.errors import UserError
from edge.postprocess import class_indices
from edge.spec import ModelSpec, finite_number


GATE_ON = {  # --gate-on: the figures held against --max-drop and --min-agreement
    "point": "the measured drop and agreement",
    "upper": "the pessimistic end of each 95% interval (the drop's upper bound, the agreement's lower): fails unless "
             "the test set rules out a loss past the threshold",
    "lower": "the optimistic end (the drop's lower bound, the agreement's upper): fails only when the loss is past the "
             "threshold beyond the test set's noise",
}


SHARES = ("max_drop", "min_agreement", "max_mse_increase", "max_robust_drop")  # thresholds in points or percent


@dataclass(frozen=True)
class Thresholds:
    max_drop: float = 1.0  # accuracy points an export may lose against the float model
    min_agreement: float = 98.0  # percent of images where the export's top-1 equals the float model's
    max_mse_increase: float = 10.0  # regression: percent the export's MSE may exceed the float model's
    gate_on: str = "point"  # which figure meets the thresholds: see GATE_ON
    max_robust_drop: float | None = None  # points an export may lose under camera corruptions beyond what float loses

    def stored(self) -> dict:
        """The thresholds as parity.json stores them: fractions, as its figures."""
        return {k: (v / 100 if k in SHARES and v is not None else v) for k, v in self.__dict__.items()}

    def __post_init__(self):
        """UserError for a threshold that is not a finite number in range (NaN would pass every export)."""
        if not isinstance(self.gate_on, str) or self.gate_on not in GATE_ON:
            raise UserError(f"--gate-on (or gate_on in the [parity] table): {self.gate_on!r}; give one of "
                            f"{', '.join(GATE_ON)}")
        for name, top in (("max_drop", 100), ("min_agreement", 100), ("max_mse_increase", math.inf),
                          ("max_robust_drop", 100)):
            value = getattr(self, name)
            if value is None and name == "max_robust_drop":  # off by default
                continue
            if not (finite_number(value) and 0 <= value <= top):
                flag, bound = "--" + name.replace("_", "-"), f"from 0 to {top}" if top < math.inf else "of 0 or more"
                raise UserError(f"{flag} (or {name} in the [parity] table): {value!r} is not a finite number {bound}; "
                                f"give one, e.g. {flag} {getattr(Thresholds, name) or 2.0}")


def _same_head(scores: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Binary scores as two columns [1 - p, p] whichever head gave them (one sigmoid, or two scores)."""
    rows = scores.reshape(len(scores), -1)
    return np.concatenate([1 - rows, rows], axis=1) if spec.task == "binary" and rows.shape[1] == 1 else rows


def compare(name: str, scores: np.ndarray, float_scores: np.ndarray, targets: np.ndarray,
            spec: ModelSpec, thresholds: Thresholds) -> dict:
    """One row of the parity table; `failures` lists every threshold the export fails."""
    scores, float_scores = _same_head(scores, spec), _same_head(float_scores, spec)
    predicted, float_predicted = class_indices(scores, spec), class_indices(float_scores, spec)
    accuracy = metrics.accuracy(predicted, targets)
    float_accuracy = metrics.accuracy(float_predicted, targets)
    row = {
        "format": name,
        "accuracy": metrics.stored(accuracy),
        "drop": metrics.stored(float_accuracy - accuracy),
        "agreement": metrics.stored(metrics.agreement(predicted, float_predicted)),
        "disagreements": int(np.sum(predicted != float_predicted)),
        "max_abs_diff": round(float(np.max(np.abs(scores - float_scores))), 4),
        "mean_abs_diff": round(float(np.mean(np.abs(scores - float_scores))), 5),
        "recall": per_class_recall(predicted, targets, spec),
    }
    float_recall = per_class_recall(float_predicted, targets, spec)
    row["recall_delta"] = {label: metrics.stored(row["recall"][label] - float_recall[label]) for label in float_recall}
    row.update(intervals(predicted == targets, float_predicted == targets, predicted == float_predicted,
                         thresholds.max_drop / 100))
    row["failures"] = failures(row, thresholds)
    return row


def failures(row: dict, thresholds: Thresholds) -> list[str]:
    """Every threshold ROW fails, on the figures --gate-on names."""
    side = {"point": None, "upper": (1, 0), "lower": (0, 1)}[thresholds.gate_on]
    drop = row["drop"] if side is None else row["drop_ci95"][side[0]]
    agreement = row["agreement"] if side is None else row["agreement_ci95"][side[1]]
    what = "" if side is None else f" ({'upper' if side[0] else 'lower'} end of its 95% interval)"
    found = []
    if drop > metrics.stored(thresholds.max_drop / 100):
        found.append(f"accuracy drop {metrics.points(drop)} points{what} > --max-drop {thresholds.max_drop}")
    if agreement < metrics.stored(thresholds.min_agreement / 100):
        what = "" if side is None else f" ({'lower' if side[0] else 'upper'} end of its 95% interval)"
        found.append(f"agreement {metrics.percent(agreement)}{what} < --min-agreement {thresholds.min_agreement}")
    return found


def robust_failures(extra_loss: float, thresholds: Thresholds) -> list[str]:
    """The --max-robust-drop failure of an export that loses EXTRA_LOSS (a fraction) under corruption beyond the float
    model's loss."""
    if thresholds.max_robust_drop is None or extra_loss <= metrics.stored(thresholds.max_robust_drop / 100):
        return []
    return [f"loses {metrics.points(extra_loss)} points more than float under camera corruptions > --max-robust-drop "
            f"{thresholds.max_robust_drop}"]


def compare_regression(name: str, scores: np.ndarray, float_scores: np.ndarray, targets: np.ndarray,
                       thresholds: Thresholds) -> dict:
    """One row of the parity table for a regression model: MSE against the targets and its increase over float."""
    scores, float_scores = scores.reshape(len(targets)), float_scores.reshape(len(targets))
    mse, float_mse = metrics.mse(scores, targets), metrics.mse(float_scores, targets)
    increase = (mse - float_mse) / max(float_mse, 1e-12)
    row = {"format": name, "mse": round(mse, 5), "mse_increase": metrics.stored(increase),
           "max_abs_diff": round(float(np.max(np.abs(scores - float_scores))), 4),
           "mean_abs_diff": round(float(np.mean(np.abs(scores - float_scores))), 5), "failures": []}
    if metrics.stored(increase) > metrics.stored(thresholds.max_mse_increase / 100):
        row["failures"].append(f"MSE increase {metrics.percent(increase)} > --max-mse-increase {thresholds.max_mse_increase}")
    return row


def reference_row(float_scores: np.ndarray, targets: np.ndarray, spec: ModelSpec) -> dict:
    """The float model's own figure: accuracy, or MSE for regression."""
    if spec.task == "regression":
        return {"mse": round(metrics.mse(float_scores, targets), 5)}
    return {"accuracy": metrics.stored(metrics.accuracy(class_indices(float_scores, spec), targets))}


def per_class_recall(predicted: np.ndarray, targets: np.ndarray, spec: ModelSpec) -> dict[str, float]:
    return {label: metrics.stored(r) for label, r in metrics.per_class_recall(predicted, targets, spec.labels).items()}


ADVICE = ("int8 lost too much: the activations it loses most on are listed above; --recover keeps the fewest of them "
          "in float until the gate passes. Else try more calibration images (--calib-count), calibration images "
          "closer to what the device sees (--calib), --target any for ONNX on x86, or retraining with less extreme "
          "activations (BatchNorm, ReLU6)")


ROW_FIGURES = ("accuracy", "drop", "agreement", "corrupted_s3", "corrupted_extra_loss", "mse_increase", "recall",
               "recall_delta", "drop_ci95", "agreement_ci95")


def read_report(report: dict) -> dict:
    """A parity.json report in fractions, whichever version wrote it (before 0.6: percent and points, no `unit`)."""
    if report.get("unit") == metrics.UNIT:
        return report

    def row(old: dict) -> dict:
        return metrics.fractions(old, ROW_FIGURES) | (
            {"robustness": robustness.read(old["robustness"])} if "robustness" in old else {})

    return report | {"unit": metrics.UNIT, "rows": [row(r) for r in report["rows"]],
                     "thresholds": metrics.fractions(report.get("thresholds", {}), SHARES)}
