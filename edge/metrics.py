"""Accuracy, agreement, per-class recall and MSE, computed once, in one unit: fractions (0..1). Every file the
toolkit writes stores them so (metrics.json, parity.json and its robustness blocks, the spec's parity figures,
edge-bench's files, JSON lines), differences too (a drop of 0.01 is one point), marked `"unit": "fraction"` where a
block of them is stored; where people read them (terminal output, reports, Markdown tables) they are printed in
percent by `percent` and `points`. `fractions` reads a block written before 0.6, in percent, as fractions."""

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


UNIT = "fraction"  # the `unit` entry of a stored block of figures


def stored(fraction: float) -> float:
    """A fraction as files store it: rounded to 6 places (a hundredth of a point), so that 0.86 - 0.85 is 0.01."""
    return round(float(fraction), 6)


def fractions(block, keys):
    """BLOCK (a dict of figures written before 0.6, in percent and points) with KEYS in fractions; a block marked
    `"unit": "fraction"` as it is. A key may hold a number, or a dict or list of them (strings and flags kept). The
    caller marks what it stores."""
    if not isinstance(block, dict) or block.get("unit") == UNIT:
        return block

    def old(value):
        if isinstance(value, dict):
            return {k: old(v) for k, v in value.items()}
        if isinstance(value, list):
            return [old(v) for v in value]
        return stored(value / 100) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    return block | {key: old(block[key]) for key in keys if key in block}


def points(fraction: float | None) -> str:
    """A difference of two fractions as people read it, in points: 0.0123 -> '1.23' ('' for None)."""
    return "" if fraction is None else f"{100 * fraction:.2f}"


def percent(fraction: float | None) -> str:
    """A fraction as every command prints it for people: 0.8234 -> '82.34%' ('' for None)."""
    return "" if fraction is None else f"{100 * fraction:.2f}%"
