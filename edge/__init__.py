"""The light core that runs on the device: numpy, OpenCV and one inference runtime, never TensorFlow."""

import os

__version__ = "0.6.0"

ROBUSTNESS_IMAGES = 250  # test images in the robustness report by default (edge/robustness.py): about +-2.5 points at 95%
ROBUSTNESS_SEVERITIES = (3,)  # convert quantize's: each export at the middle severity, the one the goals are stated
# at, for a third of the grid's cost (benchmarks/results/convert_robustness.md); train's report shows 1, 3 and 5

# Decompression bombs: OpenCV refuses, from the header and before allocating, an image over this many pixels
# (its own default is 2^30, 3 GB decoded). Read when OpenCV loads, so set here, before any edge module imports it.
MAX_IMAGE_PIXELS = int(os.environ.get("EDGE_MAX_IMAGE_PIXELS") or 50_000_000)
MAX_IMAGE_BYTES = int(os.environ.get("EDGE_MAX_IMAGE_BYTES") or 100_000_000)  # files larger are not read
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))


def __getattr__(name: str):
    """`from edge import Classifier, Result`: the Python API (edge/classifier.py), imported on first use, so that
    `import edge` stays light (it loads OpenCV and a runtime)."""
    if name in ("Classifier", "Result"):
        from edge import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'edge' has no attribute {name!r}")
