"""The tflite_uint8 export loads in MediaPipe Tasks (`vision.ImageClassifier`, what Android, iOS and web apps use) as
is, with both labels, and agrees with edge-classify. MediaPipe runs in its own venv, .venv-mediapipe, which
scripts/venv.sh makes (its opencv-contrib-python would shadow opencv-python-headless here)."""

from __future__ import annotations

import json
import subprocess
import zipfile

import pytest

from tests.conftest import REPO, SAMPLE

pytestmark = pytest.mark.slow  # trains or converts

MEDIAPIPE_PYTHON = REPO / ".venv-mediapipe" / "bin" / "python"

CLASSIFY = REPO / "scripts" / "mediapipe_classify.py"  # the centre square as region of interest, as trained


def test_mediapipe_image_classifier_loads_the_uint8_export_and_agrees(exported, cli):
    """Agreement is counted where edge-classify is confident (top score >= 0.6): MediaPipe resizes the crop with its
    own bilinear filter, not the spec's block averaging, which moves a score by 0.09 on average on this weak 48-px
    test model, so photos scored near 0.5 can fall either way (the demo's 96-px model agreed on all 100)."""
    from edge import runtime
    from edge.classify import app

    path = exported[0] / "muffins.uint8.tflite"
    assert MEDIAPIPE_PYTHON.is_file(), "run `bash scripts/venv.sh`: it makes .venv-mediapipe for this test"
    runner = runtime.load(path, 1)  # our own reader still finds our spec, and the checksum holds with the zip
    assert runner.spec.labels == ("chihuahua", "muffin") and runner.describe()["outputs"][0]["shape"] == [1, 2]
    assert zipfile.ZipFile(path).read("labels.txt").decode().split() == ["chihuahua", "muffin"]

    photos = sorted(str(p) for p in (SAMPLE / "test").glob("*/*"))
    done = subprocess.run([str(MEDIAPIPE_PYTHON), str(CLASSIFY), str(path), *photos], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = {r["path"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert len(theirs) == len(photos) == 100
    assert all(sorted(r["labels"]) == ["chihuahua", "muffin"] for r in theirs.values()), "both labels, every time"

    result = cli.invoke(app, ["--model", str(path), "--images", str(SAMPLE / "test"), "--json"])
    ours = [json.loads(line) for line in result.stdout.splitlines()[:-1]]
    assert len(ours) == 100

    def muffin(record: dict) -> float:  # their score for "muffin"
        return dict(zip(record["labels"], record["scores"]))["muffin"]

    ours_muffin = [r["score"] if r["label"] == "muffin" else 1 - r["score"] for r in ours]
    gaps = [abs(muffin(theirs[r["path"]]) - p) for r, p in zip(ours, ours_muffin)]
    clear = [r for r in ours if r["score"] >= 0.6]
    agreement = sum(theirs[r["path"]]["labels"][0] == r["label"] for r in clear) / len(clear)
    assert len(clear) >= 40 and agreement >= 0.95, (len(clear), agreement)
    assert sum(gaps) / len(gaps) < 0.15, "MediaPipe's own resizing of the crop moves scores a little, no more"
