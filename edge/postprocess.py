"""Model scores -> class index, label and confidence, as the spec's task says; smoothing over recent frames."""

from __future__ import annotations

import collections

import numpy as np

from edge.spec import ModelSpec

UNSURE = "unsure"


def class_indices(scores: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Predicted class per row: a sigmoid above 0.5 is labels[1] for binary; argmax otherwise. A tie goes to the
    first label: a sigmoid of exactly 0.5 (int8 outputs land there) is labels[0], as is argmax's first maximum."""
    rows = scores.reshape(len(scores), -1)
    if spec.task == "binary" and rows.shape[1] == 1:
        return (rows[:, 0] > 0.5).astype(np.int64)
    return np.argmax(rows, axis=-1)


def probabilities(scores: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """One image's scores as a probability per label: [1 - p, p] for a sigmoid, softmax for logits."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if spec.task == "binary" and scores.size == 1:
        return np.array([1.0 - scores[0], scores[0]])
    if scores.min() >= 0 and abs(scores.sum() - 1) < 1e-3:
        return scores
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def top_k(probs: np.ndarray, spec: ModelSpec, k: int = 1, unsure_below: float = 0.0) -> list[tuple[str, float]]:
    """The K most likely (label, probability); the first label is `unsure` when its probability is below UNSURE_BELOW.
    Equal probabilities keep the labels' order (a stable sort), so a tie goes to the first label, as in class_indices."""
    order = np.argsort(-probs, kind="stable")[:k]
    best = [(spec.labels[i], float(probs[i])) for i in order]
    if best[0][1] < unsure_below:
        best[0] = (UNSURE, best[0][1])
    return best


class Smoother:
    """Mean of the probabilities of the last N frames, so a label does not flicker on one odd frame."""

    def __init__(self, frames: int):
        self.recent = collections.deque(maxlen=max(1, frames))

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        self.recent.append(probs)
        return np.mean(self.recent, axis=0)
