"""Keras training recipes that write a .keras model with its spec inside (needs TensorFlow)."""

from keras_io import startup

startup.prepare()
