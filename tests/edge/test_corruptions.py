"""The camera corruptions (edge/corruptions.py) on a real photo of the sample, and the robustness report built on them
(edge/robustness.py), without TensorFlow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge import corruptions, robustness
from edge.corruptions import CORRUPTIONS, MAX_SEVERITY, corrupt, families
from edge.spec import ModelSpec
from tests.conftest import SAMPLE

RANDOM = ("noise", "motion_blur", "rotation", "shift", "white_balance")  # families that draw from the seed


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    path = sorted((SAMPLE / "test" / "muffin").glob("*.jpg"))[0]
    return cv2.resize(cv2.imread(str(path)), (224, 224), interpolation=cv2.INTER_AREA)


def _shapes(photo):
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (28, 28), interpolation=cv2.INTER_AREA)
    return {"colour 224": photo, "grey 224 (H, W, 1)": grey[..., None], "grey 28 (H, W)": small,
            "colour 160x120": cv2.resize(photo, (160, 120))}


@pytest.mark.parametrize("family", list(CORRUPTIONS))
def test_each_corruption_keeps_shape_and_dtype_is_seeded_and_is_the_identity_at_severity_0(photo, family):
    for what, image in _shapes(photo).items():
        channels = image.shape[2] if image.ndim == 3 else 1
        if family not in families(channels):
            continue
        assert corrupt(image, family, 0, seed=3) is image, what
        for severity in range(1, MAX_SEVERITY + 1):
            once, again = corrupt(image, family, severity, seed=3), corrupt(image, family, severity, seed=3)
            assert once.shape == image.shape and once.dtype == np.uint8, (what, severity)
            assert np.array_equal(once, again), f"{family} {severity} on {what}: the same seed, the same image"
        assert not np.array_equal(corrupt(image, family, MAX_SEVERITY, 3), image), f"{family} changes {what}"
    if family in RANDOM:
        assert any(not np.array_equal(corrupt(photo, family, 3, seed), corrupt(photo, family, 3, 0)) for seed in (1, 2, 5))


@pytest.mark.parametrize("family", [f for f in CORRUPTIONS if f != "shift"])
def test_the_damage_grows_with_severity(photo, family):
    damage = [np.abs(corrupt(photo, family, s, 4).astype(int) - photo).mean() for s in range(MAX_SEVERITY + 1)]
    assert damage[0] == 0 and damage[1] > 0.5 and damage[MAX_SEVERITY] > damage[1] * 1.3, damage


def test_the_corruptions_do_what_their_tables_say(photo):
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    for severity in (1, 3, 5):
        dark = corrupt(photo, "dark", severity)
        assert dark.mean() == pytest.approx(photo.mean() * corruptions.EXPOSURE[severity - 1], rel=0.02)
        noise = corrupt(photo, "noise", severity).astype(np.float32) - photo
        assert noise.std() == pytest.approx(255 * corruptions.NOISE_SIGMA[severity - 1], rel=0.2), "clipping trims a little"
        moved = cv2.cvtColor(corrupt(photo, "shift", severity, seed=2), cv2.COLOR_BGR2GRAY).astype(np.float32)
        (dx, dy), _ = cv2.phaseCorrelate(grey, moved)
        assert np.hypot(dx, dy) == pytest.approx(224 * corruptions.SHIFT[severity - 1], abs=1.5)
        spread = lambda image: (image - image.mean(axis=(0, 1))).std()  # noqa: E731 (about each channel's mean)
        assert spread(corrupt(photo, "contrast", severity)) == pytest.approx(
            spread(photo) * corruptions.CONTRAST[severity - 1], rel=0.05)
        mid = photo // 2 + 40  # no channel clipped at 255 by a 1.45 gain
        balanced = corrupt(mid, "white_balance", severity, seed=1).reshape(-1, 3).mean(axis=0) / mid.reshape(-1, 3).mean(axis=0)
        assert abs(balanced[0] - balanced[2]) == pytest.approx(2 * corruptions.WHITE_BALANCE[severity - 1], abs=0.01)
    detail = [cv2.Laplacian(corrupt(photo, "low_resolution", s), cv2.CV_32F).var() for s in (0, 1, 5)]
    assert detail[2] < 0.5 * detail[1] < 0.5 * detail[0], f"less detail left at a lower resolution: {detail}"


def test_refusals():
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(image, "fog", 1)
    with pytest.raises(ValueError, match="severity 6"):
        corrupt(image, "noise", 6)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(image.astype(np.float32), "noise", 1)
    with pytest.raises(ValueError, match="colour"):
        corrupt(image[..., :1], "white_balance", 2)
    assert "white_balance" not in families(1) and set(families(3)) == set(CORRUPTIONS)


def _brightness_model(threshold: float):
    """A classifier that any reader can check: class 1 when the mean input is above THRESHOLD."""
    return lambda x: (x.reshape(len(x), -1).mean(axis=1, keepdims=True) > threshold).astype(np.float32)


def test_robustness_report_pairs_the_same_corrupted_images():
    rng = np.random.default_rng(0)
    dim, bright = rng.integers(20, 60, (40, 16, 16, 3)), rng.integers(150, 230, (40, 16, 16, 3))
    pixels, targets = np.concatenate([dim, bright]).astype(np.uint8), np.repeat([0, 1], 40)
    spec = ModelSpec("binary", ("dim", "bright"), 16, 16, scale=1 / 255)
    model = _brightness_model(0.4)
    result = robustness.evaluate(model, pixels, targets, spec, images=60, seed=1)
    assert result["images"] == 60 and result["clean"] == 1.0
    assert list(result["accuracy"]) == list(families(3)) and result["severities"] == list(robustness.SEVERITIES)
    assert result["accuracy"]["dark"] == [1.0, 0.5, 0.5], "under-exposure turns every bright image dim"
    assert result["accuracy"]["rotation"] == [1.0] * 3, "a rotation keeps the mean brightness"
    assert result["mean"] == [round(float(np.mean([v[i] for v in result["accuracy"].values()])), 6) for i in range(3)]
    assert result["middle"]["worst_family"] in ("dark", "contrast") and result["middle"]["worst_drop"] == 0.5
    assert robustness.evaluate(model, pixels, targets, spec, images=60, seed=1) == result, "seeded"
    stricter = robustness.evaluate(_brightness_model(0.5), pixels, targets, spec, images=60, seed=1)
    assert robustness.extra_loss(stricter, result) == pytest.approx(
        (stricter["clean"] - stricter["corrupted_mean"]) - (result["clean"] - result["corrupted_mean"]))
    table = robustness.markdown_table(result)
    assert "| dark | 100.00 | 100.00 | 50.00 | 50.00 |" in table and "**mean**" in table


def test_robustness_does_not_apply_to_raw_arrays_or_regression():
    assert robustness.not_applicable(ModelSpec("regression", (), 20, 20, 4, "none")) == "a regression model"
    assert robustness.not_applicable(ModelSpec("multiclass", ("a", "b", "c"), 20, 20, 4, "none")) == "raw arrays, not pictures"
    assert robustness.not_applicable(ModelSpec("multiclass", ("a", "b", "c"), 28, 28, 1, "gray")) is None
