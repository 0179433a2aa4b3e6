"""The two array data sets that are not photos. Both are read without pickle.

emojis: a text file, one image per row: the label, then 1,024 pixels (0 or 1) of a 32x32 binary image, separated by
spaces or commas. Labels may be names or numbers.
navigability: an .npz with `x` (N, 20, 20, 4) elevation tiles and `y` (N,) navigability scores from 1 to 4."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.folders import read_xy

EMOJI_SIDE = 32


def read_emojis(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(x uint8 (N, 32, 32, 1) in {0, 255}, y class indices, labels sorted)."""
    if not path.is_file():
        raise UserError(f"--data {path}: no such file; give the emoji text file (label then 1,024 pixels per row)")
    names, rows = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            fields = [f for f in re.split(r"[\s,;]+", line.strip()) if f]
            if not fields:
                continue
            if len(fields) != 1 + EMOJI_SIDE**2:
                raise UserError(f"{path}:{number}: {len(fields)} fields; each row is a label and {EMOJI_SIDE**2} pixels")
            if any(f not in ("0", "1") for f in fields[1:]):
                raise UserError(f"{path}:{number}: pixels must be 0 or 1 (binary images)")
            names.append(fields[0])
            rows.append(np.array(fields[1:], dtype=np.uint8))
    if not rows:
        raise UserError(f"{path}: no rows; the file is empty")
    labels = tuple(sorted(set(names), key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n)))
    if len(labels) < 2:
        raise UserError(f"{path}: every row has label {labels[0]!r}; a classifier needs at least two classes")
    index = {name: i for i, name in enumerate(labels)}
    x = np.stack(rows).reshape(-1, EMOJI_SIDE, EMOJI_SIDE, 1) * np.uint8(255)
    return x, np.array([index[n] for n in names], np.int64), labels


def read_navigability(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, 20, 20, 4), y float32 scores)."""
    x, y = read_xy(path)
    if x.ndim != 4 or x.shape[1:] != (20, 20, 4) or y.shape != (len(x),):
        raise UserError(f"--data {path}: x is {x.shape} and y {y.shape}; want x (N, 20, 20, 4) and y (N,)")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UserError(f"--data {path}: x or y holds NaN or infinity; clean the tiles first")
    return x.astype(np.float32), y.astype(np.float32)
