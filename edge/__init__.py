"""The light core that runs on the device: numpy, OpenCV and one inference runtime, never TensorFlow."""

__version__ = "0.2.0"
