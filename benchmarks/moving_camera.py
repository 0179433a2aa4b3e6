"""`edge-bench moving-camera`: what `edge-classify --smooth N` buys on a moving camera. Photos of known classes are
filmed by a simulated hand-held camera (OpenCV only): it pans, shakes, zooms and tilts, smears with its own motion,
hunts for focus after every cut, and the room's light dims and warms, with the sensor noise a camera's auto-gain
brings; the clip is MJPEG, as USB cameras send. edge-classify runs over it with each --smooth, as on the device, and
every frame's label is held against the photo being filmed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np
import typer

from benchmarks.results import REPO, write_results
from edge import metrics
from edge.console import user_errors
from edge.corruptions import defocus, motion_blur
from edge.errors import UserError
from edge.folders import class_folder
from edge.preprocess import read_image
from edge.tables import markdown

FOCUS_FRAMES = 8  # frames the autofocus takes to settle after a cut
SETTLED_S = 0.5  # frames this long after a cut count as settled
ACCURACIES = ("accuracy", "settled_accuracy", "first_half_second_accuracy")  # fractions, shown in percent


@dataclass
class Clip:
    path: Path
    labels: list[str]  # the class of the photo each frame films
    cuts: list[int]  # the frames where a new photo starts
    fps: float


def _camera(frame: int, phases: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """(x shift px, y shift px, zoom, degrees) of the hand-held camera at FRAME: a slow sway plus a faster shake,
    each wave started at one of PHASES."""
    t, p = float(frame), phases
    dx = width * (0.06 * np.sin(t / 11 + p[0]) + 0.015 * np.sin(t / 1.7 + p[1]))
    dy = height * (0.05 * np.sin(t / 13 + p[2]) + 0.015 * np.sin(t / 2.1 + p[3]))
    return dx, dy, 1.15 + 0.1 * np.sin(t / 29 + p[4]), 4 * np.sin(t / 23 + p[5])


def _filmed(photo: np.ndarray, frame: int, since_cut: int, phases: np.ndarray, rng, size: tuple[int, int]) -> np.ndarray:
    """PHOTO as the camera sees it at FRAME, SINCE_CUT frames after it came into view."""
    width, height = size
    dx, dy, zoom, degrees = _camera(frame, phases, width, height)
    cover = zoom * max(width / photo.shape[1], height / photo.shape[0])
    matrix = cv2.getRotationMatrix2D((photo.shape[1] / 2, photo.shape[0] / 2), degrees, cover)
    matrix[:, 2] += (width / 2 + dx - photo.shape[1] / 2, height / 2 + dy - photo.shape[0] / 2)
    image = cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    before = _camera(frame - 1, phases, width, height)
    speed, angle = np.hypot(dx - before[0], dy - before[1]), np.degrees(np.arctan2(dy - before[1], dx - before[0]))
    if speed >= 2:  # the exposure smears the image along the camera's motion
        image = motion_blur(image, int(round(speed)) | 1, -angle)
    if since_cut < FOCUS_FRAMES:  # focus hunting after a cut
        image = defocus(image, 6.0 * (1 - since_cut / FOCUS_FRAMES))
    light = 0.55 + 0.4 * (0.5 + 0.5 * np.sin(frame / 37 + phases[6]))  # lights dim and brighten
    warmth = 0.15 * np.sin(frame / 53 + phases[7])  # tungsten to daylight
    gains = np.array([1 - warmth, 1.0, 1 + warmth], np.float32) * light  # BGR
    noise = rng.normal(0, 3 + 14 * (1 - light), image.shape)  # auto-gain lifts the noise in the dark
    return np.clip(image * gains + noise, 0, 255).astype(np.uint8)


def make_clip(photos: Path, path: Path, per_class: int = 12, hold_s: float = 2.0, fps: float = 15.0,
              size: tuple[int, int] = (640, 480), seed: int = 0) -> Clip:
    """An MJPEG clip filming PER_CLASS photos of each class of PHOTOS/<class>/, HOLD_S seconds each, in a shuffled
    order, with the camera of _filmed."""
    folder = class_folder(photos)
    rng = np.random.default_rng(seed)
    chosen = [i for c in range(len(folder.classes))
              for i in rng.permutation([k for k, t in enumerate(folder.targets) if t == c])[:per_class]]
    order = rng.permutation(chosen)
    phases = rng.uniform(0, 2 * np.pi, 8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise UserError(f"{path}: OpenCV cannot write an MJPEG video here")
    labels, cuts, frame, hold = [], [], 0, max(1, round(hold_s * fps))
    for index in order:
        photo = read_image(folder.files[index])
        cuts.append(frame)
        for since_cut in range(hold):
            writer.write(_filmed(photo, frame, since_cut, phases, rng, size))
            labels.append(folder.classes[folder.targets[index]])
            frame += 1
    writer.release()
    return Clip(path, labels, cuts, fps)


def classify(model: Path, clip: Clip, smooth: int, threads: Optional[int]) -> list[str]:
    """edge-classify's label for every frame of CLIP with --smooth SMOOTH, run as on the device."""
    command = [sys.executable, "-m", "edge.classify", "--model", str(model), "--video", str(clip.path), "--json",
               "--smooth", str(smooth), *(["--threads", str(threads)] if threads else [])]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode:
        raise UserError(f"--model {model}: edge-classify failed ({done.stderr.strip().splitlines()[-1:]})")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return [line["label"] for line in lines if "label" in line]


def score(labels: list[str], clip: Clip, smooth: int) -> dict:
    """Accuracy over every frame, over the settled frames (SETTLED_S after a cut) and over the rest, and how often
    the label changes beyond the true changes."""
    truth = np.array(clip.labels)
    given = np.array(labels)
    if len(given) != len(truth):
        raise UserError(f"{clip.path}: edge-classify labelled {len(given)} frames of {len(truth)}")
    since = np.arange(len(truth)) - np.array([max(c for c in clip.cuts if c <= f) for f in range(len(truth))])
    settled = since >= SETTLED_S * clip.fps
    right = given == truth
    changes = int(np.sum(given[1:] != given[:-1]))
    true_changes = int(np.sum(truth[1:] != truth[:-1]))
    minutes = len(truth) / clip.fps / 60
    return {"smooth": smooth, "frames": len(truth), "accuracy": metrics.stored(right.mean()),
            "settled_accuracy": metrics.stored(right[settled].mean()),
            "first_half_second_accuracy": metrics.stored(right[~settled].mean()),
            "label_changes": changes, "true_changes": true_changes,
            "extra_changes_per_min": round((changes - true_changes) / minutes, 1)}


def moving_camera(
    model: Path = typer.Option(..., "--model", "-m", help="A .tflite or .onnx file."),
    photos: Path = typer.Option(..., help="Class folders of held-out photos, filmed by the simulated camera."),
    smooth: List[int] = typer.Option([1, 3, 5, 9], help="--smooth values to compare; repeat the flag for each."),
    per_class: int = typer.Option(12, min=1, help="Photos filmed from each class."),
    hold: float = typer.Option(2.0, min=0.2, help="Seconds each photo is filmed."),
    threads: Optional[int] = typer.Option(None, min=1, help="Inference threads [default: all cores]."),
    keep_video: Optional[Path] = typer.Option(None, help="Also keep the clip here (.avi)."),
    out: Path = typer.Option(Path("benchmarks/results/moving_camera"), help="Writes OUT.json and OUT.md."),
):
    """Per-frame and smoothed accuracy of edge-classify --video on a simulated hand-held camera."""
    with user_errors(), tempfile.TemporaryDirectory() as work:
        clip = make_clip(photos, keep_video or Path(work) / "clip.avi", per_class, hold)
        rows = [score(classify(model, clip, n, threads), clip, n) for n in smooth]
    text = (f"`edge-bench moving-camera -m {model.name} --photos {photos}`: {len(clip.cuts)} photos, {hold:g} s each, "
            f"filmed at {clip.fps:g} fps, 640x480 MJPEG, by a simulated hand-held camera (sway and shake, zoom, tilt, "
            f"motion blur, focus hunting for {FOCUS_FRAMES} frames after each cut, light dimming to 55% and warming, "
            f"auto-gain noise). Settled: {SETTLED_S:g} s or more after a cut.\n\n"
            + markdown(rows, list(rows[0]), percent=ACCURACIES) + "\n")
    typer.echo(write_results(out, {"model": str(model), "photos": str(photos), "rows": rows}, text))
