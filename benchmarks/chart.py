"""Latency against accuracy, one point per model and thread count, drawn with OpenCV (no plotting library needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.atomic import atomic_path

WIDTH, HEIGHT, MARGIN = 900, 560, 70
COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140), (194, 119, 227)]


def write(path: Path, rows: list[dict]) -> bool:
    """Write the chart; False (and no file) when no row has both a latency and an accuracy."""
    points = [r for r in rows if r.get("median_ms") and r.get("accuracy") is not None]
    if not points:
        return False
    latency = np.array([r["median_ms"] for r in points])
    accuracy = np.array([100 * r["accuracy"] for r in points])
    x_max = latency.max() * 1.1
    y_min, y_max = min(accuracy.min(), 99.0) - 0.5, 100.0

    def at(ms: float, acc: float) -> tuple[int, int]:
        return (int(MARGIN + (WIDTH - 2 * MARGIN) * ms / x_max),
                int(HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * (acc - y_min) / (y_max - y_min)))

    canvas = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    cv2.line(canvas, at(0, y_min), at(x_max, y_min), (0, 0, 0), 1)
    cv2.line(canvas, at(0, y_min), at(0, y_max), (0, 0, 0), 1)
    for ms in np.linspace(0, x_max, 6)[1:]:
        cv2.putText(canvas, f"{ms:.1f}", at(ms, y_min)[0:1] + (HEIGHT - MARGIN + 20,), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for acc in np.linspace(y_min, y_max, 5):
        cv2.putText(canvas, f"{acc:.1f}", (8, at(0, acc)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(canvas, "median latency (ms)", (WIDTH // 2 - 80, HEIGHT - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(canvas, "accuracy (%)", (8, MARGIN - 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    models = list(dict.fromkeys(r["model"] for r in points))
    for row, ms, acc in zip(points, latency, accuracy):
        colour = COLOURS[models.index(row["model"]) % len(COLOURS)]
        centre = at(ms, acc)
        cv2.circle(canvas, centre, 6, colour, -1, cv2.LINE_AA)
        cv2.putText(canvas, f"{row['model']} x{row['threads']}", (centre[0] + 8, centre[1] - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), canvas)
    return True
