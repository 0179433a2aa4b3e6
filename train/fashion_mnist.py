"""Fashion-MNIST from its original IDX files (.gz or plain), as the Debian package `dataset-fashion-mnist` installs
them; keras.datasets (a download) only when no folder is given and the Debian one is missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from edge.errors import UserError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
LABELS = ("T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {  # split: (images, labels), each as .gz or uncompressed
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array of unsigned bytes: 2 zero bytes, type 0x08, the number of dimensions, big-endian int32 sizes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read ({exc}); re-install the data (apt install dataset-fashion-mnist)") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise UserError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()}, want 000008xx)")
    ndim = raw[3]
    shape = tuple(int(n) for n in np.frombuffer(raw, ">i4", ndim, offset=4))
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise UserError(f"{path}: header says {shape} ({int(np.prod(shape))} bytes) but holds {len(body)}; the file is truncated")
    return np.frombuffer(body, np.uint8).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder}: {stem}.gz is missing; --data needs the four Fashion-MNIST IDX files")


def _split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = (read_idx(_find(folder, stem)) for stem in FILES[split])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UserError(f"{folder}: {split} images {images.shape} and labels {labels.shape} do not pair up")
    if labels.max() >= len(LABELS):
        raise UserError(f"{folder}: {split} labels go up to {labels.max()}; Fashion-MNIST has {len(LABELS)} classes")
    return images[..., None], labels.astype(np.int64)


def load(folder: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(train_x, train_y, test_x, test_y, source): uint8 images (N, 28, 28, 1) and class indices."""
    if folder is None and DEBIAN_DIR.is_dir():
        folder = DEBIAN_DIR
    if folder is None:
        import keras

        try:
            (train_x, train_y), (test_x, test_y) = keras.datasets.fashion_mnist.load_data()
        except Exception as exc:  # keras raises a bare Exception when the download fails
            raise UserError(f"--data: {DEBIAN_DIR} is missing and the download failed ({str(exc)[:120]}); "
                            "apt install dataset-fashion-mnist, or give --data FOLDER with the four IDX files") from None
        return train_x[..., None], train_y.astype(np.int64), test_x[..., None], test_y.astype(np.int64), "keras.datasets"
    if not Path(folder).is_dir():
        raise UserError(f"--data {folder}: no such folder; give the folder of the Fashion-MNIST IDX files")
    return (*_split(Path(folder), "train"), *_split(Path(folder), "test"), str(folder))
