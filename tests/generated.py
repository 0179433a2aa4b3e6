"""Generated data in the recipes' real formats: shape images (one shape per class), IDX files, emoji text rows,
elevation tiles, and videos made of the sample's photos. Each class is easy to learn, so a short run gives a confident model to quantise."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import cv2
import numpy as np


def _draw(kind: int, size: int, rng) -> np.ndarray:
    image = np.zeros((size, size), np.uint8)
    c, r = size // 2 + int(rng.integers(-size // 10, size // 10 + 1)), size // 4 + int(rng.integers(0, size // 10 + 1))
    shapes = [
        lambda: cv2.rectangle(image, (c - r, c - r), (c + r, c + r), 255, -1),
        lambda: cv2.circle(image, (c, c), r, 255, -1),
        lambda: [cv2.line(image, (0, y), (size, y), 255, max(1, size // 16)) for y in range(size // 8, size, size // 4)],
        lambda: [cv2.line(image, (x, 0), (x, size), 255, max(1, size // 16)) for x in range(size // 8, size, size // 4)],
        lambda: (cv2.line(image, (c - r, c), (c + r, c), 255, max(2, size // 8)), cv2.line(image, (c, c - r), (c, c + r), 255, max(2, size // 8))),
        lambda: cv2.line(image, (0, 0), (size, size), 255, max(2, size // 6)),
        lambda: cv2.circle(image, (c, c), r, 255, max(2, size // 10)),
        lambda: cv2.fillPoly(image, [np.array([[c, c - r], [c - r, c + r], [c + r, c + r]])], 255),
        lambda: cv2.rectangle(image, (2, 2), (size - 3, size - 3), 255, max(2, size // 10)),
        lambda: cv2.line(image, (size, 0), (0, size), 255, max(2, size // 6)),
    ]
    shapes[kind]()
    noise = rng.normal(0, 12, image.shape)
    return np.clip(image * rng.uniform(0.7, 1.0) + noise, 0, 255).astype(np.uint8)


def shapes(counts: list[int], size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, size, size, 1), class indices): COUNTS[k] images of shape k."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return np.stack([_draw(int(k), size, rng) for k in y])[..., None], y


def colour_folders(root: Path, counts: list[int], size: int = 64, seed: int = 0, names=None) -> list[str]:
    """ROOT/<class>/NNN.png colour images of one shape per class; returns the class names."""
    images, y = shapes(counts, size, seed)
    names = names or [f"class_{k}" for k in range(len(counts))]
    tint = np.random.default_rng(seed).integers(80, 255, (len(counts), 3))
    for index, (image, k) in enumerate(zip(images, y)):
        folder = root / names[k]
        folder.mkdir(parents=True, exist_ok=True)
        colour = (image.astype(np.float32) / 255 * tint[k]).astype(np.uint8)
        cv2.imwrite(str(folder / f"{index:04d}.png"), colour)
    return names


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fashion_folder(root: Path, train: int = 300, test: int = 100) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for stem, count, seed in (("train", train, 0), ("t10k", test, 1)):
        x, y = shapes([count // 10] * 10, 28, seed)
        order = np.random.default_rng(seed).permutation(len(y))
        write_idx(root / f"{stem}-images-idx3-ubyte.gz", x[order, ..., 0])
        write_idx(root / f"{stem}-labels-idx1-ubyte.gz", y[order])
    return root


def emoji_rows(path: Path, per_class: int = 24, names=("smile", "heart", "star", "sun", "moon")) -> Path:
    x, y = shapes([per_class] * len(names), 32, seed=2)
    bits = (x[..., 0] > 127).astype(np.uint8).reshape(len(y), -1)
    path.write_text("".join(f"{names[k]} " + " ".join(map(str, row)) + "\n" for k, row in zip(y, bits)))
    return path


def tiles(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Elevation-like tiles; the score (1-4) depends on the slope between two channels, plus noise."""
    x = rng.normal(size=(n, 20, 20, 4)).astype(np.float32)
    x[..., 1] += np.linspace(-1, 1, 20)[None, :, None] * rng.normal(size=(n, 1, 1))
    slope = x[..., 1].mean(axis=(1, 2)) - x[..., 3].mean(axis=(1, 2))
    y = np.clip(2.5 + 1.5 * np.tanh(6 * slope) + rng.normal(0, 0.2, n), 1, 4).astype(np.float32)
    return x, y


def cifar10_npz(path: Path, train: int = 400, test: int = 100) -> Path:
    """An .npz as `np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)` writes keras.datasets.cifar10's
    arrays: uint8 (N, 32, 32, 3) colour shapes, labels (N, 1) as CIFAR-10 gives them."""
    arrays, tint = {}, np.random.default_rng(3).integers(80, 255, (10, 3))  # a colour per class
    for part, count, seed in (("train", train, 3), ("test", test, 4)):
        gray, y = shapes([count // 10] * 10, 32, seed)
        order = np.random.default_rng(seed).permutation(len(y))
        arrays[f"x_{part}"] = (gray.astype(np.float32) / 255 * tint[y][:, None, None, :]).astype(np.uint8)[order]
        arrays[f"y_{part}"] = y[order, None].astype(np.uint8)
    np.savez(path, **arrays)
    return path


def alternating_clip(video: Path, photos: Path, runs=(3, 3, 3, 3), fps: float = 10, size: int = 160,
                     repeat: int = 1) -> Path:
    """A video (MJPG .avi) of runs of chihuahua and muffin photos from PHOTOS/<class>/: the label should change at
    each run. Each photo is held for REPEAT frames."""
    from edge.preprocess import read_image

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    chihuahuas, muffins = (sorted((photos / c).iterdir()) for c in ("chihuahua", "muffin"))
    for number, length in enumerate(runs):
        pool = chihuahuas if number % 2 == 0 else muffins
        for path in (pool * (1 + len(runs) * length // len(pool)))[number * length:(number + 1) * length]:
            image = cv2.resize(read_image(path), (size, size))
            for _ in range(repeat):
                writer.write(image)
    writer.release()
    return video


def outlier_cnn(root: Path, planted: str = "conv_a") -> tuple[Path, Path, Path]:
    """(ROOT with train/ and test/ class folders of generated shapes, a small CNN trained on them as .keras, the same
    CNN built to fail int8): in the second, convolution PLANTED's channel 0 is scaled up 1000 times and the next
    convolution's weights on it scaled down as much, so the float model is unchanged but one per-tensor int8 scale
    must cover values 1000 times larger than the rest of that activation, which then round to zero."""
    import shutil

    import keras

    from edge.folders import class_folder
    from edge.preprocess import prepare, read_image
    from edge.spec import ModelSpec
    from keras_io import archive

    colour_folders(root / "all", [90, 90, 90], size=32)
    for folder in sorted((root / "all").iterdir()):
        for i, path in enumerate(sorted(folder.iterdir())):
            target = root / ("test" if i % 3 == 0 else "train") / folder.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target / path.name)
    shutil.rmtree(root / "all")
    spec = ModelSpec("multiclass", ("class_0", "class_1", "class_2"), 32, 32, scale=1 / 127.5, offset=-1.0)
    train = class_folder(root / "train")
    x = np.stack([prepare(read_image(p), spec) for p in train.files])
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name=planted)(inputs)
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(pooled))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, np.asarray(train.targets), epochs=20, batch_size=16, verbose=0)
    healthy = archive.save(model, spec, root / "healthy.keras")
    kernel, bias = model.get_layer(planted).get_weights()
    kernel[..., 0], bias[0] = kernel[..., 0] * 1000, bias[0] * 1000
    model.get_layer(planted).set_weights([kernel, bias])
    kernel, bias = model.get_layer("conv_b").get_weights()
    kernel[:, :, 0, :] /= 1000
    model.get_layer("conv_b").set_weights([kernel, bias])
    return root, healthy, archive.save(model, spec, root / "planted.keras")
