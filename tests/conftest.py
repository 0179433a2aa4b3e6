"""Test tiers and shared fixtures.

Tiers are markers given by path or decorator, never by a list: tests under tests/edge/ are `edge` (the device side:
they run in an install with only the `edge` extra, on the small models committed in tests/fixtures/models/); a test
that trains or converts is marked `@pytest.mark.slow` (or `pytestmark = pytest.mark.slow` for a module). A run that
leaves the slow tests out (`-m "not slow"`, `-m edge`) blocks TensorFlow, so a test that needs it and is not marked
fails there instead of slowing the fast tier down. The slow tests share one model trained on the shipped sample and
exported once per session (`trained`, `exported`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def classify_run(*blocked: str) -> str:
    """`python -c` code running edge-classify MODEL IMAGES --json (its two arguments) with the modules BLOCKED made
    unimportable, failing unless the run exits 0."""
    return "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked) + """
sys.argv = ["edge-classify", "--model", sys.argv[1], "--images", sys.argv[2], "--json"]
import edge.classify
try:
    edge.classify.main()
except SystemExit as exc:
    assert not exc.code, exc.code
"""


BLOCKED_RUN = classify_run("tensorflow", "keras") + (  # the device side never imports them, not even indirectly
    'assert not any(name.split(".")[0] in ("tensorflow", "keras") for name, m in sys.modules.items() if m is not None)\n')

SAMPLE = REPO / "data" / "sample" / "muffin-chihuahua"
DEVICE_MODELS = REPO / "tests" / "fixtures" / "models"  # made by tests/fixtures/make_models.py
EDGE_TESTS = REPO / "tests" / "edge"


def pytest_configure(config):
    """Without the slow tests, nothing may import TensorFlow or Keras (see the module's docstring)."""
    from _pytest.mark.expression import Expression

    selection = config.option.markexpr
    if selection and not Expression.compile(selection).evaluate(lambda marker: marker == "slow"):
        for name in ("tensorflow", "keras", "tf_keras"):
            sys.modules.setdefault(name, None)  # any import of it now raises ImportError


def pytest_collection_modifyitems(items):
    """`edge` for every test under tests/edge/; a test that uses the trained model must be marked slow."""
    for item in items:
        if EDGE_TESTS in item.path.parents:
            item.add_marker(pytest.mark.edge)
        if {"trained", "exported"} & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow"):
            raise pytest.UsageError(f"{item.nodeid} uses the trained model: mark it @pytest.mark.slow")


@pytest.fixture(scope="session")
def cli():
    return CliRunner()


@pytest.fixture(scope="session")
def device_models(tmp_path_factory) -> tuple[Path, dict]:
    """(a copy of tests/fixtures/models/, its parity report): real exports of a 2k-parameter CNN trained on the
    sample at 32x32, in tflite_int8, tflite_fp32, onnx and onnx_int8, and bare.fp32.tflite without a spec."""
    import shutil

    folder = tmp_path_factory.mktemp("device-models")
    for path in DEVICE_MODELS.iterdir():
        shutil.copyfile(path, folder / path.name)
    return folder, json.loads((folder / "parity.json").read_text())


@pytest.fixture(scope="session")
def trained(tmp_path_factory, cli) -> Path:
    """A base CNN trained for a few epochs at 48x48 on the sample (about 20 s on 2 cores), for slow tests."""
    from train.cli import app

    run = tmp_path_factory.mktemp("train") / "muffins"
    result = cli.invoke(app, ["muffins", "--data", str(SAMPLE), "--arch", "base_cnn", "--size", "48",
                              "--epochs", "4", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run / "muffins.keras"


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory, cli) -> tuple[Path, dict]:
    """(folder of exports in every format, parity report) of `trained`, for slow tests."""
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
