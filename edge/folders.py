"""Image folders: a flat folder of images, or a folder of class folders (the class is the folder name)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.preprocess import read_image
from edge.progress import progress


def _entries(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(files, folders, the rest) of FOLDER, sorted, hidden names left out. The rest (FIFOs, sockets, broken or
    looping links) cannot be images; they are warned about and counted, not silently passed over."""
    files, folders, rest = [], [], []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        (files if path.is_file() else folders if path.is_dir() else rest).append(path)
    return files, folders, rest


def _files(folder: Path, warn: bool = True) -> tuple[list[Path], list[Path]]:
    """(regular files, ignored entries) of FOLDER; a warning names what was ignored."""
    files, _, rest = _entries(folder)
    _warn_ignored(rest, "are not regular files (a FIFO, a broken or looping link)", warn)
    return files, rest


def _warn_ignored(paths: list[Path], why: str, warn: bool = True) -> None:
    if paths and warn:
        names = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        print(f"warning: {paths[0].parent}: ignored {len(paths)} entr{'y' if len(paths) == 1 else 'ies'} ({names}) "
              f"that {why}", file=sys.stderr)


@dataclass
class LabelledFolder:
    """Files of a folder of class folders, in sorted order; classes are the sorted folder names."""

    root: Path
    classes: list[str]
    files: list[Path]
    targets: list[int]
    skipped: list[Path] = field(default_factory=list)  # files that did not decode
    ignored: list[Path] = field(default_factory=list)  # entries that are not in a class or not files, warned about


def class_folder(root: str | Path, min_classes: int = 2, warn: bool = True) -> LabelledFolder:
    """Scan ROOT/<class>/<image>; UserError for a missing root, too few classes or an empty class; with WARN, a
    warning for each kind of entry left out."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such data folder; pass a folder that holds one sub-folder per class")
    loose, class_dirs, rest = _entries(root)
    _warn_ignored(loose, "lie beside the class folders, in no class; move them into their class's folder", warn)
    _warn_ignored(rest, "are not folders (a FIFO, a broken or looping link)", warn)
    ignored = loose + rest
    if len(class_dirs) < min_classes:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise UserError(f"{root}: needs at least {min_classes} class folders (found: {found}); put each class's images "
                        f"in its own sub-folder named after the class: {root}/<class>/*.jpg")
    files, targets = [], []
    for index, class_dir in enumerate(class_dirs):
        class_files, rest = _files(class_dir, warn)
        if not class_files:
            raise UserError(f"{class_dir}: class folder is empty; add images or remove the folder")
        files += class_files
        targets += [index] * len(class_files)
        ignored += rest
    return LabelledFolder(root, [p.name for p in class_dirs], files, targets, ignored=ignored)


def split_folders(path: str | Path) -> tuple[Path, Path] | None:
    """(train, test) when PATH holds a train/ and a test/ folder: the layout DIR/{train,test}/<class>/ `train` reads."""
    train, test = Path(path) / "train", Path(path) / "test"
    return (train, test) if train.is_dir() and test.is_dir() else None


def held_out(path: str | Path, flag: str) -> Path:
    """PATH, or its test/ folder when PATH is a data root with train/ and test/ (as users mean it: the photos
    training held out), with a note saying so."""
    split = split_folders(path)
    if split is None:
        return Path(path)
    print(f"note: {flag} {path}: holds train/ and test/; using test/, the photos training held out (give {split[0]} "
          "for the training photos)", file=sys.stderr)
    return split[1]


def is_class_folder(path: Path) -> bool:
    """True when PATH holds sub-folders (classes) rather than images."""
    return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


def image_paths(path: str | Path) -> tuple[list[Path], list[Path]]:
    """(One image file, or the files of a flat folder; the folder's entries that are not files)."""
    path = Path(path)
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise UserError(f"{path}: no such file or folder; check the path")
    files, rest = _files(path)
    if not files:
        raise UserError(f"{path}: folder holds no files; give a folder of images")
    return files, rest


def any_images(path: str | Path) -> list[Path]:
    """The files of an image, a flat folder, or a folder of class folders."""
    path = Path(path)
    return class_folder(path, min_classes=1).files if is_class_folder(path) else image_paths(path)[0]


def warn_skipped(path: Path, reason: str) -> None:
    print(f"warning: skipped {path}: {reason}", file=sys.stderr)


def decoded(folder: LabelledFolder, to_pixels, workers: int = 8):
    """Yield (file index, uint8 model pixels) for each readable file of FOLDER in order, decoded through `to_pixels`
    (BGR -> model pixels) in threads a block at a time; unreadable files are skipped with a warning."""
    from concurrent.futures import ThreadPoolExecutor

    def decode(path: Path):
        try:
            return to_pixels(read_image(path))
        except UserError as exc:
            warn_skipped(path, str(exc).split(": ", 1)[-1])
            return None

    block = 8 * workers
    with ThreadPoolExecutor(workers) as pool:
        def in_order():
            for start in range(0, len(folder.files), block):
                yield from pool.map(decode, folder.files[start : start + block])

        for index, image in enumerate(progress(in_order(), len(folder.files), f"decoding {folder.root.name}", "files")):
            if image is not None:
                yield index, image


def kept_targets(folder: LabelledFolder, keep: list[int]) -> np.ndarray:
    """Targets of the files KEEP (indices) that decoded; records the rest in folder.skipped; UserError for a class
    left without images."""
    kept = set(keep)
    folder.skipped = [f for i, f in enumerate(folder.files) if i not in kept]
    if folder.skipped:
        print(f"warning: {len(folder.skipped)} of {len(folder.files)} files in {folder.root} were not "
              "readable images and were skipped", file=sys.stderr)
    targets = np.asarray([folder.targets[i] for i in keep], dtype=np.int64)
    for index, name in enumerate(folder.classes):
        if not np.any(targets == index):
            raise UserError(f"{folder.root / name}: no readable images left in this class; add images or remove it")
    return targets


def load_pixels(folder: LabelledFolder, to_pixels, workers: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, targets) of every readable file, in memory (train --in-memory; everything else reads the pixel
    cache, edge/pixel_cache.py)."""
    pixels, keep = None, []
    for index, image in decoded(folder, to_pixels, workers):
        if pixels is None:
            pixels = np.empty((len(folder.files), *image.shape), image.dtype)
        pixels[len(keep)] = image
        keep.append(index)
    return pixels[: len(keep)], kept_targets(folder, keep)


def read_arrays(path: Path, keys: tuple[str, ...] = ("x", "y"), flag: str = "--data") -> dict[str, np.ndarray]:
    """The arrays KEYS of an .npz, the one reader of that format; never unpickled."""
    names = ", ".join(f"'{key}'" for key in keys)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in keys}
    except FileNotFoundError:
        raise UserError(f"{flag} {path}: no such file; give an .npz with arrays {names}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{flag} {path}: not an .npz with arrays {names} ({exc})") from None


def read_xy(path: Path, flag: str = "--data") -> tuple[np.ndarray, np.ndarray]:
    """Arrays `x` (examples, (N,H,W,C)) and `y` (targets, (N,)) of an .npz."""
    arrays = read_arrays(path, ("x", "y"), flag)
    return arrays["x"], arrays["y"]


def stratified(targets: np.ndarray, count: int, rng) -> np.ndarray:
    """Up to COUNT indices of TARGETS, the same share from every class, in order."""
    classes = np.unique(targets)
    per_class = max(1, count // len(classes))
    picked = [rng.choice(np.flatnonzero(targets == c), size=min(per_class, int(np.sum(targets == c))), replace=False)
              for c in classes]
    return np.sort(np.concatenate(picked))
