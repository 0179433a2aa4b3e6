"""Peak memory and images/s of `train` on a small and a ten times larger photo folder, through the on-disk pixel
cache and in memory (`--in-memory`), as whole processes under /usr/bin/time -v. The photos are the shipped sample's,
tiled with variations (crops, flips, brightness) to 224x224 JPEGs, so no two files are the same.

    python -m studies.train_memory --photos 2000 --photos 20000 --out benchmarks/results/train_memory
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

import cv2
import numpy as np
import typer

from benchmarks.processes import measure
from benchmarks.results import REPO, write_results
from edge.folders import class_folder
from edge.preprocess import read_image
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
SAMPLE = REPO / "data" / "sample" / "muffin-chihuahua" / "train"


def tiled_photos(root: Path, count: int, side: int = 224, seed: int = 0) -> Path:
    """ROOT/<class>/NNNNNN.jpg: COUNT photos drawn from the sample's classes, each a random crop, flip and
    brightness of one sample photo, resized to SIDE x SIDE."""
    rng = np.random.default_rng(seed)
    folder = class_folder(SAMPLE)
    images = [read_image(path) for path in folder.files]
    for index in range(count):
        pick = int(rng.integers(len(images)))
        image = images[pick]
        h, w = image.shape[:2]
        crop = rng.uniform(0.7, 1.0)
        ch, cw = int(h * crop), int(w * crop)
        top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        out = cv2.resize(image[top:top + ch, left:left + cw], (side, side), interpolation=cv2.INTER_AREA)
        out = out[:, ::-1] if rng.random() < 0.5 else out
        out = np.clip(out * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
        target = root / folder.classes[folder.targets[pick]]
        target.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target / f"{index:06d}.jpg"), out, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


def _run(data: Path, mode: str, size: int, epochs: int, cache: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="train-memory-") as out:
        command = [sys.executable, "-c", "from train.cli import main; main()", "folder", "--data", str(data),
                   "--arch", "edge_cnn", "--size", str(size), "--epochs", str(epochs), mode, "--cache-dir", str(cache),
                   "--out", f"{out}/run"]
        done = measure(command, {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}, REPO)
        metrics_path = Path(out) / "run" / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    if metrics is None:
        return {"exit": done["exit"], "stderr_tail": done["stderr"][-800:]}
    images = round(metrics["train"]["images"] * 0.9)  # the training share; 10% validates
    epoch = median(metrics["epoch_seconds"][1:] or metrics["epoch_seconds"])  # the first epoch also traces
    return {"exit": done["exit"], "wall_s": done["wall_s"], "peak_rss_gb": done["peak_rss_gb"],
            "train_images": metrics["train"]["images"], "epoch_s": epoch, "images_per_s": round(images / epoch, 1),
            "test_accuracy": metrics["test"]["accuracy"]}


@app.command()
def train_memory(
    photos: list[int] = typer.Option([2000, 20000], help="Folder sizes to generate, repeatable."),
    size: int = typer.Option(224, help="The model's input size."),
    epochs: int = typer.Option(2, min=1, help="Epochs per run (images/s is the median over all but the first)."),
    work: Path = typer.Option(Path(tempfile.gettempdir()) / "train-memory", help="Where the photos and caches go."),
    out: Path = typer.Option(Path("benchmarks/results/train_memory"), help="Writes OUT.json and OUT.md."),
):
    """Generate each folder, then train on it through the cache (a fresh one: its build is measured) and in memory."""
    rows = []
    for count in photos:
        data = work / f"photos-{count}"
        if not data.is_dir():
            tiled_photos(data, count)
        for mode in ("--cache", "--in-memory"):
            cache = work / f"cache-{count}"
            rows.append({"photos": count, "path": mode.strip("-"), **_run(data, mode, size, epochs, cache)})
            typer.echo(json.dumps(rows[-1]))
    ratios = []
    for path in ("cache", "in-memory"):
        small, large = (next(r for r in rows if r["photos"] == n and r["path"] == path) for n in (min(photos), max(photos)))
        ratios.append({"path": path, "peak_rss_large_over_small": round(large["peak_rss_gb"] / small["peak_rss_gb"], 3)})
    for count in photos:
        cache, memory = (next(r for r in rows if r["photos"] == count and r["path"] == p) for p in ("cache", "in-memory"))
        ratios.append({"path": f"cache / in-memory images/s at {count}", "ratio": round(cache["images_per_s"] / memory["images_per_s"], 3)})
    text = (f"`train folder --arch edge_cnn --size {size} --epochs {epochs}` on generated 224x224 JPEGs, as whole "
            "processes under `/usr/bin/time -v`; the cache run builds its cache (decoding is included in its peak).\n\n"
            f"{markdown(rows, ['photos', 'path', 'exit', 'peak_rss_gb', 'wall_s', 'train_images', 'epoch_s', 'images_per_s', 'test_accuracy'])}"
            f"\n\n{markdown(ratios, ['path', 'peak_rss_large_over_small', 'ratio'])}\n")
    text = write_results(out, {"size": size, "epochs": epochs, "rows": rows, "ratios": ratios}, text)
    typer.echo(text)


def main():
    app()


if __name__ == "__main__":
    main()
