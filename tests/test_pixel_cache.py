"""The on-disk pixel cache: built once and reused without decoding, rebuilt when the spec or a file changes, its
rows byte-identical to edge.preprocess.to_pixels, and training through it equal to training from memory."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from edge.folders import class_folder
from edge.preprocess import read_image, to_pixels
from edge.spec import ModelSpec
from tests import generated

SPEC = ModelSpec("binary", ("class_0", "class_1"), 24, 24, 3, "rgb", "center_crop", 1 / 255, 0.0)


@pytest.fixture
def photos(tmp_path):
    generated.colour_folders(tmp_path / "photos", [12, 9], size=40)
    return tmp_path / "photos"


def _no_decoding(*args, **kwargs):
    raise AssertionError("the cache was decoded again")


def test_built_once_then_reused_without_decoding(photos, tmp_path, monkeypatch):
    from edge import pixel_cache

    pixels, targets, built = pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    assert built and pixels.shape == (21, 24, 24, 3) and list(targets) == [0] * 12 + [1] * 9
    folder = class_folder(photos)
    assert all(np.array_equal(pixels[i], to_pixels(read_image(path), SPEC)) for i, path in enumerate(folder.files))
    monkeypatch.setattr(pixel_cache, "to_pixels", _no_decoding)
    again, targets_again, built = pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    assert not built and np.array_equal(again[:], pixels[:]) and np.array_equal(targets_again, targets)
    assert len(list((tmp_path / "cache").iterdir())) == 1, "one complete entry, no temporary folder left"


def test_rebuilt_when_the_spec_or_a_file_changes(photos, tmp_path):
    from edge import pixel_cache

    cache = tmp_path / "cache"
    assert pixel_cache.cached(class_folder(photos), SPEC, cache)[2]
    bigger = ModelSpec(**{**SPEC.__dict__, "height": 32, "width": 32})
    pixels, _, built = pixel_cache.cached(class_folder(photos), bigger, cache)
    assert built and pixels.shape[1:] == (32, 32, 3)
    changed = class_folder(photos).files[3]
    cv2.imwrite(str(changed), np.full((40, 40, 3), 200, np.uint8))
    os.utime(changed, ns=(10**18, 10**18))  # a new modification time even if the size were the same
    pixels, _, built = pixel_cache.cached(class_folder(photos), SPEC, cache)
    assert built and np.array_equal(pixels[3], to_pixels(read_image(changed), SPEC))
    assert len(list(cache.iterdir())) == 3


def test_unreadable_files_are_skipped_and_remembered(photos, tmp_path):
    from edge import pixel_cache

    broken = photos / "class_1" / "broken.png"
    broken.write_bytes(b"not an image")
    folder = class_folder(photos)
    pixels, targets, _ = pixel_cache.cached(folder, SPEC, tmp_path / "cache")
    assert len(pixels) == 21 and folder.skipped == [broken]
    reused = class_folder(photos)
    assert not pixel_cache.cached(reused, SPEC, tmp_path / "cache")[2] and reused.skipped == [broken]


def test_an_interrupted_build_leaves_no_entry(photos, tmp_path, monkeypatch):
    from edge import pixel_cache

    calls = []

    def interrupted(image, spec):
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return to_pixels(image, spec)

    monkeypatch.setattr(pixel_cache, "to_pixels", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_rows_index_like_an_array(photos, tmp_path):
    from edge import pixel_cache

    pixels, _, _ = pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    whole = pixels[:]
    assert np.array_equal(pixels[[5, 2, 5]], whole[[5, 2, 5]]) and np.array_equal(pixels[-1], whole[-1])
    assert np.array_equal(pixels[3:9:2], whole[3:9:2]) and pixels[30:].shape == (0, 24, 24, 3)


@pytest.mark.slow
def test_training_through_the_cache_equals_training_from_memory(cli, tmp_path):
    from train.cli import app

    data = tmp_path / "photos"
    generated.colour_folders(data, [30, 30], size=40)
    histories = []
    for mode in ("--cache", "--in-memory"):
        run = tmp_path / mode.strip("-")
        result = cli.invoke(app, ["folder", "--data", str(data), "--arch", "edge_cnn", "--size", "32", "--epochs", "3",
                                  mode, "--cache-dir", str(tmp_path / "cache"), "--out", str(run)])
        assert result.exit_code == 0, result.output
        assert ("pixel cache:" in result.output) == (mode == "--cache")
        metrics = json.loads((run / "metrics.json").read_text())
        histories.append((metrics["history"], metrics["test"]))
    assert histories[0] == histories[1], "the same batches in the same order, so the same figures"


@pytest.mark.slow
def test_a_cache_dir_that_is_a_file_gets_one_line(cli, photos, tmp_path):
    from train.cli import app

    taken = tmp_path / "not-a-folder"
    taken.write_text("a file")
    result = cli.invoke(app, ["folder", "--data", str(photos), "--arch", "edge_cnn", "--cache-dir", str(taken),
                              "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and f"--cache-dir {taken}: cannot make the pixel cache there" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_convert_reads_the_photos_train_cached_and_decodes_none(trained, tmp_path, monkeypatch):
    """`convert quantize` on a model `train` wrote: its test split and its calibration photos come from the entries
    training built (the calibration sample as rows of the training entry), with the figures of a fresh decode."""
    from convert import examples
    from convert.export import quantize
    from edge import pixel_cache
    from keras_io import archive
    from tests.conftest import SAMPLE

    trained_cache = pixel_cache.default_root()
    monkeypatch.setenv("EDGE_CACHE_DIR", str(tmp_path / "empty-cache"))
    fresh = quantize(trained, SAMPLE / "test", tmp_path / "decoded", ["tflite_int8"], robustness_images=0)
    monkeypatch.setenv("EDGE_CACHE_DIR", str(trained_cache))
    monkeypatch.setattr(pixel_cache, "to_pixels", _no_decoding)
    calibration = examples.calibration(SAMPLE / "train", archive.load(trained)[1], 64)
    assert isinstance(calibration.pixels, pixel_cache.Rows) and len(calibration) == 64
    cached = quantize(trained, SAMPLE / "test", tmp_path / "cached", ["tflite_int8"], robustness_images=0)
    assert [(r["accuracy"], r.get("agreement")) for r in cached["rows"]] == \
        [(r["accuracy"], r.get("agreement")) for r in fresh["rows"]]


@pytest.mark.parametrize("damage", ["zeroed rows", "inverted targets", "truncated pixels", "pickled targets",
                                    "malformed meta"])
def test_a_damaged_entry_is_found_and_rebuilt_never_trained_on(photos, tmp_path, damage, capsys):
    """Bit rot, a bad copy of a shared cache, a hand edit: each entry carries the checksums of its files, checked
    before use; a damaged one is said in one line and decoded again."""
    from edge import pixel_cache

    good, targets, _ = pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    good = good[:]
    entry = next((tmp_path / "cache").iterdir())
    if damage == "zeroed rows":
        with open(entry / "pixels.u8", "r+b") as rows:
            rows.write(bytes(24 * 24 * 3 * 5))
    elif damage == "inverted targets":
        np.save(entry / "targets.npy", 1 - targets)
    elif damage == "truncated pixels":
        os.truncate(entry / "pixels.u8", (entry / "pixels.u8").stat().st_size // 2)
    elif damage == "pickled targets":
        np.save(entry / "targets.npy", np.array([{"a": 1}] * len(targets), dtype=object), allow_pickle=True)
    else:
        (entry / "meta.json").write_text("{not json")
    pixels, again, built = pixel_cache.cached(class_folder(photos), SPEC, tmp_path / "cache")
    assert built and np.array_equal(pixels[:], good) and np.array_equal(again, targets), "decoded again, as it was"
    assert f"pixel cache {entry}: damaged" in capsys.readouterr().err
