"""Keras training recipes that write a .keras model with its spec inside (needs TensorFlow)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
