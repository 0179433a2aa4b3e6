"""Epoch time of `train` on one device against MirroredStrategy over two logical CPU devices (EDGE_CPU_DEVICES=2),
at the same global batch, as whole processes. On 2 cores two replicas are not faster: this measures what mirroring
costs, and that it runs.

    python -m benchmarks.train_devices --photos 2000 --out benchmarks/results/train_devices
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

import typer

from benchmarks.processes import measure, write_results
from benchmarks.train_memory import REPO, tiled_photos
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)


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
    for devices, strategy in ((1, "one"), (2, "mirrored")):
        with tempfile.TemporaryDirectory(prefix="train-devices-") as run:
            command = [sys.executable, "-c", "from train.cli import main; main()", "folder", "--data", str(data), "--model",
                       "edge_cnn", "--size", str(size), "--epochs", str(epochs), "--batch-size", str(batch // devices),
                       "--strategy", strategy, "--cache-dir", str(work / "cache"), "--out", f"{run}/run"]
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "EDGE_CPU_DEVICES": str(devices)}
            done = measure(command, env, REPO)
            metrics = json.loads((Path(run) / "run" / "metrics.json").read_text())
        rows.append({"devices": devices, "strategy": strategy, "per_replica_batch": batch // devices, "exit": done["exit"],
                     "epoch_s": median(metrics["epoch_seconds"][1:]), "peak_rss_gb": done["peak_rss_gb"],
                     "test_accuracy": metrics["test"]["accuracy"]})
        typer.echo(json.dumps(rows[-1]))
    ratio = round(rows[1]["epoch_s"] / rows[0]["epoch_s"], 3)
    text = (f"`train folder --model edge_cnn --size {size}` on {photos} generated photos, global batch {batch}.\n\n"
            f"{markdown(rows, list(rows[0]))}\n\nEpoch time, two logical devices over one: {ratio}\n")
    text = write_results(out, {"rows": rows, "epoch_time_two_over_one": ratio}, text)
    typer.echo(text)


def main():
    app()


if __name__ == "__main__":
    main()
