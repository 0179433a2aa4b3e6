"""Shared fixtures: one tiny model trained on the shipped sample and exported once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("EDGE_CACHE_DIR", tempfile.mkdtemp(prefix="edge-pixel-cache-"))  # never the user's ~/.cache

REPO = Path(__file__).resolve().parents[1]
# `python -c RUN_MAIN MODULE ARGS...`: a command's main() in a fresh process, its exit code printed last
RUN_MAIN = """
import sys
module, *args = sys.argv[1:]
sys.argv = [module, *args]
import importlib
try:
    importlib.import_module(module).main()
except SystemExit as exc:
    print("exit", exc.code or 0)
"""
BLOCK_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
sys.modules["keras"] = None
"""
SAMPLE = REPO / "data" / "sample" / "muffin-chihuahua"
TIERS = {  # marker -> the test modules about that package: `pytest -m edge` runs the device side alone
    "edge": ("test_postprocess", "test_classify_outputs", "test_classify_options", "test_bench",
             "test_without_tensorflow", "test_spec_and_preprocess", "test_startup", "test_hostile_files", "test_fuzz",
             "test_serve", "test_corruptions", "test_api", "test_first_contact"),
    "convert": ("test_chain", "test_calibration_chunks", "test_convert_reliability", "test_parity_gate",
                "test_mirror_averaging", "test_bad_input", "test_regression_arrays", "test_registries", "test_mediapipe",
                "test_int8_recovery", "test_held_out"),
    "train": ("test_recipes", "test_recipe_table", "test_pixel_cache", "test_scale", "test_training_data", "test_backbones",
              "test_robustness", "test_preflight"),
    "docs": ("test_help", "test_docs"),
}


def pytest_collection_modifyitems(items):
    """Mark every test with its module's tier; a new test module must be given one here."""
    tier = {module: name for name, modules in TIERS.items() for module in modules}
    for item in items:
        item.add_marker(getattr(pytest.mark, tier[item.module.__name__.rsplit(".", 1)[-1]]))


@pytest.fixture(scope="session")
def cli():
    return CliRunner()


@pytest.fixture(scope="session")
def trained(tmp_path_factory, cli) -> Path:
    """A base CNN trained for a few epochs at 48x48 on the sample (about 20 s on 2 cores)."""
    from train.cli import app

    run = tmp_path_factory.mktemp("train") / "muffins"
    result = cli.invoke(app, ["muffins", "--data", str(SAMPLE), "--arch", "base_cnn", "--size", "48",
                              "--epochs", "4", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run / "muffins.keras"


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory, cli) -> tuple[Path, dict]:
    """(folder of exports in every format, parity report) from `convert quantize` on the trained model."""
    from convert.cli import app
    from edge.formats import FORMATS

    out_dir = tmp_path_factory.mktemp("models")
    result = cli.invoke(app, ["quantize", str(trained), "--data", str(SAMPLE / "test"), "--out-dir", str(out_dir),
                              "--formats", ",".join(FORMATS)])
    assert result.exit_code == 0, result.output
    return out_dir, json.loads((out_dir / "parity.json").read_text())


def with_terminal_stderr(command: list[str]) -> tuple[str, str]:
    """(stdout, stderr) of COMMAND run with stdout piped and stderr on a pseudo-terminal, as a person watching it
    while its lines go to a file sees it."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # a terminal 120 columns wide
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, text=True, cwd=REPO)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = process.communicate(timeout=300)[0]
    finally:
        os.close(leader)
    return stdout, b"".join(chunks).decode(errors="replace")
