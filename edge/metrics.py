"""Accuracy, agreement, per-class recall and MSE, computed once, in one unit: fractions (0..1), unrounded. Where
people read them (every command's terminal output, reports, Markdown tables) they are printed in percent, by
`percent`; JSON lines and edge-bench's files keep fractions."""

from __future__ import annotations

import numpy as np


def accuracy(predicted: np.ndarray, targets: np.ndarray) -> float:
    """Share of PREDICTED class indices equal to TARGETS."""
    return float(np.mean(np.asarray(predicted) == np.asarray(targets)))


def agreement(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Share of examples where two models predict the same class (top-1 agreement)."""
    return accuracy(predicted, reference)


def per_class_recall(predicted: np.ndarray, targets: np.ndarray, labels) -> dict[str, float]:
    """Recall of every label that occurs in TARGETS."""
    return {label: float(np.mean(predicted[targets == i] == i)) for i, label in enumerate(labels) if np.any(targets == i)}


def percentiles(values, quantiles) -> list[float]:
    """QUANTILES (0..1) of VALUES, linearly interpolated (np.percentile loads numpy.ma: 7 ms of start-up)."""
    ordered = np.sort(np.fromiter(values, float))
    return [float(v) for v in np.interp([q * (len(ordered) - 1) for q in quantiles], np.arange(len(ordered)), ordered)]


def mse(values: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error of VALUES (any shape with one value per target) against TARGETS."""
    return float(np.mean((np.asarray(values).reshape(len(targets)) - targets) ** 2))


def percent(fraction: float | None) -> str:
    """A fraction as every command prints it for people: 0.8234 -> '82.34%' ('' for None)."""
    return "" if fraction is None else f"{100 * fraction:.2f}%"
