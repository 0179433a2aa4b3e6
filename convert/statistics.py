"""How sure a parity figure is. The accuracy drop gets a 95% interval from a paired bootstrap over the test images
(resampling images resamples the four kinds of pair: both right, only float right, only the export right, both
wrong, so it is drawn as multinomial counts of those four), the agreement a Wilson interval, and the images only one
of the two models gets right McNemar's exact test. `images_to_resolve` is the test-set size whose interval would be
as narrow as the gate's threshold on each side. Figures in fractions, as edge/metrics.py stores them."""

from __future__ import annotations

import math

import numpy as np

from edge import metrics

Z95 = 1.959964
DRAWS = 4000


def _binomial_tail(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), in log space (n may be thousands)."""
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(logs)
    return math.exp(top) * sum(math.exp(v - top) for v in logs)


def mcnemar_p(only_float: int, only_export: int) -> float:
    """Two-sided exact McNemar p-value: are the images only one model gets right split evenly between the two?"""
    n = only_float + only_export
    return 1.0 if n == 0 else min(1.0, 2 * _binomial_tail(min(only_float, only_export), n))


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, Z95 ** 2
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def intervals(correct: np.ndarray, float_correct: np.ndarray, agree: np.ndarray, max_drop: float,
              seed: int = 0) -> dict:
    """95% intervals of the drop and the agreement, McNemar's p, and the images needed to resolve a drop of MAX_DROP
    (a fraction: 0.01 is one point); CORRECT, FLOAT_CORRECT and AGREE are booleans per test image."""
    n = len(correct)
    cells = np.array([np.sum(correct & float_correct), np.sum(~correct & float_correct),
                      np.sum(correct & ~float_correct), np.sum(~correct & ~float_correct)])
    drawn = np.random.default_rng(seed).multinomial(n, cells / n, size=DRAWS)
    drops = (drawn[:, 1] - drawn[:, 2]) / n
    low, high = np.percentile(drops, [2.5, 97.5])
    only_float, only_export = int(cells[1]), int(cells[2])
    variance = (only_float + only_export) / n - ((only_float - only_export) / n) ** 2  # of one image's difference
    needed = math.ceil(Z95 ** 2 * variance / max_drop ** 2) if variance > 0 and max_drop > 0 else None
    return {"drop_ci95": [metrics.stored(low), metrics.stored(high)],
            "agreement_ci95": [metrics.stored(v) for v in wilson(int(np.sum(agree)), n)],
            "mcnemar_p": round(mcnemar_p(only_float, only_export), 4), "images_to_resolve": needed}
