"""The console commands' entry points. Each first checks that this install has what the command imports, so a bare
`pip install .` (no extra) answers with one line naming the pip command, never a traceback. The command's own
module is imported only after that check."""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "edge-classifier-toolkit"
# command -> (its module, the extra it needs): every command needs OpenCV; train and convert quantize also TensorFlow,
# which they check themselves (keras_io/startup.py) so that `train --help` and `convert inspect` work on a device
COMMANDS = {
    "edge-classify": ("edge.classify", "edge"),
    "edge-bench": ("benchmarks.bench", "edge"),
    "train": ("train.cli", "train"),
    "convert": ("convert.cli", "train"),
}


def install_source() -> str:
    """What this install came from, as pip takes it back: the checkout or wheel file (PEP 610's direct_url.json),
    else the checkout these modules lie in, else the distribution's name."""
    from importlib import metadata

    for distribution in metadata.distributions(name=DISTRIBUTION):  # an editable install's egg-info comes first on cwd
        url = json.loads(distribution.read_text("direct_url.json") or "{}").get("url", "")
        if url.startswith("file://"):
            return unquote(urlparse(url).path)
    checkout = Path(__file__).resolve().parents[1]
    return str(checkout) if (checkout / "pyproject.toml").is_file() else DISTRIBUTION


def pip_install(extra: str) -> str:
    """The command that adds EXTRA to this install: this environment's pip, and the source it was installed from
    (the toolkit is installed from a checkout or a wheel, not from the package index)."""
    own = os.path.join(sys.prefix, "bin", "pip")
    pip = "pip" if shutil.which("pip") == own else own
    return f"{pip} install '{install_source()}[{extra}]'"


def _run(command: str) -> None:
    module, extra = COMMANDS[command]
    if find_spec("cv2") is None:
        typed = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else command  # edge-train, as the user typed it
        print(f"error: {typed} needs OpenCV, which this install lacks: {pip_install(extra)}"
              + (" (edge-tflite or edge-onnx: one runtime only)" if extra == "edge" else ""), file=sys.stderr)
        raise SystemExit(2)
    import_module(module).main()


def classify() -> None:
    _run("edge-classify")


def bench() -> None:
    _run("edge-bench")


def train() -> None:
    _run("train")


def convert() -> None:
    _run("convert")
