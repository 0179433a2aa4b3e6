"""Accuracy under camera corruptions (edge/corruptions.py): a fixed, seeded sample of the test examples, each
corrupted by every family at a few severities, classified by any predict function (a Keras model in `train`, each
export's runner in `convert quantize`). The same seed gives the same corrupted images, so two models' figures are
paired. Accuracies and drops in fractions (edge/metrics.py); `read` takes a block written before 0.6, in percent."""

from __future__ import annotations

import time
import zlib
from typing import Callable

import numpy as np

from edge import ROBUSTNESS_IMAGES, metrics
from edge.corruptions import MIDDLE, corrupt, families
from edge.folders import stratified
from edge.postprocess import class_indices
from edge.preprocess import normalize
from edge.spec import ModelSpec

SEVERITIES = (1, MIDDLE, 5)  # train's report: mild, middle, severe (convert's default: edge.ROBUSTNESS_SEVERITIES)
BATCH = 32


def not_applicable(spec: ModelSpec) -> str | None:
    """Why camera corruptions mean nothing to SPEC's model, or None when they apply."""
    if spec.task == "regression":
        return "a regression model"
    if spec.color_order == "none":
        return "raw arrays, not pictures"
    return None


def _seed(seed: int, index: int, family: str, severity: int) -> list[int]:
    return [seed, index, zlib.crc32(family.encode()), severity]


def evaluate(predict: Callable[[np.ndarray], np.ndarray], pixels, targets: np.ndarray, spec: ModelSpec,
             images: int = ROBUSTNESS_IMAGES, severities=SEVERITIES, seed: int = 0) -> dict:
    """Accuracy of PREDICT (float batch -> scores) on up to IMAGES examples of PIXELS (uint8, at the model's size;
    the same share from every class), clean and under every family at each of SEVERITIES."""
    return evaluate_many({"model": predict}, pixels, targets, spec, images, severities, seed)[0]["model"]


def evaluate_many(predicts: dict[str, Callable[[np.ndarray], np.ndarray]], pixels, targets: np.ndarray,
                  spec: ModelSpec, images: int = ROBUSTNESS_IMAGES, severities=SEVERITIES, seed: int = 0
                  ) -> tuple[dict[str, dict], dict[str, float]]:
    """evaluate() for several models on the same corrupted images, each batch corrupted once and given to every one
    of PREDICTS (name -> predict); (name -> result, name -> seconds spent predicting)."""
    rows = stratified(np.asarray(targets), images, np.random.default_rng(seed))
    sample, truth = np.asarray(pixels[rows]), np.asarray(targets)[rows]
    seconds = dict.fromkeys(predicts, 0.0)

    def accuracies(family: str | None, severity: int) -> dict[str, float]:
        predicted = {name: [] for name in predicts}
        for start in range(0, len(sample), BATCH):
            batch = sample[start:start + BATCH]
            if family:
                batch = np.stack([corrupt(image, family, severity, _seed(seed, int(rows[start + i]), family, severity))
                                  for i, image in enumerate(batch)])
            count = len(batch)
            if len(sample) > BATCH and count < BATCH:  # one batch size throughout: a Keras model traces once
                batch = np.concatenate([batch, np.repeat(batch[-1:], BATCH - count, axis=0)])
            inputs = normalize(batch, spec)
            for name, predict in predicts.items():
                started = time.perf_counter()
                predicted[name].append(class_indices(np.asarray(predict(inputs))[:count], spec))
                seconds[name] += time.perf_counter() - started
        return {name: metrics.stored(metrics.accuracy(np.concatenate(found), truth)) for name, found in predicted.items()}

    names = families(spec.channels)
    clean = accuracies(None, 0)
    grid = {family: [accuracies(family, severity) for severity in severities] for family in names}
    results = {name: summary(clean[name], {family: [cell[name] for cell in grid[family]] for family in names},
                             list(severities), len(rows), seed) for name in predicts}
    return results, {name: round(value, 1) for name, value in seconds.items()}


def summary(clean: float, table: dict[str, list[float]], severities: list[int], images: int, seed: int) -> dict:
    """The report: CLEAN accuracy, TABLE (family -> accuracy at each of SEVERITIES), the mean and the worst family
    at each severity, and the figures at the middle one."""
    columns = np.array(list(table.values()))
    means = [metrics.stored(m) for m in columns.mean(axis=0)]
    worst = [min(table, key=lambda family: table[family][i]) for i in range(len(severities))]
    middle = severities.index(MIDDLE) if MIDDLE in severities else len(severities) // 2
    return {"unit": metrics.UNIT, "images": images, "seed": seed, "severities": severities, "clean": clean,
            "accuracy": table, "mean": means, "worst": [{"family": f, "accuracy": table[f][i]} for i, f in enumerate(worst)],
            "middle": {"severity": severities[middle], "mean": means[middle],
                       "mean_drop": metrics.stored(clean - means[middle]), "worst_family": worst[middle],
                       "worst_drop": metrics.stored(clean - table[worst[middle]][middle])},
            "corrupted_mean": metrics.stored(columns.mean())}


def read(result: dict) -> dict:
    """A stored report in fractions, whichever version wrote it (before 0.6: percent and points, no `unit`)."""
    if not isinstance(result, dict) or "clean" not in result or result.get("unit") == metrics.UNIT:
        return result
    middle = metrics.fractions(result["middle"], ("mean", "mean_drop", "worst_drop"))  # its severity stays
    return metrics.fractions(result, ("clean", "accuracy", "mean", "worst", "corrupted_mean")) | {
        "middle": middle, "unit": metrics.UNIT}


def extra_loss(export: dict, reference: dict) -> float:
    """What EXPORT loses under corruption (clean minus the mean over every family and severity) beyond what
    REFERENCE, the float model on the same corrupted images, loses (a fraction: 0.01 is one point)."""
    return metrics.stored((export["clean"] - export["corrupted_mean"]) - (reference["clean"] - reference["corrupted_mean"]))


def markdown_table(result: dict) -> str:
    """Family by severity in percent, the clean accuracy first and the mean last."""
    severities = result["severities"]
    header = "| corruption | clean | " + " | ".join(f"severity {s}" for s in severities) + " |"
    lines = [header, "|" + "---|" * (len(severities) + 2)]
    for family, values in result["accuracy"].items():
        lines.append(f"| {family} | {100 * result['clean']:.2f} | " + " | ".join(f"{100 * v:.2f}" for v in values) + " |")
    lines.append(f"| **mean** | {100 * result['clean']:.2f} | "
                 + " | ".join(f"**{100 * v:.2f}**" for v in result["mean"]) + " |")
    return "\n".join(lines)


def chart(result: dict, path, title: str) -> str:
    """A PNG of accuracy against severity per family (needs matplotlib, which train and convert install); returns
    its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge.atomic import atomic_path

    severities = [0] + list(result["severities"])
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for family, values in result["accuracy"].items():
        axis.plot(severities, [100 * v for v in [result["clean"]] + values], marker="o", lw=1.2, label=family)
    axis.plot(severities, [100 * v for v in [result["clean"]] + result["mean"]], "k-", lw=3, label="mean")
    axis.set_xticks(severities, ["clean"] + [str(s) for s in result["severities"]])
    axis.set_xlabel("severity")
    axis.set_ylabel("accuracy (%)")
    axis.set_title(f"{title}: {result['images']} test images", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return path.name
