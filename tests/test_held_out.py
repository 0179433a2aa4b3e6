"""`convert quantize` without --data evaluates on what training held out, as the model records it: a list of photos
for a folder train split (never used for calibration), or one line naming --data when the record is missing or
stale."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


def _model_recording(trained, folder, **provenance):
    """A copy of the session's model in FOLDER whose spec records PROVENANCE (as a run of `train` would)."""
    from keras_io import archive

    model, spec = archive.load(trained)
    folder.mkdir(parents=True, exist_ok=True)
    return archive.save(model, spec.with_provenance(**provenance), folder / "muffins.keras")


def _quantize(cli, model, out, *extra):
    from convert.cli import app

    return cli.invoke(app, ["quantize", str(model), "--out", str(out), "--formats", "tflite_int8", "--robustness", "0",
                            *extra])


def test_the_listed_held_out_photos_are_the_test_set_and_never_calibrate(cli, trained, tmp_path):
    photos = tmp_path / "photos"  # a folder of class folders that training split
    shutil.copytree(SAMPLE / "test", photos)
    held_out = sorted(str(p.relative_to(photos)) for p in photos.glob("*/*"))[::4]
    model = _model_recording(trained, tmp_path / "run", train_data=str(photos), test_data="test_files.txt")
    (tmp_path / "run" / "test_files.txt").write_text("\n".join(held_out) + "\n")
    result = _quantize(cli, model, tmp_path / "models")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "models" / "parity.json").read_text())
    assert report["images"] == len(held_out) == 25 and report["data"].endswith("test_files.txt")
    assert report["calibration_images"] == 100 - 25, "calibrated on every photo but the held-out ones"


def test_a_missing_or_stale_record_is_one_line_naming_data(cli, trained, tmp_path):
    none = _model_recording(trained, tmp_path / "old", test_data="")
    result = _quantize(cli, none, tmp_path / "m1")
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1].startswith(
        "error: --data: muffins.keras records no held-out data"), result.output
    gone = _model_recording(trained, tmp_path / "moved", test_data=str(tmp_path / "nowhere"))
    result = _quantize(cli, gone, tmp_path / "m2")
    assert result.exit_code == 2 and "is not here any more; give --data" in result.output.strip().splitlines()[-1]
    listed = _model_recording(trained, tmp_path / "listed", train_data=str(SAMPLE / "test"), test_data="test_files.txt")
    (tmp_path / "listed" / "test_files.txt").write_text("muffin/img_4_325.jpg\nmuffin/gone.jpg\n")
    result = _quantize(cli, listed, tmp_path / "m3")
    assert result.exit_code == 2 and "1 of them missing (e.g." in result.output and "give --data" in result.output
    given = _quantize(cli, listed, tmp_path / "m4", "--data", str(SAMPLE / "test"))
    assert given.exit_code == 0, "--data wins over the record: " + given.output
