"""Soak and kill tests of whole processes, with results written to OUT.json and OUT.md.

- **Stream soak**: `edge-classify --stream` on a source that drops every `--drop-every` frames (a file:// video of
  that many frames: each end is a disconnection, and the run reconnects), for `--frames` frames. The process's
  resident memory is sampled every second; the slope (MB per minute, least squares over the second half, after
  warm-up) is the figure: a leak shows as a steady rise.
- **Kill test**: `convert quantize` SIGKILLed at `--kills` moments spread over its run. After each kill, every file
  under a final name must load and carry its spec (no half-written export), and a completed run afterwards must
  pass and leave no temporary file of its own.

    python -m studies.reliability --keras runs/demo/muffins/muffins.keras --model runs/demo/models/muffins.tflite \\
        --data data/sample/muffin-chihuahua/test --out benchmarks/results/reliability_runs
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import typer

from benchmarks.results import REPO, write_results
from edge.errors import UserError
from edge.folders import any_images
from edge.formats import exports_in
from edge.preprocess import read_image
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _video(images: Path, frames: int, path: Path) -> Path:
    """A FRAMES-frame MJPG video cycling through the photos of IMAGES at 320x240."""
    photos = [cv2.resize(read_image(p), (320, 240)) for p in any_images(images)[:50]]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(frames):
        writer.write(photos[i % len(photos)])
    writer.release()
    return path


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of the second half of (seconds, MB) SAMPLES, in MB per minute."""
    half = np.asarray(samples[len(samples) // 2:])
    return float(np.polyfit(half[:, 0], half[:, 1], 1)[0] * 60) if len(half) >= 3 else float("nan")


def stream_soak(model: Path, images: Path, frames: int, drop_every: int) -> dict:
    """Run edge-classify on a stream that ends every DROP_EVERY frames until FRAMES frames; memory sampled each second."""
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        video = _video(images, drop_every, Path(work) / "stream.avi")
        command = [sys.executable, "-m", "edge.classify", "--model", str(model), "--stream", f"file://{video}",
                   "--json", "--changes-only", "--max-frames", str(frames)]
        started = time.perf_counter()
        with open(Path(work) / "out", "w+") as out_file, open(Path(work) / "err", "w+") as err_file:
            process = subprocess.Popen(command, stdout=out_file, stderr=err_file, text=True, env=ENV, cwd=REPO)
            samples = []
            while process.poll() is None:
                rss = _rss_mb(process.pid)
                if rss is not None:
                    samples.append((time.perf_counter() - started, rss))
                time.sleep(1.0)
            out, err = (Path(work) / "out").read_text(), (Path(work) / "err").read_text()
    summary = json.loads(out.splitlines()[-1])["summary"] if out.strip() else {}
    return {"case": f"stream soak: {frames} frames, source drops every {drop_every}", "exit": process.returncode,
            "wall_s": round(time.perf_counter() - started, 1), "frames": summary.get("frames"),
            "dropped": summary.get("dropped"), "reconnects": summary.get("reconnects"),
            "rss_start_mb": round(samples[len(samples) // 2][1], 1) if samples else None,
            "rss_end_mb": round(samples[-1][1], 1) if samples else None,
            "slope_mb_per_min": round(_slope_mb_per_min(samples), 3) if samples else None,
            **({"stderr_tail": err[-500:]} if process.returncode else {})}


def _final_files_load(out_dir: Path) -> tuple[int, list[str]]:
    """(files under final names that load with a spec, those that do not)."""
    from edge import runtime

    good, bad = 0, []
    for path in exports_in(out_dir):
        try:
            good += runtime.load(path, 1).spec is not None
        except UserError as exc:
            bad.append(f"{path.name}: {exc}")
    return good, bad


def _size_mb(paths: list[Path]) -> float:
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / 1e6, 1)


def kill_test(keras: Path, data: Path, kills: int) -> list[dict]:
    """SIGKILL `convert quantize` at KILLS moments spread over one complete run's time, then run it to the end. The
    processes get their own TMPDIR, so that what they leave in a system temporary folder is seen too."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="kill-") as work:
        out_dir, system_tmp = Path(work) / "models", Path(work) / "tmp"
        system_tmp.mkdir()
        env = {**ENV, "TMPDIR": str(system_tmp)}
        command = [sys.executable, "-c", "from convert.cli import main; main()", "quantize", str(keras), "--data", str(data), "--out-dir", str(out_dir)]

        def state(case: str, exit_code: int, at: float | None) -> dict:
            good, bad = _final_files_load(out_dir)
            partial = [p for p in out_dir.iterdir() if p.name.startswith(".partial-")]
            return {"case": case, "exit": exit_code, "at_s": None if at is None else round(at, 1),
                    "final_files_loading": good, "final_files_broken": len(bad), "partial_left": len(partial),
                    "partial_left_mb": _size_mb(partial), "system_tmp_left": len(list(system_tmp.iterdir()))}

        started = time.perf_counter()
        full = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
        duration = time.perf_counter() - started
        if full.returncode != 0:
            raise UserError(f"convert quantize {keras} failed before any kill (exit {full.returncode}): {full.stderr[-300:]}")
        rows.append(state("complete run (sets the kill moments)", full.returncode, duration))
        for i in range(1, kills + 1):
            at = duration * i / (kills + 1)
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
            time.sleep(at)
            process.send_signal(signal.SIGKILL)
            rows.append(state(f"SIGKILL {i} of {kills}", process.wait(), at))
        after = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
        rows.append(state("complete run after the kills", after.returncode, None))
    return rows


@app.command()
def main(
    model: Path = typer.Option(..., help="An export for the stream soak (.tflite or .onnx)."),
    keras: Path = typer.Option(..., help="The .keras model that `convert quantize` is killed on."),
    data: Path = typer.Option(..., help="Test images: the stream's photos and the parity data."),
    frames: int = typer.Option(100_000, min=1, help="Frames the stream soak classifies."),
    drop_every: int = typer.Option(5_000, min=10, help="The stream source ends (a disconnection) every this many frames."),
    kills: int = typer.Option(8, min=0, help="SIGKILLs of convert quantize."),
    out: Path = typer.Option(Path("benchmarks/results/reliability_runs"), help="Writes OUT.json and OUT.md."),
):
    soak = stream_soak(model, data, frames, drop_every)
    typer.echo(markdown([soak], list(soak)))
    killed = kill_test(keras, data, kills) if kills else []
    typer.echo(markdown(killed, list(dict.fromkeys(k for r in killed for k in r))))
    text = ("Soak and kill tests (`python -m studies.reliability`).\n\n## Stream soak\n\n"
            + markdown([soak], [k for k in soak if k != "stderr_tail"])
            + "\n\n## convert quantize, SIGKILLed\n\n" + markdown(killed, list(dict.fromkeys(k for r in killed for k in r)))
            + "\n")
    write_results(out, {"model": str(model), "keras": str(keras), "data": str(data), "soak": soak, "kills": killed}, text)
    typer.echo(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    app()
