"""Model scores -> class index, label and confidence, as the spec's task says."""

from __future__ import annotations

import numpy as np

from edge.spec import ModelSpec


def class_indices(scores: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Predicted class per row: a sigmoid above 0.5 is labels[1] for binary; argmax otherwise."""
    if spec.task == "binary":
        return (scores.reshape(len(scores), -1)[:, 0] > 0.5).astype(np.int64)
    return np.argmax(scores, axis=-1)


def top_label(scores: np.ndarray, spec: ModelSpec) -> tuple[str, float]:
    """(label, confidence) for one image's scores; regression gives ("value", prediction)."""
    scores = np.asarray(scores, dtype=np.float32).ravel()
    if spec.task == "regression":
        return "value", float(scores[0])
    if spec.task == "binary":
        p = float(scores[0])
        return (spec.labels[1], p) if p > 0.5 else (spec.labels[0], 1.0 - p)
    index = int(np.argmax(scores))
    return spec.labels[index], float(scores[index])
