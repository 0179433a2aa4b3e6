"""Keras training recipes that write a .keras model with its spec inside (needs TensorFlow)."""

from keras_io import startup

startup.prepare()


def __getattr__(name: str):
    """`from train import train`: the library call behind the `train` command (train/run.py), imported on first use
    so that the command line's help stays instant."""
    if name == "train":
        from train.run import train

        return train
    raise AttributeError(f"module 'train' has no attribute {name!r}")
