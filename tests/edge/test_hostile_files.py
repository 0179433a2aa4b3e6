"""Hostile and malformed inputs get one line and exit 2, in bounded time and memory: a .tflite whose metadata asks
for gigabytes, decompression-bomb images, specs that are not what they claim, a spec that does not fit its model,
a zip-bombed .keras spec and thresholds that would switch the gate off."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
import zipfile

import cv2
import numpy as np
import pytest

from edge.errors import UserError
from edge.spec import SPEC_KEY, ModelSpec
from tests.conftest import REPO, SAMPLE

SPEC = ModelSpec("binary", ("chihuahua", "muffin"), 48, 48)


def _many_entries(tflite: bytes, entries: int, buffer_bytes: int) -> bytes:
    """TFLITE with ENTRIES metadata entries before its own, all naming one buffer of BUFFER_BYTES."""
    from ai_edge_litert import schema_py_generated as schema

    from convert.metadata import pack_tflite

    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    buffer = schema.BufferT()
    buffer.data = np.zeros(buffer_bytes, np.uint8)
    model.buffers.append(buffer)
    junk = []
    for i in range(entries):
        entry = schema.MetadataT()
        entry.name, entry.buffer = f"junk{i}", len(model.buffers) - 1
        junk.append(entry)
    model.metadata = junk + model.metadata
    return pack_tflite(model)


def test_a_tflite_whose_metadata_asks_for_gigabytes_is_read_in_bounded_memory(device_models, tmp_path):
    from edge.metadata import read_tflite_spec

    hostile = tmp_path / "hostile.tflite"
    hostile.write_bytes(_many_entries((device_models[0] / "muffins.tflite").read_bytes(), 5000, 200_000))
    tracemalloc.start()
    started = time.perf_counter()
    spec = read_tflite_spec(hostile)  # the old reader copied 5000 x 200 KB = 1 GB before looking for the spec
    seconds, peak = time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert spec is None, "the spec lies past the entries a reader looks at: the file has none that counts"
    assert peak < 3 * hostile.stat().st_size and seconds < 2, (peak, seconds)


@pytest.mark.parametrize("damage", ["offset_outside", "entry_too_large"])
def test_a_corrupt_tflite_metadata_is_one_user_error(device_models, tmp_path, damage):
    from edge.metadata import read_tflite_spec, tflite_entry
    from edge.spec import MAX_SPEC_BYTES

    data = bytearray((device_models[0] / "muffins.tflite").read_bytes())
    text = tflite_entry(bytes(data), SPEC_KEY)
    at = bytes(data).index(text)
    if damage == "offset_outside":
        data[0:4] = (len(data) + 16).to_bytes(4, "little")  # the root table beyond the end
    else:
        data[at - 4:at] = (MAX_SPEC_BYTES + 1).to_bytes(4, "little")  # the spec claims more than a spec may be
    path = tmp_path / "corrupt.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="corrupt.tflite: truncated or corrupt"):
        read_tflite_spec(path)


@pytest.mark.parametrize("text, expected", [
    ("{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
    ("[1, 2]", "lacks task, labels, height, width"),
    (json.dumps({"task": "binary", "labels": ["a", "b"], "height": None, "width": 8}), "height must be a whole number"),
    (json.dumps({"task": "binary", "labels": "ab", "height": 8, "width": 8}), "labels must be a list"),
    (json.dumps({"task": "binary", "labels": ["a", "b\nscore 1.0"], "height": 8, "width": 8}), "no newlines"),
    (json.dumps({"task": "binary", "labels": ["a", "b"], "height": 40000, "width": 40000}), "from 1 to 8192"),
    ('{"task": "binary", "labels": ["a", "b"], "height": 8, "width": 8, "scale": NaN}', "scale must be a finite"),
    (json.dumps({"task": "binary", "labels": ["a", "b"], "height": 8, "width": 8, "scale": -1}), "scale must be above 0"),
])
def test_a_malformed_spec_is_one_user_error_naming_the_file(text, expected):
    with pytest.raises(UserError, match=expected) as error:
        ModelSpec.from_json(text, "model.tflite")
    assert str(error.value).startswith("model.tflite: ")


def test_a_spec_from_a_later_toolkit_still_loads():
    data = json.loads(SPEC.to_json()) | {"added_in_a_later_version": {"x": 1}}
    data["provenance"] = {"recipe": "muffins", "new_field": 3, "parity": "not a dict"}
    spec = ModelSpec.from_json(json.dumps(data))
    assert spec.labels == SPEC.labels and spec.provenance.recipe == "muffins" and spec.provenance.parity == {}


def test_a_zip_bombed_keras_spec_is_not_inflated(tmp_path):
    from keras_io.archive import read_spec

    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{SPEC_KEY}.json", b" " * 200_000_000)  # 200 MB of spaces: 200 KB compressed
    tracemalloc.start()
    with pytest.raises(UserError, match="bomb.keras: its edge_spec.json is over"):
        read_spec(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6, peak


def test_a_decompression_bomb_is_skipped_and_counted(device_models, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in sorted((SAMPLE / "test" / "muffin").iterdir())[:3]:
        (images / path.name).write_bytes(path.read_bytes())
    cv2.imwrite(str(images / "bomb.png"), np.zeros((20000, 20000), np.uint8))  # 0.4 MB; 1.2 GB decoded as BGR
    # a process of its own, as users run it: OpenCV takes its size limit when it loads, and this one loaded it first
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", "from edge.classify import main; main()",
                           "--model", str(device_models[0] / "muffins.tflite"), "--images", str(images)],
                          capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "bomb.png" in done.stderr and "megapixel limit" in done.stderr, done.stderr[-2000:]
    assert "frames=3, skipped=1," in done.stdout
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    assert peak_kb < 400_000, f"{peak_kb} KB: the bomb was decoded"


def test_flags_that_would_hang_or_kill_a_thread_are_one_line(device_models, cli, tmp_path):
    from edge.classify import app

    latin = tmp_path / "labels.txt"
    latin.write_bytes("chihuahua\nmu\xf1in\n".encode("latin-1"))
    model, images = str(device_models[0] / "muffins.tflite"), str(SAMPLE / "test")
    bare = str(device_models[0] / "muffins.fp32.tflite")
    for args, expected in ((["--model", model, "--images", images, "--threads", "2000"], "--threads 2000: give 1 to"),
                           (["--model", model, "--images", images, "--post", "http://[bad"], "--post http://[bad: not a URL"),
                           (["--model", model, "--images", images, "--post", "http://"], "with a host"),
                           (["--model", bare, "--images", images, "--labels", str(latin), "--size", "32x32"],
                            "not UTF-8 text")):
        result = cli.invoke(app, args)
        assert result.exit_code == 2 and expected in result.output, (args, result.output)


def test_what_a_killed_write_left_behind_is_removed_by_the_next_write(tmp_path):
    from edge.atomic import atomic_path, staged_folder

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    left_file, left_folder = tmp_path / f".partial-{pid}-model.tflite", tmp_path / f".partial-{pid}-run"
    left_file.write_bytes(b"half an export")
    left_folder.mkdir()
    live = tmp_path / f".partial-{os.getppid()}-model.tflite"  # a running process's write is left alone
    live.write_bytes(b"being written")
    recent = tmp_path / f".partial-{pid}-other.tflite"  # and one an hour has not passed over (another host's?)
    recent.write_bytes(b"")
    for path in (left_file, left_folder, live):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    with atomic_path(tmp_path / "model.tflite") as tmp:
        tmp.write_bytes(b"complete")
    with atomic_path(tmp_path / "other.tflite") as tmp:
        tmp.write_bytes(b"complete")
    with staged_folder(tmp_path / "run") as tmp:
        (tmp / "metrics.json").write_text("{}")
    assert not left_file.exists() and not left_folder.exists() and live.exists() and recent.exists()
    assert (tmp_path / "model.tflite").read_bytes() == b"complete" and (tmp_path / "run" / "metrics.json").is_file()


def test_what_gets_a_final_name_is_on_the_disk_first(tmp_path, monkeypatch):
    """A Pi losing power after a bare rename can find a zero-length file under the final name (ext4 and FAT commit
    the rename before the data): each file and folder is fsynced before its rename, and the folder holding the new
    name after it. The real fsync and rename run; the test only records their order."""
    from edge.atomic import atomic_path, staged_folder

    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("rename", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_path(tmp_path / "model.tflite") as tmp:
        tmp.write_bytes(b"complete")
    with staged_folder(tmp_path / "run") as folder:
        (folder / "metrics.json").write_text("{}")
    renames = [i for i, e in enumerate(events) if e[0] == "rename"]
    for index in renames:
        _, src, dst = events[index]
        synced = [e[1] for e in events[:index] if e[0] == "fsync"]
        assert src in synced and ("run" not in dst or f"{src}/metrics.json" in synced), events
        assert ("fsync", str(tmp_path)) == events[index + 1], "the new name itself made durable"
    assert len(renames) == 2 and (tmp_path / "model.tflite").read_bytes() == b"complete"


def _limited_file_size(limit: int):
    """A child process whose files stop growing at LIMIT bytes, as on a full disk (writes fail with EFBIG)."""
    import resource
    import signal

    def limit_it():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_it


def test_a_video_that_does_not_play_back_is_not_saved(device_models, tmp_path):
    command = [sys.executable, "-c", "from edge.classify import main; main()", "--model",
               str(device_models[0] / "muffins.tflite"), "--images", str(SAMPLE / "test" / "muffin")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    video = tmp_path / "out.avi"
    full = subprocess.run([*command, "--save-video", str(video)], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120, preexec_fn=_limited_file_size(60_000))
    assert full.returncode == 2 and "does not play back" in full.stderr, full.stderr[-1500:]
    assert not video.exists() and not list(tmp_path.glob(".partial-*")), "nothing under the final name, no leftovers"
    done = subprocess.run([*command, "--save-video", str(video)], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120)
    assert done.returncode == 0 and video.is_file(), done.stderr[-1500:]
    (tmp_path / "folder.avi").mkdir()
    refused = subprocess.run([*command, "--save-video", str(tmp_path / "folder.avi")], capture_output=True, text=True,
                             cwd=REPO, env=env, timeout=120)
    assert refused.returncode == 2 and "folder.avi: is a folder" in refused.stderr, refused.stderr[-1500:]


def test_every_export_carries_a_checksum_that_finds_flipped_bits(device_models, tmp_path):
    """20 single-bit flips spread over each file: the runtimes load most of them unnoticed (13 of 20 TFLite files
    did before the checksum); now every one is refused at load, naming the file."""
    from edge import runtime

    for path in sorted(p for p in device_models[0].glob("muffins.*") if p.suffix in (".tflite", ".onnx")):
        good = path.read_bytes()
        assert runtime.load(path, 1).spec is not None
        for n, at in enumerate(np.linspace(64, len(good) - 64, 20).astype(int)):
            flipped = bytearray(good)
            flipped[at] ^= 1 << (n % 8)
            damaged = tmp_path / f"flipped{path.suffix}"
            damaged.write_bytes(bytes(flipped))
            with pytest.raises(UserError, match=r"flipped\.(tflite|onnx): "):
                runtime.load(damaged, 1)


def test_a_flipped_bit_ends_edge_classify_with_exit_2(device_models, tmp_path):
    data = bytearray((device_models[0] / "muffins.tflite").read_bytes())
    data[len(data) // 2] ^= 0x10
    damaged = tmp_path / "muffins.tflite"
    damaged.write_bytes(bytes(data))
    run = subprocess.run([sys.executable, "-m", "edge.classify", "--model", str(damaged), "--images",
                          str(next((SAMPLE / "test" / "muffin").iterdir()))], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and "muffins.tflite: checksum mismatch" in run.stderr, run.stderr


def test_a_model_that_loads_but_cannot_run_fails_at_load(tmp_path):
    """A graph onnxruntime accepts and then fails to run (a Reshape to a size the input does not have): refused at
    load by the one warm-up invoke, not at the first camera frame."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edge import runtime

    shape = numpy_helper.from_array(np.array([1, 2], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 48, 48, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "broken.onnx"))
    with pytest.raises(UserError, match="broken.onnx: loads but fails on its first run"):
        runtime.load(tmp_path / "broken.onnx", 1, spec=SPEC)
