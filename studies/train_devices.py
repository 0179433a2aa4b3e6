"""Epoch time of `train` on one device against two replicas, at the same global batch, as whole processes: on
TensorFlow, MirroredStrategy over two logical CPU devices (EDGE_CPU_DEVICES=2); on JAX, keras.distribution over two
CPU devices of one process, and over two local processes (a coordinator on 127.0.0.1, one device each; the chief's
figures). On 2 cores two replicas are not faster: this measures what each costs, and that it runs.

    python -m studies.train_devices --photos 2000 --out benchmarks/results/train_devices
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

import typer

from benchmarks.processes import measure
from benchmarks.results import write_results
from benchmarks.results import REPO
from studies.train_memory import tiled_photos
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
CASES = (("tensorflow", "one", 1, 1), ("tensorflow", "mirrored", 2, 1),  # backend, strategy, devices, processes
         ("jax", "one", 1, 1), ("jax", "mirrored", 2, 1), ("jax", "multiworker", 1, 2))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@app.command()
def train_devices(
    photos: int = typer.Option(2000, help="Generated photos to train on."),
    size: int = typer.Option(96, help="The model's input size."),
    epochs: int = typer.Option(3, min=2, help="Epochs per run; the median epoch after the first is reported."),
    batch: int = typer.Option(32, help="Global batch (per replica: this / replicas)."),
    work: Path = typer.Option(Path(tempfile.gettempdir()) / "train-devices", help="Where the photos and cache go."),
    out: Path = typer.Option(Path("benchmarks/results/train_devices"), help="Writes OUT.json and OUT.md."),
):
    data = work / f"photos-{photos}"
    if not data.is_dir():
        tiled_photos(data, photos)
    rows = []
    for backend, strategy, devices, processes in CASES:
        replicas = devices * processes
        with tempfile.TemporaryDirectory(prefix="train-devices-") as run:
            command = [sys.executable, "-c", "from train.cli import main; main()", "folder", "--data", str(data), "--arch",
                       "edge_cnn", "--size", str(size), "--epochs", str(epochs), "--batch-size", str(batch // replicas),
                       "--strategy", strategy, "--cache-dir", str(work / "cache"), "--out", f"{run}/run"]
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend,
                   "EDGE_CPU_DEVICES": str(devices)}
            if processes > 1:
                env |= {"KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{_free_port()}",
                        "KERAS_DISTRIBUTION_NUM_PROCESSES": str(processes), "KERAS_DISTRIBUTION_PROCESS_ID": "0"}
            others = [subprocess.Popen(command, env={**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)}, cwd=REPO,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(1, processes)]
            done = measure(command, env, REPO)
            failed = [other.wait() for other in others]
            metrics = json.loads((Path(run) / "run" / "metrics.json").read_text())
        rows.append({"backend": backend, "strategy": strategy, "processes": processes, "replicas": replicas,
                     "per_replica_batch": batch // replicas, "exit": max([done["exit"], *failed]),
                     "epoch_s": median(metrics["epoch_seconds"][1:]), "peak_rss_gb": done["peak_rss_gb"],
                     "test_accuracy": metrics["test"]["accuracy"]})
        typer.echo(json.dumps(rows[-1]))
    one = {row["backend"]: row["epoch_s"] for row in rows if row["replicas"] == 1}
    for row in rows:
        row["epoch_vs_one"] = round(row["epoch_s"] / one[row["backend"]], 3)
    text = (f"`train folder --arch edge_cnn --size {size}` on {photos} generated photos, global batch {batch}; "
            f"epoch_vs_one: epoch time over one device of the same backend.\n\n{markdown(rows, list(rows[0]))}\n")
    text = write_results(out, {"rows": rows}, text)
    typer.echo(text)


def main():
    app()


if __name__ == "__main__":
    main()
