"""Keras -> TFLite and ONNX exports with the spec inside each file, and the parity gate (needs TensorFlow)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
