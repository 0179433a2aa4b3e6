"""The Raspberry Pi camera through picamera2, behind OpenCV's VideoCapture interface (read, isOpened, release), so
the live reader treats it like any camera.

picamera2 is not on PyPI for the Pi's camera stack: install it with `sudo apt install python3-picamera2` and make
the virtual environment with `python3 -m venv --system-site-packages` so the venv can import it."""

from __future__ import annotations

import numpy as np

from edge.errors import UserError

INSTALL_HINT = ("--camera picam needs picamera2: on Raspberry Pi OS run `sudo apt install python3-picamera2` and create "
                "the venv with `python3 -m venv --system-site-packages`; or use --camera 0 for a USB camera")


class Picamera2Capture:
    """BGR frames from the first Pi camera at SIZE; read() gives (False, None) once the camera fails."""

    def __init__(self, size: tuple[int, int] = (640, 480)):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise UserError(INSTALL_HINT) from None
        self.camera = None
        try:
            camera = Picamera2()
            # picamera2's "RGB888" stores pixels as B, G, R: what OpenCV and edge.preprocess expect
            camera.configure(camera.create_video_configuration(main={"format": "RGB888", "size": size}))
            camera.start()
            self.camera = camera
        except (RuntimeError, IndexError, OSError):  # no camera connected, or it is in use
            self.camera = None

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.camera is not None

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.camera is None:
            return False, None
        try:
            return True, self.camera.capture_array("main")[..., :3]
        except (RuntimeError, OSError):
            return False, None

    def release(self) -> None:
        if self.camera is not None:
            try:
                self.camera.stop()
                self.camera.close()
            finally:
                self.camera = None
