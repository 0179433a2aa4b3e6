"""The Python API for the device, `edge.Classifier`, on the session's real exports: the same labels and scores as
edge-classify for photos, frames, folders and videos; errors that name the argument; no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, SAMPLE

PHOTOS = sorted((SAMPLE / "test").glob("*/*"))


def _edge_classify(model, images) -> list[dict]:
    done = subprocess.run([str(Path(sys.executable).parent / "edge-classify"), "--model", str(model), "--images", str(images),
                           "--json", "--top-k", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()[:-1]]


@pytest.mark.parametrize("name", ["muffins.tflite", "muffins.int8.onnx"])
def test_classify_gives_what_edge_classify_gives(device_models, name):
    from edge import Classifier, Result

    model = device_models[0] / name
    classifier = Classifier(model, top_k=2)
    assert classifier.labels == ("chihuahua", "muffin") and classifier.spec.height == 32
    assert classifier.runtime.split()[0] in ("ai-edge-litert", "onnxruntime")
    theirs = {record["path"]: record for record in _edge_classify(model, SAMPLE / "test")}
    for path in PHOTOS[::10]:
        result = classifier.classify(path)
        assert isinstance(result, Result) and result.latency_ms > 0
        assert (result.label, round(result.score, 4)) == (theirs[str(path)]["label"], theirs[str(path)]["score"])
        assert [label for label, _ in result.top] == [label for label, _ in theirs[str(path)]["top"]]
        frame = cv2.imread(str(path))
        assert classifier.classify(frame).top == result.top, "a BGR frame and its file give the same result"
    grey = cv2.cvtColor(cv2.imread(str(PHOTOS[0])), cv2.COLOR_BGR2GRAY)
    assert classifier.classify(grey).label in classifier.labels


def test_frames_of_a_folder_and_of_a_video(device_models, tmp_path):
    from edge import Classifier

    model = device_models[0] / "muffins.tflite"
    classifier = Classifier(model)
    theirs = [record["label"] for record in _edge_classify(model, SAMPLE / "test" / "muffin")]
    ours = [(frame.shape, result.label) for frame, result in classifier.frames(SAMPLE / "test" / "muffin")]
    assert [label for _, label in ours] == theirs and all(len(shape) == 3 for shape, _ in ours)
    assert len(list(classifier.frames(str(SAMPLE / "test"), max_frames=7))) == 7

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, (96, 96))
    photos = [cv2.resize(cv2.imread(str(p)), (96, 96)) for p in PHOTOS[:12]]
    for photo in photos:
        writer.write(photo)
    writer.release()
    from_video = [result.label for _, result in classifier.frames(video)]
    assert from_video == [classifier.classify(photo).label for photo in photos], "a lossless clip, frame by frame"
    smoothed = [result.score for _, result in classifier.frames(str(video), smooth=12)]
    assert len(smoothed) == 12 and np.std(smoothed[6:]) <= np.std([classifier.classify(p).score for p in photos[6:]])


def test_errors_name_the_argument(device_models, tmp_path):
    from edge import Classifier
    from edge.errors import UserError

    model = device_models[0] / "muffins.tflite"
    cases = [(lambda: Classifier(tmp_path / "nope.tflite"), "nope.tflite: no such model file"),
             (lambda: Classifier(model, threads=0), "threads=0: give 1 to"),
             (lambda: Classifier(model, top_k=0), "top_k=0"),
             (lambda: Classifier(model).classify(np.zeros((8, 8, 4), np.uint8)), "image: give a BGR uint8 array"),
             (lambda: Classifier(model).classify(tmp_path / "none.jpg"), "none.jpg: cannot read it"),
             (lambda: list(Classifier(model).frames(tmp_path / "none.mp4")), "source="),
             (lambda: list(Classifier(model).frames(0, smooth=0)), "smooth=0")]
    for call, expected in cases:
        with pytest.raises(UserError) as caught:
            call()
        assert expected in str(caught.value) and "--" not in str(caught.value).split(":")[0], str(caught.value)


def test_the_api_runs_with_tensorflow_blocked(device_models):
    code = f"""
import sys
from pathlib import Path
sys.modules["tensorflow"] = None
sys.modules["keras"] = None
from edge import Classifier
classifier = Classifier({str(device_models[0] / "muffins.tflite")!r})
print(classifier.classify({str(PHOTOS[0])!r}).label)
print(sum(1 for _ in classifier.frames({str(SAMPLE / "test")!r})))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    label, count = done.stdout.split()
    assert label in ("chihuahua", "muffin") and count == "100"
    assert "INFO: Created TensorFlow Lite XNNPACK" not in done.stderr
