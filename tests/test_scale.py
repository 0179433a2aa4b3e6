"""Training beyond one device on an existing engine: MirroredStrategy over two logical CPU devices, --resume after
Ctrl-C through BackupAndRestore, mixed precision and XLA, recipes on the JAX backend, two processes through Keras's
distribution API on JAX (one killed and the job resumed), and a clear refusal of TensorFlow multi-worker (Keras 3 bug)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests import generated
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # trains or converts

TRAIN = [sys.executable, "-c", "from train.cli import main; main()"]


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _folder(tmp_path):
    data = tmp_path / "photos"
    generated.colour_folders(data, [40, 40], size=40)
    return data


def test_mirrored_on_two_logical_cpus_lands_with_one_device(tmp_path):
    data, accuracy = _folder(tmp_path), {}
    for devices, strategy, batch in (("1", "one", "8"), ("2", "mirrored", "4")):  # the same global batch
        run = tmp_path / f"run-{devices}"
        done = subprocess.run([*TRAIN, "folder", "--data", str(data), "--arch", "edge_cnn", "--size", "32", "--epochs", "8",
                               "--batch-size", batch, "--strategy", strategy, "--out", str(run)],
                              capture_output=True, text=True, env=_env(EDGE_CPU_DEVICES=devices), cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        replicas = int(devices) if strategy == "mirrored" else 1
        assert f"strategy: {strategy} (" in done.stdout and f"({replicas} replica" in done.stdout
        accuracy[devices] = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy["1"] > 0.85 and abs(accuracy["2"] - accuracy["1"]) <= 0.1, accuracy


def _a_backup_that_is_not_this_runs_is_refused(command: list[str], backup) -> None:
    """--resume with other settings, with a backup whose epoch count is past --epochs, or with a damaged file in it
    (malformed JSON, a bit flipped in the weights): one line and exit 2 before any training, the backup left as it
    was for the right --resume."""
    metadata = backup / "fit" / "checkpoint" / "training_metadata.json"
    best, saved = backup / "fit" / "best.json", {}
    weights = backup / "fit" / "checkpoint" / "latest.weights.h5"
    for damage, extra, expected in (
            (None, ["--learning-rate", "0.01"], "was made by another run (learning_rate differs)"),
            ("epoch 99", [], "says epoch 100, past --epochs 6"),
            ("malformed best.json", [], "is damaged (best.json"),
            ("a flipped bit", [], "is damaged (latest.weights.h5 does not match the checksum training_metadata.json"),
    ):
        for path in (metadata, best, weights):
            saved[path] = path.read_bytes()
        if damage == "epoch 99":
            metadata.write_text(json.dumps(json.loads(metadata.read_text()) | {"epoch": 99}))
        elif damage == "a flipped bit":
            flipped = bytearray(saved[weights])
            flipped[len(flipped) // 2] ^= 0x10
            weights.write_bytes(bytes(flipped))
        elif damage:
            best.write_text("{")
        refused = subprocess.run([*command, "--resume", *extra], capture_output=True, text=True, env=_env(), cwd=REPO,
                                 timeout=300)
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert refused.returncode == 2 and len(errors) == 1 and expected in errors[0], refused.stderr[-1500:]
        assert "epoch 1/6" not in refused.stdout, "refused before any training"
        for path, data in saved.items():
            path.write_bytes(data)


def test_resume_after_ctrl_c_continues_from_the_saved_epoch(tmp_path):
    data, run = _folder(tmp_path), tmp_path / "run"
    command = [*TRAIN, "folder", "--data", str(data), "--arch", "edge_cnn", "--size", "32", "--epochs", "6",
               "--batch-size", "4", "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=_env(PYTHONUNBUFFERED="1"), cwd=REPO)  # each line as it is printed
    for line in process.stdout:
        if line.startswith("epoch 3/6:"):  # printed once epoch 3 is saved
            process.send_signal(signal.SIGINT)
            break
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-2000:]
    first = json.loads((run / "metrics.json").read_text())
    assert first["interrupted"] and len(first["epoch_seconds"]) == 3, "Ctrl-C keeps the run so far"
    assert (tmp_path / "run.backup" / "fit" / "best.json").is_file()
    _a_backup_that_is_not_this_runs_is_refused(command, tmp_path / "run.backup")
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=_env(), cwd=REPO, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming after epoch 3" in resumed.stdout and "epoch 4/6:" in resumed.stdout and "epoch 1/6:" not in resumed.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert not metrics["interrupted"] and len(metrics["epoch_seconds"]) == 6 and len(metrics["history"]["loss"]) == 6
    assert metrics["history"]["loss"][:3] == first["history"]["loss"], "the saved epochs' history continues"
    assert not (tmp_path / "run.backup").exists(), "a completed run leaves no backup behind"


def test_mixed_precision_and_xla_train_a_model_that_converts_to_int8(cli, tmp_path):
    from convert.cli import app as convert_app

    data, run = _folder(tmp_path), tmp_path / "run"
    done = subprocess.run([*TRAIN, "folder", "--data", str(data), "--arch", "edge_cnn", "--size", "32", "--epochs", "10",
                           "--batch-size", "8", "--mixed-precision", "--jit", "--out", str(run)],
                          capture_output=True, text=True, env=_env(), cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mixed precision: mixed_bfloat16" in done.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["mixed_precision"] and metrics["settings"]["jit"] and metrics["test"]["accuracy"] > 0.8
    parity = cli.invoke(convert_app, ["quantize", str(run / "folder.keras"), "--data", str(data), "--out-dir",
                                      str(tmp_path / "models"), "--formats", "tflite_int8,onnx_int8", "--json"])
    assert parity.exit_code == 0, parity.output
    rows = json.loads(parity.stdout)["rows"]
    assert all(r["status"] in ("reference", "ok") for r in rows), "the saved float32 copy passes the gate"


TF_CONFIG = json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}})


@pytest.mark.parametrize("flags, env, expected", [
    ([], {"TF_CONFIG": TF_CONFIG}, ["TF_CONFIG lists 2 workers", "keras-team/keras#20585", "KERAS_BACKEND=jax"]),
    (["--strategy", "multiworker"], {}, ["--strategy multiworker: needs the JAX backend", "keras-team/keras#20585"]),
    (["--strategy", "multiworker"], {"KERAS_BACKEND": "jax"}, ["KERAS_DISTRIBUTION_NUM_PROCESSES is not set"]),
    (["--strategy", "one"], {"KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"},
     ["--strategy one: KERAS_DISTRIBUTION_NUM_PROCESSES is 2"]),
    (["--arch", "transfer", "--weights", "imagenet"], {"KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"},
     ["--arch transfer: one host only"]),
])
def test_several_hosts_the_wrong_way_are_refused_in_one_line(tmp_path, flags, env, expected):
    done = subprocess.run([*TRAIN, "folder", "--data", str(_folder(tmp_path)), "--arch", "edge_cnn", *flags, "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, env=_env(**env), cwd=REPO, timeout=300)
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and len(error) == 1 and all(text in error[0] for text in expected), done.stderr[-1500:]
    assert "{" not in error[0], "no unfilled placeholder"
    assert not (tmp_path / "run").exists()


def test_a_recipe_trained_on_jax_converts_under_tensorflow(cli, tmp_path):
    from convert.cli import app as convert_app

    rows, run = generated.emoji_rows(tmp_path / "emojis.txt"), tmp_path / "emojis"
    done = subprocess.run([*TRAIN, "emojis", "--data", str(rows), "--folds", "2", "--epochs", "8", "--out", str(run)],
                          capture_output=True, text=True, env=_env(KERAS_BACKEND="jax"), cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "backend: jax; devices: CPU; strategy: one" in done.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["folds"]["mean"] > 0.6 and len(metrics["folds"]["per_fold"]) == 2
    parity = cli.invoke(convert_app, ["quantize", str(run / "emojis.keras"), "--data", str(run / "examples.npz"),
                                      "--out-dir", str(tmp_path / "models"), "--formats", "tflite_int8,onnx_int8", "--json"])
    assert parity.exit_code == 0, parity.output  # this process runs TensorFlow: the file crossed backends
    assert all(r["status"] in ("reference", "ok") for r in json.loads(parity.stdout)["rows"])


def test_a_tensorflow_process_skips_jax_and_a_jax_one_loads_it():
    probe = "import convert.export, train.run, sys; print(type(sys.modules.get('jax')).__name__)"
    for backend, loaded in (("tensorflow", "NoneType"), ("jax", "module")):
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=300,
                              env=_env(KERAS_BACKEND=backend))
        assert done.returncode == 0 and done.stdout.split()[-1] == loaded, (backend, done.stderr[-1000:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _two_processes(command: list[str], logs) -> list[subprocess.Popen]:
    """Process 0 (the coordinator, on a free local port) and process 1 of one JAX job, each logging to LOGS(i)."""
    env = _env(KERAS_BACKEND="jax", KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{_free_port()}",
               KERAS_DISTRIBUTION_NUM_PROCESSES="2", PYTHONUNBUFFERED="1")
    return [subprocess.Popen(command, stdout=open(logs(i), "w"), stderr=subprocess.STDOUT, cwd=REPO,
                             env={**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)}) for i in (0, 1)]


def _wait_for(path, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.2)
    return False


def test_two_processes_train_one_model_and_resume_after_one_is_killed(cli, tmp_path):
    from convert.cli import app as convert_app

    data, run, logs = _folder(tmp_path), tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    command = [*TRAIN, "folder", "--data", str(data), "--arch", "edge_cnn", "--size", "32", "--epochs", "8",
               "--batch-size", "4", "--out", str(run)]
    first = _two_processes(command, lambda i: logs / f"first-{i}.log")
    try:
        assert _wait_for(logs / "first-1.log", "epoch 3/8:", 300), (logs / "first-1.log").read_text()[-2000:]
        first[1].kill()  # process 1 dies after 3 saved epochs; process 0 cannot go on without it
        assert _wait_for(logs / "first-0.log", "Gloo", 60), (logs / "first-0.log").read_text()[-2000:]
    finally:
        for process in first:
            process.kill()
            process.wait()
    assert "strategy: multiworker (2 replicas, process 1 of 2)" in (logs / "first-1.log").read_text()
    assert not run.exists(), "a lost job writes no run folder"

    second = _two_processes([*command, "--resume"], lambda i: logs / f"second-{i}.log")
    for process in second:
        assert process.wait(timeout=300) == 0, (logs / "second-0.log").read_text()[-2000:]
    chief, worker = ((logs / f"second-{i}.log").read_text() for i in (0, 1))
    resumed = [line for line in chief.splitlines() if line.startswith("resuming after epoch")]
    assert resumed and int(resumed[0].split()[3]) >= 3 and resumed[0] in worker, "both continue from the same epoch"
    assert f"wrote {run}/" in chief and f"the chief (process 0) writes {run}/" in worker
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["epoch_seconds"]) == 8 and metrics["test"]["accuracy"] > 0.8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "photos", "run"], "one run folder, no backup or partial"
    parity = cli.invoke(convert_app, ["quantize", str(run / "folder.keras"), "--data", str(data), "--out-dir",
                                      str(tmp_path / "models"), "--formats", "tflite_int8", "--json"])
    assert parity.exit_code == 0, parity.output


def test_mixed_precision_is_refused_for_transfer_learning_before_decoding(cli, tmp_path):
    from train.cli import app

    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")
    result = cli.invoke(app, ["folder", "--data", str(tmp_path / "no-photos"), "--arch", "transfer", "--weights",
                              str(weights), "--mixed-precision", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--mixed-precision: end-to-end CNNs only" in result.output


def test_a_run_that_died_after_its_last_epoch_resumes_without_training_again(tmp_path):
    """The process can die after the last epoch (while evaluating or writing the run folder): --resume then takes the
    best epoch kept in the backup and trains nothing more."""
    import keras
    import numpy as np

    from train import fit

    x, y = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32), np.arange(64) % 2
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    first = fit.fit(model, (x, y), epochs=3, batch_size=16, backup=tmp_path / "backup")
    again = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    again.compile("adam", "binary_crossentropy")
    second = fit.fit(again, (x, y), epochs=3, batch_size=16, backup=tmp_path / "backup")
    assert second.epoch_seconds == first.epoch_seconds and second.history == first.history, "no epoch ran again"
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), model.get_weights())), "the best epoch's weights"
