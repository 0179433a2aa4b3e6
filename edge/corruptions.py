"""What a camera does to a picture, at graded severities (after ImageNet-C, Hendrycks and Dietterich 2019), with
OpenCV and numpy only. `corrupt` takes a uint8 image (H, W) or (H, W, C), a family, a severity from 0 (the image
unchanged) to 5 and a seed, and returns a uint8 image of the same shape, the same for the same seed. Lengths (blur,
shift) are in pixels of a 224-pixel short side and scale with the image; images under 56 pixels count as 56, where a
blur that vanished would test nothing."""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

MAX_SEVERITY = 5
MIDDLE = 3  # the severity the robustness goals are stated at (docs/guides/camera-robustness.md)

# severity 1..5 -> the family's parameter
NOISE_SIGMA = (0.04, 0.07, 0.10, 0.14, 0.19)  # Gaussian sensor noise, of the 0..255 range: a dim room at high gain
EXPOSURE = (0.75, 0.6, 0.45, 0.33, 0.22)  # brightness kept: under-exposure
MOTION_LENGTH = (5, 9, 13, 17, 23)  # px at 224: a moving subject or a shaking mount
DEFOCUS_RADIUS = (1.0, 2.0, 3.0, 4.0, 5.5)  # px at 224, the lens's disk: out of focus
JPEG_QUALITY = (50, 30, 20, 12, 7)  # a compressed stream
RESOLUTION = (0.7, 0.5, 0.35, 0.25, 0.18)  # share of the side a cheap sensor resolves, scaled back up
ROTATION_DEGREES = (4, 8, 12, 17, 23)  # a crooked mount, either way
WHITE_BALANCE = (0.1, 0.18, 0.26, 0.35, 0.45)  # red/blue gain shift: tungsten or shade light (colour images only)
CONTRAST = (0.75, 0.6, 0.45, 0.33, 0.22)  # share of the contrast kept: haze, a dirty lens, backlight
SHIFT = (0.04, 0.08, 0.12, 0.16, 0.22)  # share of the side the subject sits off centre


def _scale(image: np.ndarray) -> float:
    return max(min(image.shape[:2]), 56) / 224


def _noise(image, severity, rng):
    noise = rng.normal(0.0, 255 * NOISE_SIGMA[severity - 1], image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _gain(image, gains) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gains + 0.5, 0, 255).astype(np.uint8)


def _dark(image, severity, rng):
    return _gain(image, EXPOSURE[severity - 1])


def _filtered(image, kernel) -> np.ndarray:
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def motion_blur(image: np.ndarray, length: int, angle: float) -> np.ndarray:
    """IMAGE smeared along a line of LENGTH pixels (odd, 3 or more) at ANGLE degrees."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    return _filtered(image, cv2.warpAffine(kernel, turn, (length, length)))


def defocus(image: np.ndarray, radius: float) -> np.ndarray:
    """IMAGE through a disk of RADIUS pixels, anti-aliased (each kernel cell weighted by the share of it inside the
    disk, sampled 8 x 8), so that radii under a pixel still blur."""
    half = int(np.ceil(radius))
    fine = (np.arange(8 * (2 * half + 1)) + 0.5) / 8 - half - 0.5
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2 <= radius * radius).astype(np.float32)
    return _filtered(image, inside.reshape(2 * half + 1, 8, 2 * half + 1, 8).mean(axis=(1, 3)))


def _motion_blur(image, severity, rng):
    length = max(3, int(round(MOTION_LENGTH[severity - 1] * _scale(image))) | 1)
    return motion_blur(image, length, float(rng.uniform(0, 180)))


def _defocus(image, severity, rng):
    return defocus(image, DEFOCUS_RADIUS[severity - 1] * _scale(image))


def _jpeg(image, severity, rng):
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY[severity - 1]])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def _low_resolution(image, severity, rng):
    height, width = image.shape[:2]
    keep = RESOLUTION[severity - 1]
    small = cv2.resize(image, (max(1, round(width * keep)), max(1, round(height * keep))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR_EXACT)


def _warped(image, matrix) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _rotation(image, severity, rng):
    angle = ROTATION_DEGREES[severity - 1] * (1 if rng.random() < 0.5 else -1)
    return _warped(image, cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), angle, 1.0))


def _shift(image, severity, rng):
    """The subject off centre by the severity's share of the side, in a random direction (edges reflected)."""
    angle = rng.uniform(0, 2 * np.pi)
    distance = SHIFT[severity - 1] * min(image.shape[:2])
    return _warped(image, np.float32([[1, 0, distance * np.cos(angle)], [0, 1, distance * np.sin(angle)]]))


def _white_balance(image, severity, rng):
    """Warmer (more red, less blue) or cooler light, drawn at random, so that RGB order, which swaps the two, is as
    good as BGR."""
    shift = WHITE_BALANCE[severity - 1] * (1 if rng.random() < 0.5 else -1)
    return _gain(image, np.array([1 - shift, 1.0, 1 + shift], np.float32))


def _contrast(image, severity, rng):
    mean = image.mean(axis=(0, 1), keepdims=True)
    return np.clip((image - mean) * CONTRAST[severity - 1] + mean + 0.5, 0, 255).astype(np.uint8)


CORRUPTIONS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "noise": _noise, "dark": _dark, "motion_blur": _motion_blur, "defocus": _defocus, "jpeg": _jpeg,
    "low_resolution": _low_resolution, "rotation": _rotation, "shift": _shift, "white_balance": _white_balance,
    "contrast": _contrast,
}
COLOUR_ONLY = ("white_balance",)


def families(channels: int) -> tuple[str, ...]:
    """The families that apply to images of CHANNELS channels (1: grey, 3: colour)."""
    return tuple(name for name in CORRUPTIONS if channels == 3 or name not in COLOUR_ONLY)


def corrupt(image: np.ndarray, family: str, severity: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """IMAGE (uint8, colour or grey) under FAMILY at SEVERITY (0: IMAGE itself); the same SEED gives the same
    result."""
    if family not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {family!r}; one of {', '.join(CORRUPTIONS)}")
    if not 0 <= severity <= MAX_SEVERITY:
        raise ValueError(f"severity {severity}: give 0 to {MAX_SEVERITY}")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"corrupt takes uint8 grey or colour images, not {image.dtype} {image.shape}")
    if severity == 0:
        return image
    if family in COLOUR_ONLY and (image.ndim == 2 or image.shape[2] == 1):
        raise ValueError(f"{family} needs a colour image")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    source = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image  # OpenCV's filters drop that axis
    return np.ascontiguousarray(CORRUPTIONS[family](source, severity, rng)).reshape(image.shape)
