"""The evaluation report of a run folder: PNG plots and report.md, drawn from metrics.json and evaluation.npz."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge import robustness
from edge.atomic import atomic_path, write_text
from edge.errors import UserError
from edge.metrics import percent, points
from edge.postprocess import class_indices
from edge.spec import ModelSpec
from edge.tables import markdown
from keras_io import archive
from train import embeddings


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _pyplot().close(figure)


def curves(history: dict, path: Path, metric: str, phases: dict | None = None) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for axis, key in zip(axes, ("loss", metric)):
        if phases and len(phases) > 1:
            axis.axvline(list(phases.values())[0] + 0.5, color="gray", ls=":", label=f"{list(phases)[1]} starts")
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                axis.plot(range(1, len(values) + 1), values, style, label=("validation " if prefix else "train ") + key)
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
        axis.grid(alpha=0.3)
    _save(figure, path)


def confusion(matrix: np.ndarray, labels: list[str], path: Path) -> None:
    plt = _pyplot()
    size = 2.5 + 0.5 * len(labels)
    figure, axis = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(matrix):
        axis.text(column, row, str(count), ha="center", va="center", color="white" if rates[row, column] > 0.5 else "black")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    _save(figure, path)


def recall_bars(recall: dict, path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 0.9 + 0.35 * len(recall)))
    axis.barh(list(recall), [100 * v for v in recall.values()], color="tab:blue")
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("recall on the test set (%)")
    for row, value in enumerate(recall.values()):
        axis.text(100 * value - 1, row, f"{100 * value:.1f}", ha="right", va="center", color="white")
    _save(figure, path)


def misclassified(pixels: np.ndarray, true: np.ndarray, predicted: np.ndarray, labels: list[str], path: Path) -> None:
    plt = _pyplot()
    columns = 6
    rows = max(1, int(np.ceil(len(pixels) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, t, p in zip(axes.flat, pixels, true, predicted):
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None)
        axis.set_title(f"predicted {labels[p]}\ntrue {labels[t]}", fontsize=8, color="tab:red")
    _save(figure, path)


def scatter_views(views: dict, targets: np.ndarray, labels: list[str], path: Path) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(views), figsize=(5 * len(views), 4.4), squeeze=False)
    for axis, (name, projected) in zip(axes.flat, views.items()):
        for index, label in enumerate(labels):
            mask = targets == index
            axis.scatter(projected[mask, 0], projected[mask, 1], s=6, label=label, alpha=0.7)
        axis.set_title(f"{name} of penultimate features")
        axis.set_xticks([])
        axis.set_yticks([])
    axes.flat[-1].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    _save(figure, path)


def elbow_plot(result: dict, path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.4))
    axis.plot(result["k"], result["inertia"], "o-")
    axis.axvline(result["elbow_k"], color="tab:red", ls="--", label=f"elbow k={result['elbow_k']}")
    axis.set_xlabel("k (K-means clusters)")
    axis.set_ylabel("inertia")
    axis.set_title(f"K-means on {result['pca_components_95']} PCA components (95% variance)")
    axis.legend()
    _save(figure, path)


def regression_plot(scores: np.ndarray, targets: np.ndarray, path: Path) -> None:
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.scatter(targets, scores, s=6, alpha=0.5)
    low, high = float(min(targets.min(), scores.min())), float(max(targets.max(), scores.max()))
    left.plot([low, high], [low, high], "k--", lw=1)
    left.set_xlabel("true")
    left.set_ylabel("predicted")
    right.hist(scores - targets, bins=40)
    right.set_xlabel("predicted - true")
    _save(figure, path)


def _spec(folder: Path, recipe: str) -> ModelSpec:
    models = sorted(folder.glob("*.keras"))
    if not models:
        raise UserError(f"{folder}: no .keras model; point at a run folder that `train` wrote")
    stem = recipe.replace("-", "_")
    return archive.read_spec(folder / f"{stem}.keras" if (folder / f"{stem}.keras").exists() else models[0])


def _summary(metrics: dict, regression: bool) -> list[str]:
    """Title, headline figures, cross-validation and epoch times."""
    settings, test, train = metrics["settings"], metrics["test"], metrics["train"]
    model_name = settings.get("model") or settings.get("architecture")  # run folders of 0.1.0 call it architecture
    if model_name == "transfer":
        model_name = f"transfer learning on {settings['backbone']}" + (
            f", fine-tuning {settings['fine_tune_layers']}+ layers" if settings.get("fine_tune_layers") else "")
    headline = (f"test MSE **{test['mse']}**, MAE {test['mae']}" if regression else
                f"test accuracy **{100 * test['accuracy']:.2f}%** on {test['images']} images"
                + (f", top-3 {100 * test['top3_accuracy']:.2f}%" if "top3_accuracy" in test else ""))
    train_line = f"train MSE {train['mse']}" if regression else f"train accuracy {100 * train['accuracy']:.2f}%"
    page = [f"# {metrics['recipe']}: {model_name}", "", f"{headline}; {train_line}.", ""]
    if metrics.get("folds"):
        folds = metrics["folds"]
        page += [f"{len(folds['per_fold'])}-fold cross-validation {folds['metric']}: mean **{folds['mean']}**, std "
                 f"{folds['std']} (folds: {', '.join(map(str, folds['per_fold']))}). {test.get('note', '')}", ""]
    seconds = metrics.get("epoch_seconds") or []
    if seconds:
        spans, start = [], 0
        for name, count in (metrics.get("phases") or {"training": len(seconds)}).items():
            spans.append(f"{count} {name} epochs (median {float(np.median(seconds[start:start + count])):.1f} s)")
            start += count
        page += [f"{', then '.join(spans)} on this machine; best epoch {metrics.get('best_epoch')}"
                 f"{' (interrupted by Ctrl-C)' if metrics.get('interrupted') else ''}.", ""]
    return page


def _per_class(folder: Path, test: dict, arrays: dict, spec: ModelSpec) -> list[str]:
    """Confusion matrix, recall bars and the grid of misclassified examples."""
    labels = list(spec.labels)
    confusion(np.array(test["confusion_matrix"]["rows_true_columns_predicted"]), labels, folder / "confusion.png")
    recall_bars(test["per_class_recall"], folder / "recall.png")
    recall = [{"class": k, "recall": f"{100 * v:.1f}%"} for k, v in test["per_class_recall"].items()]
    page = ["## Per class", "", markdown(recall, ["class", "recall"]), "",
            "![confusion matrix](confusion.png) ![per-class recall](recall.png)", ""]
    wrong = arrays["wrong_index"]
    if len(wrong):
        predicted = class_indices(arrays["scores"][wrong], spec)
        misclassified(arrays["wrong_pixels"], arrays["targets"][wrong], predicted, labels, folder / "misclassified.png")
        page += [f"## Misclassified ({len(wrong)} shown)", "", "![misclassified test images](misclassified.png)", ""]
    return page


def _embeddings(folder: Path, arrays: dict, spec: ModelSpec) -> list[str]:
    """PCA / t-SNE / UMAP views of the penultimate features, and K-means clusters against the labels."""
    labels = list(spec.labels)
    features, feature_targets = arrays["features"], arrays["feature_targets"]
    scatter_views(embeddings.projections(features), feature_targets, labels, folder / "embeddings.png")
    result = embeddings.clusters(features, feature_targets, spec.labels)
    elbow_plot(result, folder / "kmeans_elbow.png")
    write_text(folder / "clusters.json", json.dumps(result, indent=2))
    table = [{"cluster": i} | dict(zip(labels, row)) for i, row in enumerate(result["clusters_vs_labels"]["rows_cluster_columns_label"])]
    source = str(arrays.get("feature_source", "test"))
    return ["## Embeddings", "", f"Penultimate-layer features of {result['examples']} {source} examples. K-means with "
            f"k = {len(labels)} on {result['pca_components_95']} PCA components (95% of the variance): adjusted Rand "
            f"index against the labels **{result['adjusted_rand_index']}**; the elbow of the inertia curve is at "
            f"k = {result['elbow_k']}.", "", "![projections](embeddings.png) ![elbow](kmeans_elbow.png)", "",
            markdown(table, ["cluster"] + labels), ""]


def _robustness(folder: Path, result: dict | None) -> list[str]:
    """The accuracy table and chart under camera corruptions, or why there is none."""
    if not result:  # run folders before 0.4.0
        return []
    if "not_measured" in result:
        return ["## Under camera corruptions", "", f"Not measured: {result['not_measured']}.", ""]
    result = robustness.read(result)
    middle = result["middle"]
    chart = robustness.chart(result, folder / "robustness.png", "accuracy under camera corruptions")
    return ["## Under camera corruptions", "",
            f"{result['images']} test images (the same share from every class, seed {result['seed']}), each corrupted "
            f"by every family (edge/corruptions.py) at severities {', '.join(map(str, result['severities']))}. At "
            f"severity {middle['severity']} the mean over the {len(result['accuracy'])} families is "
            f"**{percent(middle['mean'])}** ({points(middle['mean_drop'])} points below clean); the worst is "
            f"{middle['worst_family']}, {points(middle['worst_drop'])} points below.", "", robustness.markdown_table(result), "", f"![accuracy under corruption]({chart})", ""]


def write(folder: Path) -> Path:
    """Draw every plot of the run in FOLDER and write report.md; returns its path."""
    folder = Path(folder)
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        arrays = dict(np.load(folder / "evaluation.npz", allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder}: needs metrics.json and evaluation.npz from a `train` run ({exc})") from None
    spec = _spec(folder, metrics["recipe"])
    regression = spec.task == "regression"
    curves(metrics["history"], folder / "curves.png", "mae" if regression else "accuracy", metrics.get("phases"))
    page = _summary(metrics, regression) + ["![training curves](curves.png)", ""]
    if regression:
        regression_plot(arrays["scores"].reshape(-1), arrays["targets"], folder / "regression.png")
        page += ["![predicted vs true](regression.png)", ""]
    else:
        page += (_per_class(folder, metrics["test"], arrays, spec) + _robustness(folder, metrics.get("robustness"))
                 + _embeddings(folder, arrays, spec))
    path = folder / "report.md"
    write_text(path, "\n".join(page))
    return path
