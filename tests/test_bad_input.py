"""Every bad input to train and convert gets one clear line naming the file or flag, a non-zero exit, and no partial
output."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # needs the training install


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("layout", ["one_class", "empty_class"])
def test_training_data_with_one_or_an_empty_class(cli, tmp_path, layout):
    from train.cli import app

    data = tmp_path / "data"
    shutil.copytree(SAMPLE / "train" / "muffin", data / "muffin")
    if layout == "empty_class":
        (data / "chihuahua").mkdir()
    out = tmp_path / "run"
    result = cli.invoke(app, ["folder", "--data", str(data), "--arch", "base_cnn", "--out", str(out)])
    line = _error_line(result)
    assert result.exit_code == 2 and not out.exists()
    assert ("needs at least 2 class folders" in line) if layout == "one_class" else ("chihuahua: class folder is empty" in line)


def test_convert_corrupt_keras_leaves_nothing(cli, tmp_path):
    from convert.cli import app

    model = tmp_path / "bad.keras"
    model.write_bytes(b"PK\x03\x04 not really a zip")
    out_dir = tmp_path / "models"
    result = cli.invoke(app, ["quantize", str(model), "--data", str(SAMPLE / "test"), "--out-dir", str(out_dir)])
    assert result.exit_code == 2 and "bad.keras" in _error_line(result)
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_convert_data_with_other_classes(cli, trained, tmp_path):
    from convert.cli import app

    data = tmp_path / "data"
    for name in ("cat", "dog"):
        shutil.copytree(SAMPLE / "test" / "muffin", data / name)
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(data), "--out-dir", str(tmp_path / "models")])
    assert result.exit_code == 2 and "do not match the model's labels" in _error_line(result)


def test_convert_unknown_format(cli, trained, tmp_path):
    from convert.cli import app

    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--formats", "tflite_int4"])
    assert result.exit_code == 2 and "--formats" in _error_line(result)


def test_train_missing_weights_file(cli, tmp_path):
    from train.cli import app

    result = cli.invoke(app, ["muffins", "--data", str(SAMPLE), "--weights", str(tmp_path / "none.weights.h5"),
                              "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--weights" in _error_line(result)


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written in: chmod 555 for a user; root ignores modes, so sysfs for root."""
    import os

    if os.geteuid() == 0:
        return "/sys/kernel"
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    return folder


@pytest.mark.parametrize("command", ["convert", "train", "bench"])
def test_a_read_only_output_folder_is_refused_before_the_work(cli, trained, exported, read_only, command):
    from benchmarks.bench import app as bench
    from convert.cli import app as convert
    from train.cli import app as train

    app, args = {
        "convert": (convert, ["quantize", trained, "--data", SAMPLE / "test", "--out-dir", read_only]),
        "train": (train, ["muffins", "--data", SAMPLE, "--arch", "edge_cnn", "--epochs", "1", "--out", f"{read_only}/run"]),
        "bench": (bench, ["--model", exported[0] / "muffins.tflite", "--images", SAMPLE / "test", "--runs", "20", "--out",
                          f"{read_only}/bench"]),
    }[command]
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and f"{read_only}: cannot write there" in _error_line(result), result.output


def _hostile_config(kind: str, folder) -> str:
    """A gate.toml as a CI job might commit it by mistake, or an attacker on purpose."""
    import os

    path = folder / "gate.toml"
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        path.write_bytes(b"# " + b"x" * 2_000_000 + b"\n[parity]\nmax_drop = 1.0\n")
    elif kind == "not utf-8":
        path.write_bytes(b"[parity]\nmax_drop = 1.0 # \xff\xfe\n")
    elif kind == "nested 5000 deep":
        path.write_text("[parity]\nmax_drop = " + "[" * 5000 + "]" * 5000 + "\n")
    else:
        path.write_text(kind + "\n")
    return str(path)


@pytest.mark.parametrize("kind, expected", [
    ("symlink to /dev/zero", "not a regular file"), ("fifo", "not a regular file"), ("huge", "over 1 MB"),
    ("not utf-8", "not UTF-8 text"), ("nested 5000 deep", "cannot read it as TOML"),
    ("parity = 5", "[parity] must be a table"), ("parity = [[1]]", "[parity] must be a table"),
    ('[parity]\ngate_on = ["point"]', "--gate-on (or gate_on in the [parity] table): ['point']"),
    ("[parity]\nmax_drop = \"1\"", "--max-drop (or max_drop in the [parity] table): '1' is not a finite number"),
])
def test_a_hostile_or_malformed_config_is_one_line_and_exit_2(cli, tmp_path, kind, expected):
    """Refused before the model is read, in bounded time and memory: a FIFO is never opened, /dev/zero never read."""
    from convert.cli import app

    config = _hostile_config(kind, tmp_path)
    result = cli.invoke(app, ["quantize", str(tmp_path / "m.keras"), "--data", str(tmp_path), "--config", config])
    assert result.exit_code == 2 and expected in _error_line(result), result.output[-600:]
    assert f"--config {config}" in _error_line(result) or "--gate-on" in expected or "--max-drop" in expected
