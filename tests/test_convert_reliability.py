"""convert refuses what a device cannot run and never leaves a half-written file under a final name."""

from __future__ import annotations

import errno
import json
import pathlib
import shutil
import time

import pytest

from edge.errors import UserError
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts


def test_model_needing_flex_ops_is_refused_with_layer_names(tmp_path):
    import keras
    import tensorflow as tf

    from convert import tflite_export

    class Determinant(keras.layers.Layer):
        def call(self, x):
            return tf.linalg.det(tf.reshape(x[:, :4, :4, 0], (-1, 4, 4)))[:, None]

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(Determinant(name="determinant")(inputs)))
    with pytest.raises(UserError, match=r"lack MatrixDeterminant \(used by layers: determinant\)"):
        tflite_export.export_fp32(model, None, None, tmp_path / "m.tflite", tmp_path)
    assert not (tmp_path / "m.tflite").exists()


def test_disk_full_mid_write_leaves_no_file(cli, trained, tmp_path, monkeypatch):
    from convert.cli import app

    def fill_disk(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    out_dir = tmp_path / "models"
    out_dir.mkdir()
    (out_dir / "muffins.tflite").write_bytes(b"an export from an earlier run")
    (out_dir / "parity.json").write_text("{}")
    monkeypatch.setattr(pathlib.Path, "write_bytes", fill_disk)
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out-dir", str(out_dir),
                              "--formats", "tflite_int8"])
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.output and "--out " in result.output
    assert [p.name for p in out_dir.iterdir()] == ["convert.log"], \
        "no partial file or work folder, and no stale export or report under a final name: only the library log"


def test_one_class_calibration_folder(cli, trained, tmp_path):
    from convert.cli import app

    calib = tmp_path / "calib"
    shutil.copytree(SAMPLE / "train" / "muffin", calib / "muffin")
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--calib", str(calib),
                              "--out-dir", str(tmp_path / "models")])
    assert result.exit_code == 2 and "calib: needs at least 2 class folders" in result.output


def test_out_dir_that_cannot_be_created(cli, trained, tmp_path):
    from convert.cli import app

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out-dir", str(blocker / "models")])
    assert result.exit_code == 2 and "--out " in result.output and "choose a writable folder" in result.output


@pytest.mark.parametrize("target, weights", [("any", "QUInt8"), ("arm64", "QInt8")])
def test_onnx_int8_scheme_follows_the_target_and_is_recorded(cli, trained, tmp_path, target, weights, monkeypatch):
    """... and onnxruntime's quantiser makes its temporary copies in the run's scratch folder, which goes at the end
    (they went to the system's temporary folder, where a killed run left 70 MB each time)."""
    import json
    import tempfile

    from convert.cli import app
    from edge import runtime

    made, real_mkdtemp = [], tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real_mkdtemp(*a, **k)) or made[-1])

    config = tmp_path / "gate.toml"  # this test is about the recorded scheme, not the gate: it accepts any figures
    config.write_text("[parity]\nmax_drop = 100.0\nmin_agreement = 0.0\n")
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out-dir", str(tmp_path),
                              "--formats", "onnx_int8", "--target", target, "--config", str(config)])
    assert result.exit_code == 0, result.output
    runner = runtime.load(tmp_path / "muffins.int8.onnx", 1)
    assert runner.spec.provenance.export_options == {"target": target}
    assert f"weights={weights} per_channel" in runner.describe()["metadata"]["quantization"]
    assert json.loads((tmp_path / "parity.json").read_text())["rows"][1]["format"] == "onnx_int8"
    assert made and all(pathlib.Path(folder).is_relative_to(tmp_path) for folder in made), made
    assert not list(tmp_path.glob(".partial-*")), list(tmp_path.iterdir())


def test_convert_shows_progress_on_a_terminal_only(trained, tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO, with_terminal_stderr

    command = [sys.executable, "-c", "from convert.cli import main; main()", "quantize", str(trained), "--data",
               str(SAMPLE / "test"), "--formats", "tflite_int8,onnx_int8", "--out-dir", str(tmp_path / "tty")]
    stdout, terminal = with_terminal_stderr(command)
    for bar in ("float model on the test images:", "calibrating TFLite int8:", "calibrating ONNX int8:",
                "onnx_int8 on the test images:"):
        assert bar in terminal, (bar, terminal[-800:])
    assert "decoding" not in terminal, "the photos come from train's pixel cache"
    piped = subprocess.run([*command[:-1], str(tmp_path / "piped")], capture_output=True, text=True, cwd=REPO)
    assert piped.returncode == 0 and "calibrating TFLite" not in piped.stderr and "|" not in piped.stderr
    assert stdout.splitlines()[:3] == piped.stdout.splitlines()[:3], "the table on stdout is the same either way"


def test_a_second_run_on_the_same_out_is_refused_while_the_first_writes(trained, tmp_path):
    """Two `convert quantize` on one --out used to leave a folder mixing both runs' files; the second is now one
    line and exit 2 while the first runs, and the first completes untouched."""
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "models"
    command = [sys.executable, "-c", "from convert.cli import main; main()", "quantize", str(trained), "--data",
               str(SAMPLE / "test"), "--formats", "tflite_int8", "--out", str(out)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not (out / "convert.log").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert second.returncode == 2 and f"--out {out}: another convert quantize is writing there" in second.stderr, \
        second.stderr[-500:]
    assert first.returncode == 0 and json.loads((out / "parity.json").read_text())["passed"], stderr[-500:]


@pytest.mark.parametrize("size", ["200k", "6m"])
def test_a_full_disk_under_out_is_one_line_naming_the_folder_and_no_export_is_half_written(trained, tmp_path, size):
    """--out on a small file system (a tmpfs in a mount namespace of its own: no root needed, nothing left
    mounted): too small to unpack the model (200 KB), or to hold the exports (6 MB). One line naming the folder
    and the fix, exit 2, never blaming the good .keras; no export under a final name."""
    import subprocess
    import sys

    full = tmp_path / "full"
    full.mkdir()
    script = (f"mount -t tmpfs -o size={size} tmpfs {full} && {sys.executable} -c 'from convert.cli import main; main()' "
              f"quantize {trained} --data {SAMPLE / 'test'} --formats tflite_int8,onnx --robustness 0 --out {full}/models; "
              f"echo exit $?; ls -A {full}/models")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "exit 2" in done.stdout and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert str(full / "models") in errors[0] and "free some space" in errors[0] and "cannot load" not in errors[0], errors
    left = done.stdout.split("exit 2", 1)[1].split()
    assert not [name for name in left if name.endswith((".tflite", ".onnx"))], left
