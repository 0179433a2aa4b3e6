"""Scores -> labels: probabilities, top-k, `unsure`, and smoothing that stops a label flickering."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.postprocess import UNSURE, Smoother, class_indices, probabilities, top_k
from edge.preprocess import read_image
from edge.spec import ModelSpec
from tests.conftest import SAMPLE

BINARY = ModelSpec("binary", ("chihuahua", "muffin"), 8, 8)
THREE = ModelSpec("multiclass", ("a", "b", "c"), 8, 8)


def test_probabilities_for_sigmoid_softmax_and_logits():
    assert probabilities(np.array([0.8]), BINARY) == pytest.approx([0.2, 0.8])
    assert probabilities(np.array([0.1, 0.7, 0.2]), THREE) == pytest.approx([0.1, 0.7, 0.2])
    logits = probabilities(np.array([1.0, 3.0, -2.0]), THREE)
    assert logits.sum() == pytest.approx(1.0) and np.argmax(logits) == 1


def test_a_tie_goes_to_the_first_label_on_every_path():
    """An int8 sigmoid with scale 1/256 lands exactly on 0.5 for some photos: the parity check (class_indices) and
    edge-classify (top_k of probabilities) must give those the same label, the first one."""
    tie = np.array([[0.5]], dtype=np.float32)
    assert class_indices(tie, BINARY).tolist() == [0] and class_indices(np.array([[0.50390625]]), BINARY).tolist() == [1]
    assert top_k(probabilities(tie[0], BINARY), BINARY) == [("chihuahua", 0.5)]
    assert top_k(probabilities(np.array([0.25, 0.5, 0.25]), THREE), THREE)[0][0] == "b"
    assert class_indices(np.array([[0.4, 0.4, 0.2]]), THREE).tolist() == [0]
    assert top_k(np.array([0.4, 0.4, 0.2]), THREE, k=2) == [("a", 0.4), ("b", 0.4)]


def test_top_k_and_unsure():
    probs = np.array([0.3, 0.45, 0.25])
    assert top_k(probs, THREE, k=2) == [("b", 0.45), ("a", 0.3)]
    assert top_k(probs, THREE, unsure_below=0.5) == [(UNSURE, 0.45)]


def test_smoother_holds_a_label_through_one_odd_frame():
    smooth = Smoother(3)
    labels = [top_k(smooth(np.array(p)), BINARY)[0][0] for p in ([0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1])]
    assert labels == ["chihuahua"] * 4


def test_classify_top_k_and_unsure_flags(device_models, cli):
    from edge.classify import app

    out_dir, _ = device_models
    model = str(out_dir / "muffins.tflite")
    result = cli.invoke(app, ["--model", model, "--images", str(SAMPLE / "test"), "--json", "--top-k", "2"])
    frames = [json.loads(line) for line in result.stdout.splitlines()[:-1]]
    assert all(len(f["top"]) == 2 and f["top"][0][1] >= f["top"][1][1] for f in frames)
    assert all(sum(p for _, p in f["top"]) == pytest.approx(1, abs=1e-3) for f in frames)
    unsure = cli.invoke(app, ["--model", model, "--images", str(SAMPLE / "test"), "--json", "--unsure-below", "0.9"])
    labels = [json.loads(line)["label"] for line in unsure.stdout.splitlines()[:-1]]
    scores = [f["score"] for f in frames]
    assert labels.count(UNSURE) == sum(s < 0.9 for s in scores) > 0


def test_smoothing_a_video_changes_label_less_often(device_models, cli, tmp_path):
    from edge.classify import app

    out_dir, _ = device_models
    video = tmp_path / "flicker.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 160))
    muffins, dogs = sorted((SAMPLE / "test" / "muffin").iterdir()), sorted((SAMPLE / "test" / "chihuahua").iterdir())
    for i in range(30):  # mostly muffins, a chihuahua every third frame
        writer.write(cv2.resize(read_image(dogs[i] if i % 3 == 2 else muffins[i]), (160, 160)))
    writer.release()

    def changes(*flags):
        result = cli.invoke(app, ["--model", str(out_dir / "muffins.onnx"), "--video", str(video), "--json", *flags])
        labels = [json.loads(line)["label"] for line in result.stdout.splitlines()[:-1]]
        assert len(labels) == 30
        return sum(a != b for a, b in zip(labels, labels[1:]))

    assert changes("--smooth", "5") < changes()
