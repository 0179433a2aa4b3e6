"""Frame -> input tensor, driven by a ModelSpec. Training, calibration, parity, benchmarks and the device all call these."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edge import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from edge.errors import UserError
from edge.spec import ModelSpec


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to a BGR uint8 array; UserError when it cannot be decoded or is over the size limits
    (edge.MAX_IMAGE_BYTES, edge.MAX_IMAGE_PIXELS: a decompression bomb is refused from its header)."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror})") from None
    if size > MAX_IMAGE_BYTES:
        raise UserError(f"{path}: {size} bytes, over the {MAX_IMAGE_BYTES}-byte limit (EDGE_MAX_IMAGE_BYTES)")
    data = np.fromfile(str(path), dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:  # OpenCV asserts on an image over OPENCV_IO_MAX_IMAGE_PIXELS, before decoding it
        raise UserError(f"{path}: over the {MAX_IMAGE_PIXELS / 1e6:g}-megapixel limit (EDGE_MAX_IMAGE_PIXELS), or "
                        "an image OpenCV cannot decode") from None
    if image is None:
        raise UserError(f"{path}: not a readable image (empty, corrupt or not an image format OpenCV decodes)")
    return image


def _convert_colour(image_bgr: np.ndarray, color_order: str) -> np.ndarray:
    if color_order == "none":
        raise UserError("this model takes raw arrays (color_order 'none'), not camera frames or photos")
    if color_order == "rgb":
        return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    if color_order == "gray":
        return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return image_bgr


def _scaled(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize. Shrinking by 2x or more first averages whole k x k blocks (OpenCV's fast INTER_AREA path), then
    finishes bilinearly from under 2x: a 480x480 crop to 224x224 costs 0.4 ms instead of 1.2 ms for INTER_AREA at a
    fractional factor, 0.7 grey levels apart on average. Other shrinks use INTER_AREA, enlarging bilinear. Bilinear
    is INTER_LINEAR_EXACT, which gives the same pixels on every CPU: INTER_LINEAR's SIMD paths put some pixels one
    grey level apart between x86 and arm64 builds (the device would not see what training saw); +0.1 ms at 224 px."""
    h, w = image.shape[:2]
    k = min(h // height, w // width)
    if k >= 2:
        top, left = (h % k) // 2, (w % k) // 2
        block = image[top : top + h - h % k, left : left + w - w % k]
        image = cv2.resize(block, (w // k, h // k), interpolation=cv2.INTER_AREA)
        return image if image.shape[:2] == (height, width) else cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR_EXACT)
    interp = cv2.INTER_AREA if height * width < h * w else cv2.INTER_LINEAR_EXACT
    return cv2.resize(image, (width, height), interpolation=interp)


def _resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    h, w = image.shape[:2]
    if mode == "center_crop":  # crop first, in the source's pixels: only what the model sees gets resized
        s = max(height / h, width / w)
        crop_h, crop_w = min(h, max(1, round(height / s))), min(w, max(1, round(width / s)))
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        image, h, w = image[top : top + crop_h, left : left + crop_w], crop_h, crop_w
        mode = "stretch"
    if mode == "stretch":
        scale_h, scale_w = height / h, width / w
    else:  # letterbox: fit inside, pad the rest
        scale_h = scale_w = min(height / h, width / w)
    new_h, new_w = max(1, round(h * scale_h)), max(1, round(w * scale_w))
    resized = _scaled(image, new_h, new_w)
    if mode == "stretch":
        return resized
    canvas = np.zeros((height, width) + resized.shape[2:], dtype=resized.dtype)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def to_pixels(image_bgr: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """BGR frame -> uint8 HxWxC at the model's size and colour order (before normalisation). Grayscale is taken
    before resizing (a third of the pixels to resize); a BGR->RGB swap after it, where it touches fewer pixels and
    gives the same result, as resizing treats channels independently."""
    if spec.color_order == "gray":
        image = _resize(_convert_colour(image_bgr, "gray"), spec.height, spec.width, spec.resize)
    else:
        image = _convert_colour(_resize(image_bgr, spec.height, spec.width, spec.resize), spec.color_order)
    return image.reshape(spec.input_shape)


def normalize(pixels: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """uint8 pixels (any leading batch shape) -> float32 model input: pixels * scale + offset."""
    return pixels.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset)


def prepare(image_bgr: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """BGR frame -> float32 HxWxC input tensor: what the model was trained on."""
    return normalize(to_pixels(image_bgr, spec), spec)
