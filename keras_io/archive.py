"""A .keras file with its ModelSpec stored beside the weights, as `edge_spec.json` inside the zip archive."""

from __future__ import annotations

import zipfile
from pathlib import Path

from edge.atomic import atomic_path, disk_full
from edge.errors import UserError
from edge.spec import MAX_SPEC_BYTES, SPEC_KEY, ModelSpec

SPEC_ENTRY = f"{SPEC_KEY}.json"


def save(model, spec: ModelSpec, path: str | Path) -> Path:
    """Save MODEL with SPEC inside; the file appears under its final name only when complete."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"{path}: the model file name must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(SPEC_ENTRY, spec.to_json())
    return path


def read_spec(path: Path) -> ModelSpec:
    try:
        with zipfile.ZipFile(path) as archive:
            if SPEC_ENTRY not in archive.namelist():
                raise UserError(f"{path}: has no {SPEC_ENTRY}; it was not made by `train` (re-save it with keras_io.archive.save)")
            with archive.open(SPEC_ENTRY) as entry:  # read to a bound: a zip bomb is never inflated in full
                text = entry.read(MAX_SPEC_BYTES + 1)
            if len(text) > MAX_SPEC_BYTES:
                raise UserError(f"{path}: its {SPEC_ENTRY} is over {MAX_SPEC_BYTES} bytes (a spec is under a kilobyte); "
                                "give the file `train` wrote")
            return ModelSpec.from_json(text, str(path))
    except zipfile.BadZipFile:
        raise UserError(f"{path}: not a .keras archive (corrupt or another format); give the file `train` wrote") from None


def checked_spec(path: str | Path) -> ModelSpec:
    """The spec of a .keras file made by `train`, without TensorFlow; UserError for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file; check the path")
    if path.suffix != ".keras":
        raise UserError(f"{path}: expected a .keras file from `train`")
    return read_spec(path)


def load(path: str | Path):
    """(model, spec) from a .keras file made by `train`. Loads in Keras safe mode: no code from the file is run."""
    import keras

    from keras_io import layers  # noqa: F401  registers the layers `train` may use

    path = Path(path)
    spec = checked_spec(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except OSError as exc:
        if disk_full(exc):  # the disk Keras unpacks to is full: not the file's fault
            raise
        raise UserError(f"{path}: Keras cannot load it ({str(exc).splitlines()[0][:200]})") from None
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise UserError(f"{path}: Keras cannot load it ({str(exc).splitlines()[0][:200]})") from None
    return model, spec
