"""What train and convert set before TensorFlow loads: quieter native logs, and no JAX in a TensorFlow process.

TensorFlow imports JAX whenever it is installed (tf.lite's util, for converting JAX functions, which this toolkit
never does): 0.8 s and 118 MB more for every TensorFlow command here, and two XLA runtimes in one process. Unless
Keras runs on JAX (KERAS_BACKEND, or "backend" in keras.json, as Keras itself reads them), the import is skipped."""

from __future__ import annotations

import json
import os
import sys


def keras_backend() -> str:
    """The backend Keras will pick, read as Keras reads it, without importing Keras."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as config:
            return json.load(config).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def prepare() -> None:
    import edge  # noqa: F401  (sets OpenCV's image size limit before anything loads OpenCV)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if keras_backend() != "jax" and "jax" not in sys.modules:
        sys.modules["jax"] = None  # `import jax` raises ImportError, which tf.lite expects when JAX is absent


TRAINING = ("keras", "tensorflow")  # what train and convert quantize import; a device install (.[edge]) has neither


def require_training(command: str) -> None:
    """UserError naming the pip command when COMMAND runs in an install without Keras and TensorFlow (a device
    install: edge-classify, edge-bench and convert inspect work there)."""
    from importlib.util import find_spec

    from edge.entry import pip_install
    from edge.errors import UserError

    missing = [name for name in TRAINING if find_spec(name) is None]
    if missing:
        raise UserError(f"{command} needs {' and '.join(missing)}, which this install lacks (a device install runs "
                        "edge-classify, edge-bench and convert inspect): " + pip_install("train"))
