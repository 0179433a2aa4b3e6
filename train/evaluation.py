"""Evaluation figures (accuracy, top-3, per-class recall, confusion matrix; MSE and MAE for regression) and the
arrays a report is drawn from, saved as evaluation.npz so `train report RUN` can redraw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss

from edge import metrics
from edge.postprocess import class_indices
from edge.spec import ModelSpec

MAX_EMBEDDED = 2000  # examples kept for the embedding view (t-SNE is quadratic)
MIN_TEST_EMBEDDED = 500  # below this many test examples, the embedding view adds the training examples
MAX_MISCLASSIFIED = 36


def summary(scores: np.ndarray, targets: np.ndarray, spec: ModelSpec) -> dict:
    if spec.task == "regression":
        error = scores.reshape(-1) - targets
        return {"examples": int(len(targets)), "mse": round(metrics.mse(scores, targets), 4),
                "mae": round(float(np.mean(np.abs(error))), 4)}
    predicted = class_indices(scores, spec)
    probabilities = scores.reshape(len(scores), -1)[:, 0] if spec.task == "binary" else scores
    matrix = confusion_matrix(targets, predicted, labels=range(len(spec.labels)))
    result = {
        "images": int(len(targets)),
        "loss": round(float(log_loss(targets, probabilities, labels=list(range(len(spec.labels))))), 4),
        "accuracy": round(metrics.accuracy(predicted, targets), 4),
    }
    if len(spec.labels) > 3:
        top3 = np.argsort(-scores, axis=1)[:, :3]
        result["top3_accuracy"] = round(float(np.mean((top3 == targets[:, None]).any(axis=1))), 4)
    recall = metrics.per_class_recall(predicted, targets, spec.labels)  # the labels that occur among the targets
    result["per_class_recall"] = {label: round(r, 4) for label, r in recall.items()}
    result["confusion_matrix"] = {"labels": list(spec.labels), "rows_true_columns_predicted": matrix.tolist()}
    return result


def fold_summary(folds: list[dict], spec: ModelSpec) -> dict:
    """Mean and standard deviation over cross-validation folds."""
    key = "mse" if spec.task == "regression" else "accuracy"
    values = np.array([fold[key] for fold in folds])
    return {"metric": key, "per_fold": values.round(4).tolist(), "mean": round(float(values.mean()), 4),
            "std": round(float(values.std()), 4)}


def penultimate(model):
    """The model that outputs the layer before the classifier: the features the embedding view projects."""
    import keras

    return keras.Model(model.inputs, model.layers[-2].output)


def save_arrays(folder: Path, pixels: np.ndarray, targets: np.ndarray, scores: np.ndarray, spec: ModelSpec,
                features: tuple | None, train_targets: np.ndarray) -> None:
    """evaluation.npz: test scores and targets, penultimate FEATURES (of test examples, and of training examples when
    the test set is small) and the misclassified images."""
    arrays = {"scores": scores, "targets": targets}
    if spec.task != "regression":
        test_features, train_features = features
        feature_targets, source = targets[:len(test_features)], "test"  # the first examples, when only those were embedded
        merged = test_features.reshape(len(feature_targets), -1)
        if train_features is not None and len(targets) < MIN_TEST_EMBEDDED:
            merged = np.concatenate([merged, train_features.reshape(len(train_features), -1)])
            feature_targets, source = np.concatenate([feature_targets, train_targets[:len(train_features)]]), "test and training"
        sample = np.sort(np.random.default_rng(0).permutation(len(feature_targets))[:MAX_EMBEDDED])
        wrong = np.flatnonzero(class_indices(scores, spec) != targets)[:MAX_MISCLASSIFIED]
        arrays.update(features=merged[sample], feature_targets=feature_targets[sample], feature_source=np.array(source),
                      wrong_index=wrong, wrong_pixels=pixels[wrong])
    np.savez_compressed(folder / "evaluation.npz", **arrays)
