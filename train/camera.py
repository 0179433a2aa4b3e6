"""`--augment camera`: training images that also get one camera corruption (edge/corruptions.py) at a random
severity, so that a model meets a dim room, a shaking mount or a compressed stream before the device does."""

from __future__ import annotations

import numpy as np

from edge.corruptions import MAX_SEVERITY, corrupt, families
from edge.preprocess import normalize
from edge.spec import ModelSpec

PROBABILITY = 0.5  # share of the training images corrupted; the rest stay as the geometric augmentation left them


def rng(seed: int) -> np.random.Generator:
    """The random draws of camera augmentation for a run seeded SEED, apart from every other augmentation's."""
    return np.random.default_rng([seed, 0xCA3E7A])


def corrupt_batch(batch: np.ndarray, spec: ModelSpec, rng: np.random.Generator) -> np.ndarray:
    """BATCH of float model inputs, each corrupted with PROBABILITY by a family and severity (1-5) drawn from RNG.
    Corruptions act on pixels: the inputs go back to uint8 through the spec and are normalised again."""
    pixels = np.clip(np.rint((np.asarray(batch, np.float32) - spec.offset) / spec.scale), 0, 255).astype(np.uint8)
    names = families(spec.channels)
    for index in np.flatnonzero(rng.random(len(pixels)) < PROBABILITY):
        family, severity = names[rng.integers(len(names))], int(rng.integers(1, MAX_SEVERITY + 1))
        pixels[index] = corrupt(pixels[index], family, severity, rng)
    return normalize(pixels, spec)


def mapped(data, spec: ModelSpec, seed: int):
    """The tf.data pipeline DATA of (input batch, target batch) with corrupt_batch applied to every input batch, in
    order (one map call at a time: the random draws follow the seed)."""
    import tensorflow as tf

    draws = rng(seed)

    def apply(x, y):
        corrupted = tf.numpy_function(lambda batch: corrupt_batch(batch, spec, draws), [x], tf.float32, stateful=True)
        return tf.ensure_shape(corrupted, x.shape), y

    return data.map(apply)
