"""Training beyond one device on an existing engine: MirroredStrategy over two logical CPU devices, --resume after
Ctrl-C through BackupAndRestore, mixed precision and XLA, and a clear refusal of several hosts (Keras 3 bug)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tests import generated
from tests.conftest import REPO

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
        done = subprocess.run([*TRAIN, "folder", "--data", str(data), "--model", "edge_cnn", "--size", "32", "--epochs", "8",
                               "--batch-size", batch, "--strategy", strategy, "--out", str(run)],
                              capture_output=True, text=True, env=_env(EDGE_CPU_DEVICES=devices), cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        replicas = int(devices) if strategy == "mirrored" else 1
        assert f"strategy: {strategy} (" in done.stdout and f"{replicas} replicas" in done.stdout
        accuracy[devices] = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy["1"] > 0.85 and abs(accuracy["2"] - accuracy["1"]) <= 0.1, accuracy


def test_resume_after_ctrl_c_continues_from_the_saved_epoch(tmp_path):
    data, run = _folder(tmp_path), tmp_path / "run"
    command = [*TRAIN, "folder", "--data", str(data), "--model", "edge_cnn", "--size", "32", "--epochs", "6",
               "--batch-size", "4", "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=_env(PYTHONUNBUFFERED="1"), cwd=REPO)  # each line as it is printed
    for line in process.stdout:
        if line.startswith("Epoch 4/6"):  # epochs 1-3 are saved
            process.send_signal(signal.SIGINT)
            break
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-2000:]
    first = json.loads((run / "metrics.json").read_text())
    assert first["interrupted"] and len(first["epoch_seconds"]) == 3, "Ctrl-C keeps the run so far"
    assert (tmp_path / "run.backup" / "fit" / "best.json").is_file()
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=_env(), cwd=REPO, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming after epoch 3" in resumed.stdout and "Epoch 4/6" in resumed.stdout and "Epoch 1/6" not in resumed.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert not metrics["interrupted"] and len(metrics["epoch_seconds"]) == 6 and len(metrics["history"]["loss"]) == 6
    assert metrics["history"]["loss"][:3] == first["history"]["loss"], "the saved epochs' history continues"
    assert not (tmp_path / "run.backup").exists(), "a completed run leaves no backup behind"


def test_mixed_precision_and_xla_train_a_model_that_converts_to_int8(cli, tmp_path):
    from convert.cli import app as convert_app

    data, run = _folder(tmp_path), tmp_path / "run"
    done = subprocess.run([*TRAIN, "folder", "--data", str(data), "--model", "edge_cnn", "--size", "32", "--epochs", "10",
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


def test_several_hosts_are_refused_in_one_line(tmp_path):
    config = json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}})
    done = subprocess.run([*TRAIN, "folder", "--data", str(_folder(tmp_path)), "--model", "edge_cnn", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, env=_env(TF_CONFIG=config), cwd=REPO,
                          timeout=300)
    assert done.returncode == 2 and "keras-team/keras#20585" in done.stderr + done.stdout
    assert not (tmp_path / "run").exists()


def test_mixed_precision_is_refused_for_transfer_learning_before_decoding(cli, tmp_path):
    from train.cli import app

    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")
    result = cli.invoke(app, ["folder", "--data", str(tmp_path / "no-photos"), "--model", "transfer", "--weights",
                              str(weights), "--mixed-precision", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--mixed-precision: end-to-end CNNs only" in result.output
