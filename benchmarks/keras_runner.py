"""A .keras model as a benchmark row: the float reference, timed like the exports. Needs TensorFlow (the `train`
extra); on a device with only the `edge` extra its row says so and the other models still run."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.preprocess import normalize


@dataclass(frozen=True)
class KerasFormat:
    name: str = "keras"
    suffix: str = ".keras"
    runtime: str = "keras"


class KerasRunner:
    """predict(float batch) -> scores, like edge.runtime's runners."""

    def __init__(self, path: Path, threads: int):
        if importlib.util.find_spec("tensorflow") is None:
            raise UserError(f"{path.name}: timing a .keras model needs TensorFlow (pip install .[train]); "
                            "the exports run without it")
        import keras
        import tensorflow as tf

        from keras_io import archive

        try:  # thread pools can only be set before TensorFlow runs anything in this process
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        self.threads = tf.config.threading.get_intra_op_parallelism_threads()
        self.model, self.spec = archive.load(path)
        self.runtime = f"keras {keras.__version__} / tensorflow {tf.__version__}"
        self.format, self.path = KerasFormat(), path

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(batch.astype(np.float32, copy=False), training=False))

    def input_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return normalize(pixels, self.spec)

    run = predict
