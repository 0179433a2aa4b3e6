"""Keras -> TFLite and ONNX exports with the spec inside each file, and the parity gate (needs TensorFlow)."""

from keras_io import startup

startup.prepare()


def __getattr__(name: str):
    """`from convert import quantize`: the library call behind `convert quantize`, imported on first use so that
    the command line's help stays instant."""
    if name == "quantize":
        from convert.export import quantize

        return quantize
    raise AttributeError(f"module 'convert' has no attribute {name!r}")
