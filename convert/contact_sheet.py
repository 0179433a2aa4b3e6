"""A PNG grid of the images where an export and the float model disagree, each captioned with both labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.atomic import atomic_path
from edge.preprocess import read_image

THUMB = 160
CAPTION = 36


def _tile(path: Path, float_label: str, export_label: str, export_name: str) -> np.ndarray:
    image = read_image(path)
    h, w = image.shape[:2]
    s = THUMB / max(h, w)
    image = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.full((THUMB + CAPTION, THUMB, 3), 255, np.uint8)
    tile[: image.shape[0], : image.shape[1]] = image
    for row, text in enumerate((f"float: {float_label}", f"{export_name}: {export_label}")):
        cv2.putText(tile, text, (3, THUMB + 14 + 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def write(path: Path, items: list[tuple[Path, str, str]], export_name: str, columns: int = 8, limit: int = 64) -> None:
    """Write a grid of up to LIMIT (image path, float label, export label) tiles to PATH."""
    tiles = [_tile(p, f, e, export_name) for p, f, e in items[:limit]]
    columns = min(columns, len(tiles))
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    grid = np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), grid):
            raise OSError(f"OpenCV could not write {path}")
