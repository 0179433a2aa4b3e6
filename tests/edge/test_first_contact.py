"""What a new user meets first on the device side: --show refused before any work with advice that works, a data root
given to --images taken as its test split, no runtime noise, accuracy in percent, edge-bench writing nowhere it was
not asked to and tables that fit a terminal, install advice naming where the toolkit came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SAMPLE

BIN = Path(sys.executable).parent


def _run(*args, cwd=REPO, env=None):
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=env)


def test_show_is_refused_before_any_work(device_models):
    done = _run("edge-classify", "--model", device_models[0] / "muffins.tflite", "--images", SAMPLE / "test", "--show")
    assert done.returncode == 2 and done.stdout == "", "nothing classified before the refusal"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --show: this OpenCV has no window support")
    assert "pip uninstall -y opencv-python-headless && pip install opencv-python" in lines[0] and "--serve" in lines[0]


def test_a_data_root_is_classified_by_its_test_split_without_runtime_noise(device_models):
    done = _run("edge-classify", "--model", device_models[0] / "muffins.tflite", "--images", SAMPLE)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (f"note: --images {SAMPLE}: holds train/ and test/; using test/, the photos training "
                                   f"held out (give {SAMPLE / 'train'} for the training photos)")
    lines = done.stdout.splitlines()
    assert len(lines) == 101 and all(f"{SAMPLE / 'test'}/" in line for line in lines[:-1])
    summary = dict(part.split("=", 1) for part in lines[-1].removeprefix("summary: ").split(", "))
    assert summary["judged"] == "100" and summary["accuracy"].endswith("%"), "accuracy in percent, as people read it"
    debug = _run("edge-classify", "--model", device_models[0] / "muffins.tflite", "--images", SAMPLE / "test", "--debug",
                 "--max-frames", "1")
    assert "INFO: Created TensorFlow Lite XNNPACK delegate" in debug.stderr, "--debug still shows the runtime's lines"


def test_edge_bench_writes_only_where_asked(device_models, tmp_path):
    done = _run("edge-bench", "-m", device_models[0], "--data", SAMPLE / "test", "--threads", "1", "--runs", "10",
                "--warmup", "1", "--direct", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == [], "no --out: the table on the terminal, no file anywhere"
    table = done.stdout.split("\n\nMachine:")[0].splitlines()
    assert max(map(len, table)) <= 100 and table[0].split()[:3] == ["model", "threads", "median"]
    assert any("(bare)" in line for line in table) and any(line.rstrip().endswith("%") for line in table)
    typo = _run("edge-bench", "-m", tmp_path / "muffins.tflit", "--data", SAMPLE / "test", "--out", tmp_path / "r/b",
                cwd=tmp_path)
    assert typo.returncode == 2 and typo.stderr.startswith(f"error: --model {tmp_path / 'muffins.tflit'}: no such file")
    assert list(tmp_path.iterdir()) == [], "a mistyped model: nothing created, not even the --out folder"


def test_install_advice_names_the_source_this_install_came_from():
    from edge.entry import install_source, pip_install

    source = install_source()
    assert source == str(REPO), "installed from this checkout (scripts/venv.sh: pip install -e .)"
    assert pip_install("train").endswith(f"install '{REPO}[train]'")
    blocked = subprocess.run([sys.executable, "-c", "import sys; sys.modules['keras'] = None; "
                              "from keras_io.startup import require_training; require_training('train')"],
                             capture_output=True, text=True, cwd=REPO)
    assert f"install '{REPO}[train]'" in blocked.stderr.splitlines()[-1]


def test_convert_list_fits_a_terminal():
    done = _run("convert", "list")
    assert done.returncode == 0 and max(map(len, done.stdout.splitlines())) <= 100
    assert done.stdout.split()[:5] == ["name", "file", "runs", "on", "default"]
