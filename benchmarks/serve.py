"""`edge-bench serve`: what browsers watching `edge-classify --serve` cost the classifier. The same 640x480 clip is
classified frame by frame, as fast as it goes, with 0, 1, ... viewers, in interleaved rounds; a viewer is what the
page does: the MJPEG stream, the event stream and a status request every 0.5 s, from this process's threads (a
second process from edge-classify's). Frames per second and latency come from edge-classify's own summary."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import List, Optional

import typer

from benchmarks.pipeline import make_video
from benchmarks.results import REPO, write_results
from edge.console import user_errors
from edge.errors import UserError
from edge.tables import markdown


class Viewer:
    """One browser tab's traffic, counted: stream bytes, events and status answers."""

    def __init__(self, url: str):
        self.url, self.bytes, self.events, self.polls, self.stopped = url, 0, 0, 0, threading.Event()
        self.threads = [threading.Thread(target=t, daemon=True) for t in (self._stream, self._events, self._poll)]
        for thread in self.threads:
            thread.start()

    def _stream(self):
        with urllib.request.urlopen(self.url + "stream.mjpg", timeout=30) as stream:
            while not self.stopped.is_set() and (chunk := stream.read1(65536)):
                self.bytes += len(chunk)

    def _events(self):
        with urllib.request.urlopen(self.url + "events", timeout=30) as events:
            while not self.stopped.is_set() and (line := events.readline()):
                self.events += line.startswith(b"data: ")

    def _poll(self):
        while not self.stopped.wait(0.5):
            with urllib.request.urlopen(self.url + "api/status", timeout=10) as answer:
                answer.read()
                self.polls += 1

    def stop(self):
        self.stopped.set()


def one_run(model: Path, video: Path, viewers: int, threads: Optional[int], serve_fps: float) -> dict:
    """edge-classify over VIDEO with --serve and VIEWERS viewers from the first frame to the last."""
    command = [sys.executable, "-m", "edge.classify", "--model", str(model), "--video", str(video), "--json",
               "--changes-only", "--serve", "127.0.0.1:0", "--serve-fps", str(serve_fps),
               *(["--threads", str(threads)] if threads else [])]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.pop("EDGE_SERVE_TOKEN", None)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    started, clients = None, []
    try:
        for line in process.stderr:
            if line.startswith("serving the live view at "):
                url = line.split(" at ", 1)[1].strip()
                clients = [Viewer(url) for _ in range(viewers)]
                started = time.perf_counter()
            elif line.startswith("the run ended"):
                break
        seconds = time.perf_counter() - started if started else 0.0
    finally:
        for client in clients:
            client.stop()
        process.terminate()
        out = process.communicate(timeout=30)[0]
    if not out.strip() or started is None:
        raise UserError(f"--model {model}: edge-classify did not run ({process.returncode}); try it by hand")
    summary = json.loads(out.splitlines()[-1])["summary"]
    return {"viewers": viewers, "fps": summary["fps"], "latency_ms_median": summary["latency_ms_median"],
            "latency_ms_p99": summary["latency_ms_p99"], "frames": summary["frames"],
            "jpeg_mb_per_viewer_s": round(statistics.mean(c.bytes for c in clients) / 1e6 / seconds, 2) if clients else 0,
            "events_per_viewer": round(statistics.mean(c.events for c in clients), 1) if clients else 0}


def serve(
    model: Path = typer.Option(..., "--model", "-m", help="A .tflite or .onnx file."),
    images: Path = typer.Option(..., help="Real photos, made into a 640x480 clip of up to 100 frames, repeated."),
    viewers: List[int] = typer.Option([0, 1, 10], help="Viewer counts to compare; repeat the flag for each."),
    repeat: int = typer.Option(10, min=1, help="The clip is its photos repeated this many times."),
    rounds: int = typer.Option(3, min=1, help="Interleaved rounds (0, 1, 10, 0, 1, 10, ...); medians are reported."),
    threads: Optional[int] = typer.Option(None, min=1, help="Inference threads [default: all cores]."),
    serve_fps: float = typer.Option(10.0, min=0.5, help="edge-classify's --serve-fps."),
    out: Path = typer.Option(Path("benchmarks/results/serve"), help="Writes OUT.json and OUT.md."),
):
    """Frames per second and latency of edge-classify --serve with each number of viewers, side by side."""
    with user_errors(), tempfile.TemporaryDirectory() as work:
        video = make_video(images, Path(work) / "clip.avi", repeat=repeat)
        runs = [one_run(model, video, count, threads, serve_fps) for _ in range(rounds) for count in viewers]
    rows = []
    base = statistics.median(r["fps"] for r in runs if r["viewers"] == viewers[0])
    for count in viewers:
        mine = [r for r in runs if r["viewers"] == count]
        fps = statistics.median(r["fps"] for r in mine)
        rows.append({"viewers": count, "fps": fps, "fps_vs_first": round(fps / base, 3),
                     "latency_ms_median": statistics.median(r["latency_ms_median"] for r in mine),
                     "latency_ms_p99": statistics.median(r["latency_ms_p99"] for r in mine),
                     "jpeg_mb_per_viewer_s": statistics.median(r["jpeg_mb_per_viewer_s"] for r in mine),
                     "frames": mine[0]["frames"]})
    text = (f"`edge-bench serve -m {model.name}`: a 640x480 clip of {mine[0]['frames']} frames classified as fast as it "
            f"goes with `--serve` (at most {serve_fps:g} JPEGs/s for the viewers), {rounds} interleaved rounds, medians. "
            "A viewer reads the MJPEG stream and the events and polls the status twice a second, from another process.\n\n"
            + markdown(rows, list(rows[0])) + "\n")
    typer.echo(write_results(out, {"model": str(model), "rounds": runs, "rows": rows}, text))

