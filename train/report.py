"""Evaluation figures for a classifier: loss, accuracy, per-class recall and the confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss

from edge.postprocess import class_indices
from edge.spec import ModelSpec


def classification(scores: np.ndarray, targets: np.ndarray, spec: ModelSpec) -> dict:
    predicted = class_indices(scores, spec)
    probabilities = scores.reshape(len(scores), -1)[:, 0] if spec.task == "binary" else scores
    matrix = confusion_matrix(targets, predicted, labels=range(len(spec.labels)))
    with np.errstate(invalid="ignore"):
        recall = matrix.diagonal() / matrix.sum(axis=1)
    return {
        "images": int(len(targets)),
        "loss": round(float(log_loss(targets, probabilities, labels=list(range(len(spec.labels))))), 4),
        "accuracy": round(float(np.mean(predicted == targets)), 4),
        "per_class_recall": {label: round(float(r), 4) for label, r in zip(spec.labels, recall)},
        "confusion_matrix": {"labels": list(spec.labels), "rows_true_columns_predicted": matrix.tolist()},
    }
