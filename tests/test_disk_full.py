"""A full disk under train and under the pixel cache: one line naming the folder, exit 2, nothing half-written, and
the last good backup whole for --resume. Each test mounts small tmpfs file systems in a mount namespace of its own
(`unshare -rm`: no root needed, nothing left mounted) and runs the commands inside it. (convert's --out on a full
disk: tests/test_convert_reliability.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import generated
from tests.conftest import REPO, SAMPLE

pytestmark = pytest.mark.slow  # trains or converts

TRAIN = f"{sys.executable} -c 'from train.cli import main; main()'"
CONVERT = f"{sys.executable} -c 'from convert.cli import main; main()'"


def _in_namespace(script: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"set -u; cd {REPO}; {script}"], capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
                                            "TF_CPP_MIN_LOG_LEVEL": "3", "EDGE_CACHE_DIR": str(tmp_path / "cache")})


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.fixture
def photos(tmp_path):
    generated.colour_folders(tmp_path / "photos", [40, 40], size=40)
    return tmp_path / "photos"


def test_a_disk_filling_during_training_keeps_the_last_epochs_backup_and_resume_continues(photos, tmp_path):
    """The disk fills (dd) once epoch 2 is printed; a later epoch's backup finds no room: one line naming the backup
    folder and which epoch's backup is whole, exit 2, no crash (HDF5 meeting the full disk used to SIGSEGV). After
    freeing the space, --resume says where it continues and completes the run with every epoch's history."""
    disk = tmp_path / "disk"
    disk.mkdir()
    train = f"{TRAIN} folder --data {photos} --arch edge_cnn --size 32 --epochs 12 --batch-size 4 --out {disk}/run"
    full = _in_namespace(
        f"mount -t tmpfs -o size=4m tmpfs {disk} && "
        f"({train} > {tmp_path}/first.txt 2>&1; echo $? > {tmp_path}/first.rc) & "
        f"while ! grep -q 'epoch 2/12' {tmp_path}/first.txt 2>/dev/null; do sleep 0.05; done; "
        f"dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null; wait; "
        f"ls {disk}/run 2>&1; rm {disk}/filler; {train} --resume; echo resumed $?; cat {disk}/run/metrics.json", tmp_path)
    first = (tmp_path / "first.txt").read_text()
    errors = _errors(first)
    assert (tmp_path / "first.rc").read_text().strip() == "2", first[-2000:]
    assert len(errors) == 1 and "Traceback" not in first and f"{disk}/run.backup/fit: no space left" in errors[0], first
    assert "No such file" in full.stdout, "no run folder, not even a partial one, under the final name"
    kept = int(errors[0].split("the backup of epoch ")[1].split()[0])
    assert kept >= 2 and f"epoch {kept + 1}/12:" not in first
    assert "resumed 0" in full.stdout and f"resuming after epoch {kept} " in full.stdout, full.stdout[-2000:] + full.stderr
    assert f"epoch {kept + 1}/12:" in full.stdout and f"epoch {kept}/12:" not in full.stdout
    metrics = json.loads(full.stdout.split("resumed 0", 1)[1])
    assert len(metrics["epoch_seconds"]) == 12 and len(metrics["history"]["loss"]) == 12, "the first epochs' history too"


def test_a_full_disk_for_the_run_folder_keeps_the_trained_epochs_for_resume(photos, tmp_path):
    """The backup has room (a tmpfs of its own) but --out's disk cannot hold the run folder: one line naming --out,
    exit 2, nothing under the final name; --resume once there is room writes the run folder without training again."""
    disk = tmp_path / "disk"
    disk.mkdir()
    train = f"{TRAIN} folder --data {photos} --arch edge_cnn --size 32 --epochs 3 --batch-size 4 --out {disk}/run"
    done = _in_namespace(
        f"mount -t tmpfs -o size=64k tmpfs {disk} && mkdir {disk}/run.backup && "
        f"mount -t tmpfs -o size=8m tmpfs {disk}/run.backup && {train}; echo exit $?; ls -A {disk}; "
        f"mount -o remount,size=8m {disk} && {train} --resume; echo resumed $?", tmp_path)
    first, resumed = done.stdout.split("exit ", 1)[1].split("resumed", 1)[0], done.stdout.split("exit ", 1)[1]
    errors = _errors(done.stderr)
    assert first.startswith("2") and len(errors) == 1, done.stderr[-2000:]
    assert f"--out {disk}/run: no space left on its disk for the run folder" in errors[0] and "--resume" in errors[0]
    assert "run\n" not in first and "partial" not in first, first
    assert "resumed 0" in resumed and "resuming after epoch 3" in resumed and "epoch 1/3:" not in resumed.split(
        "resuming", 1)[1], done.stdout[-2000:]
    assert f"wrote {disk}/run/" in resumed


@pytest.mark.parametrize("command", ["train", "convert"])
def test_a_full_pixel_cache_disk_is_one_line_naming_the_cache(command, trained, photos, tmp_path):
    """EDGE_CACHE_DIR on a disk too small for the decoded pixels: one line naming the cache folder and how to move
    it, exit 2, no entry left behind (convert used to blame its --out, or die of SIGBUS under memory-mapped pixels)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    run = (f"{TRAIN} folder --data {photos} --arch edge_cnn --size 32 --epochs 1 --out {tmp_path}/run"
           if command == "train" else f"{CONVERT} quantize {trained} --data {SAMPLE / 'test'} --formats tflite_int8 "
                                      f"--robustness 0 --out {tmp_path}/models")
    done = _in_namespace(f"mount -t tmpfs -o size=64k tmpfs {cache} && {run}; echo exit $?; ls -A {cache}", tmp_path)
    errors = _errors(done.stderr)
    assert "exit 2" in done.stdout and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert errors[0].startswith(f"error: pixel cache {cache}: no space left") and "EDGE_CACHE_DIR" in errors[0], errors
    assert done.stdout.split("exit 2", 1)[1].split() == [], "no entry, complete or partial, is left"
