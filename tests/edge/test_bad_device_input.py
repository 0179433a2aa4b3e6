"""Every bad input to edge-classify gets one clear line naming the file or flag, a non-zero exit, and no partial
output."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLE


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def classify(cli):
    from edge.classify import app

    return lambda *args: cli.invoke(app, [str(a) for a in args])


def test_missing_model(classify, tmp_path):
    result = classify("--model", tmp_path / "nope.tflite", "--images", SAMPLE / "test")
    assert result.exit_code == 2 and "nope.tflite: no such model file" in _error_line(result)


@pytest.mark.parametrize("name", ["corrupt.tflite", "corrupt.onnx", "corrupt.int8.onnx"])
def test_corrupt_model(classify, tmp_path, name):
    model = tmp_path / name
    model.write_bytes(b"\x00garbage" * 50)
    result = classify("--model", model, "--images", SAMPLE / "test")
    assert result.exit_code == 2 and name in _error_line(result)


def test_truncated_tflite(classify, device_models, tmp_path):
    out_dir, _ = device_models
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes((out_dir / "muffins.tflite").read_bytes()[:5000])
    result = classify("--model", truncated, "--images", SAMPLE / "test")
    assert result.exit_code == 2 and "cut.tflite" in _error_line(result)


def test_keras_file_given_to_edge_classify(classify, tmp_path):
    keras_file = tmp_path / "muffins.keras"
    keras_file.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip, as .keras files are zips
    result = classify("--model", keras_file, "--images", SAMPLE / "test")
    assert result.exit_code == 2 and "convert quantize" in _error_line(result)


def test_unreadable_files_in_data_folder_are_skipped_and_counted(classify, device_models, tmp_path):
    out_dir, _ = device_models
    data = tmp_path / "data"
    shutil.copytree(SAMPLE / "test", data)
    (data / "muffin" / "notes.txt").write_text("not an image")
    (data / "chihuahua" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = classify("--model", out_dir / "muffins.tflite", "--images", data, "--json")
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr and "notes.txt" in result.stderr and "broken.jpg" in result.stderr
    assert '"skipped": 2' in result.stdout.splitlines()[-1] and '"frames": 100' in result.stdout.splitlines()[-1]


def test_entries_that_are_in_no_class_or_not_files_are_warned_about_and_counted(classify, device_models, tmp_path):
    """Before: a photo beside the class folders, a FIFO, a looping link were passed over in silence, and a folder
    named other than the labels was scored 0%."""
    import json
    import os

    out_dir, _ = device_models
    data = tmp_path / "data"
    shutil.copytree(SAMPLE / "test", data)
    shutil.copy(next((SAMPLE / "test" / "muffin").iterdir()), data / "loose.jpg")
    os.mkfifo(data / "muffin" / "pipe.jpg")
    (data / "chihuahua" / "loop.jpg").symlink_to(data / "chihuahua" / "loop.jpg")
    shutil.copytree(SAMPLE / "test" / "muffin", data / "Muffins")
    result = classify("--model", out_dir / "muffins.tflite", "--images", data, "--json")
    assert result.exit_code == 0, result.output
    assert "ignored 1 entry (loose.jpg) that lie beside the class folders" in result.stderr
    assert "(pipe.jpg) that are not regular files" in result.stderr and "(loop.jpg)" in result.stderr
    assert "folders Muffins are not among the model's labels (chihuahua, muffin)" in result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["skipped"] == 3 and summary["frames"] == 150 and summary["judged"] == 100, summary


def test_folder_of_only_broken_files(classify, device_models, tmp_path):
    out_dir, _ = device_models
    (tmp_path / "a.jpg").write_bytes(b"nope")
    result = classify("--model", out_dir / "muffins.tflite", "--images", tmp_path)
    assert result.exit_code == 2 and "no frame could be classified" in _error_line(result)


@pytest.mark.parametrize("camera", ["97", "\u00b2"])  # "²" is a digit to str.isdigit, not to int()
def test_camera_that_does_not_open(classify, device_models, camera):
    out_dir, _ = device_models
    result = classify("--model", out_dir / "muffins.tflite", "--camera", camera)
    assert result.exit_code == 2 and f"camera {camera} did not open" in _error_line(result)


@pytest.mark.parametrize("flag, advice", [("--camera", "is another program using it?"),
                                          ("--video", "it is empty or its codec is not supported")])
def test_source_that_opens_but_gives_no_frame(classify, device_models, tmp_path, flag, advice):
    import cv2

    out_dir, _ = device_models
    empty = tmp_path / "empty.avi"  # a real container OpenCV opens, with no frame in it (as a busy camera behaves)
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()
    result = classify("--model", out_dir / "muffins.tflite", flag, empty)
    assert result.exit_code == 2 and "opened but gave no frame" in _error_line(result) and advice in _error_line(result)


def test_video_that_cannot_be_decoded(classify, device_models, tmp_path):
    out_dir, _ = device_models
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"this is not a video" * 100)
    result = classify("--model", out_dir / "muffins.tflite", "--video", video)
    assert result.exit_code == 2 and "clip.mp4" in _error_line(result)


def test_two_sources_at_once(classify, device_models):
    out_dir, _ = device_models
    result = classify("--model", out_dir / "muffins.tflite", "--camera", 0, "--images", SAMPLE / "test")
    assert result.exit_code == 2 and "exactly one source" in _error_line(result)


def test_a_labels_file_that_is_a_device_or_huge_is_refused_unread(classify, device_models, tmp_path):
    bare = device_models[0] / "bare.fp32.tflite"
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "huge.txt").write_bytes(b"muffin\n" * 300_000)
    for name, expected in (("zero.txt", "not a regular file"), ("huge.txt", "over 1 MB")):
        result = classify("--model", bare, "--images", SAMPLE / "test", "--labels", tmp_path / name, "--size", "32x32")
        assert result.exit_code == 2 and f"--labels {tmp_path / name}: {expected}" in _error_line(result), result.output
