"""Hardening round 2 (issue 33), measured: whole processes under the attacks that issue found, by this code and,
with --before, by an older checkout of the toolkit side by side. Results go to OUT.json and OUT.md.

- **--post**: edge-classify plays a 30-fps clip in real time (`--realtime`, one thread) and posts each label change
  to a local endpoint that answers 204, declares a 16 GiB body and streams it, sends an endless chunked body, drips
  its answer a byte every 4 s, or redirects (302). Figures: frames per second, frames dropped, changes delivered,
  peak RSS.
- **--serve**: the same run served on loopback with a token while 32 clients drip a header byte each second
  (slowloris), 32 clients each send 6.4 MB of headers, or 32 clients reset their connections mid-request twice a
  second; every attacker reconnects as soon as it is dropped; a viewer asks /api/status twice a second. Figures: frames per second, the viewer's answers, lines on the terminal, peak RSS.
- **convert quantize --config**: a gate file that is a symlink to /dev/zero, a 2 GB file, a FIFO nobody writes, or
  an array nested 5,000 deep, beside a well-formed one. Figures: exit code, time, peak RSS.

A process is stopped at --memory-cap MB or --seconds, and the table says so.

    git worktree add /tmp/before-33 6d22730
    python -m studies.attacks --keras runs/demo/muffins/muffins.keras --model runs/demo/models/muffins.tflite \\
        --data data/sample/muffin-chihuahua/test --before /tmp/before-33 --out benchmarks/results/attacks
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import typer

from benchmarks.results import REPO, write_results
from edge.folders import any_images
from edge.preprocess import read_image
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
CLASSIFY, CONVERT = "from edge.classify import main; main()", "from convert.cli import main; main()"
TOKEN = "attack-study"
ANSWERS = {  # what each --post endpoint sends back, then (endless) what it keeps sending
    "answers 204": (b"HTTP/1.1 204 No Content\r\n\r\n", None),
    "declares 16 GiB and streams it": (b"HTTP/1.1 200 OK\r\nContent-Length: 17179869184\r\n\r\n", b"x" * 2**20),
    "endless chunked body": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"100000\r\n" + b"x" * 2**20 + b"\r\n"),
    "drips a byte every 4 s": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "drip"),
    "redirects (302)": (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n", None),
}


def _clip(photos: Path, path: Path, seconds: int = 20, fps: int = 30) -> Path:
    """A real-time clip of the test photos at 240x240, the class changing every second (each photo held 10 frames)."""
    by_class = {}
    for image in any_images(photos):
        by_class.setdefault(image.parent.name, []).append(image)
    pools = list(by_class.values())
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (240, 240))
    for second in range(seconds):
        pool = pools[second % len(pools)]
        for third in range(3):
            frame = cv2.resize(read_image(pool[(second * 3 + third) % len(pool)]), (240, 240))
            for _ in range(fps // 3):
                writer.write(frame)
    writer.release()
    return path


def _status(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _run(code: Path, module: str, args: list[str], work: Path, seconds: float, cap_mb: float,
         stop_after_summary: bool = False) -> dict:
    """Run `python -c MODULE ARGS` from the checkout CODE; its peak RSS (VmHWM, sampled every 0.1 s), stopped at
    CAP_MB or SECONDS (or with SIGTERM once its summary is printed: a --serve run lingers)."""
    out, err = work / "stdout", work / "stderr"
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("EDGE_SERVE_TOKEN", None)
    started, peak, stopped = time.perf_counter(), 0.0, None
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-c", module, *args], stdout=stdout, stderr=stderr, env=env, cwd=code)
        while process.poll() is None:
            peak = max(peak, _status(process.pid, "VmHWM") or 0)
            if (_status(process.pid, "VmRSS") or 0) > cap_mb:
                stopped = f"killed at {cap_mb:.0f} MB"
            elif time.perf_counter() - started > seconds:
                stopped = f"killed at {seconds:.0f} s"
            elif stop_after_summary and '"summary"' in out.read_text():
                process.terminate()
                process.wait()
                break
            if stopped:
                process.kill()
            time.sleep(0.1)
    wall = time.perf_counter() - started
    lines = out.read_text().splitlines()
    summary = next((json.loads(line)["summary"] for line in reversed(lines) if line.startswith('{"summary"')), {})
    errors = err.read_text().splitlines()
    return {"exit": process.returncode, "stopped": stopped or "", "wall_s": round(wall, 1), "peak_rss_mb": round(peak),
            "summary": summary, "stderr": errors,
            "error": next((line.replace(f"{work}/", "")[:160] for line in errors if line.startswith("error:")), "")}


class _Endpoint:
    """A raw TCP --post endpoint answering every request as ANSWERS[CASE] says; counts the requests."""

    def __init__(self, case: str):
        self.answer, self.more = ANSWERS[case]
        self.requests, self.server = 0, socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/events"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += client.recv(65536) or b"\r\n\r\n"
                self.requests += 1
                if self.more == "drip":
                    for byte in self.answer:
                        client.sendall(bytes([byte]))
                        time.sleep(4)
                    return
                client.sendall(self.answer)
                while self.more:
                    client.sendall(self.more)
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _attack(kind: str, port: int, until: threading.Event, made: list) -> None:
    """One attacking client of KIND against the live view on PORT, reconnecting, until UNTIL is set; each connection
    made is appended to MADE."""
    while not until.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                made.append(kind)
                client.sendall(b"GET / HTTP/1.1\r\n")
                if kind == "reset":
                    client.sendall(b"Host: x")
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
                    until.wait(0.5)
                    continue
                sent = 0
                while not until.is_set() and (kind == "drip" or sent < 6_400_000):
                    if kind == "drip":
                        client.sendall(b"X")
                        until.wait(1.0)
                    else:
                        client.sendall(b"X-Padding: " + b"y" * 65_000 + b"\r\n")
                        sent += 65_013
                until.wait(30)  # hold the connection open
        except OSError:
            until.wait(0.1)


def _viewer(port: int, until: threading.Event, answers: list[int]) -> None:
    while not until.is_set():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=3) as response:
                answers.append(response.status)
        except Exception as exc:  # noqa: BLE001 - every failure is a missed answer, whatever its kind
            code = getattr(exc, "code", 0)
            if code or answers:  # no connection before the view is up is not an answer missed
                answers.append(code)
        until.wait(0.5)


def post_cases(code: Path, model: Path, clip: Path, work: Path, seconds: float, cap_mb: float) -> list[dict]:
    base = ["--model", str(model), "--video", str(clip), "--realtime", "--threads", "1", "--json", "--changes-only"]
    rows = []
    for case in ["no --post", *ANSWERS]:
        endpoint = _Endpoint(case) if case in ANSWERS else None
        run = _run(code, CLASSIFY, base + (["--post", endpoint.url] if endpoint else []), work, seconds, cap_mb)
        if endpoint:
            endpoint.close()
        summary = run["summary"]
        rows.append({"case": f"--post: {case}", "exit": run["exit"], "stopped": run["stopped"],
                     "fps": summary.get("fps"), "frames": summary.get("frames"), "dropped": summary.get("dropped"),
                     "delivered": summary.get("posted", "") if endpoint else "", "failed": summary.get("post_failed", ""),
                     "not_sent": summary.get("post_dropped", ""),
                     "peak_rss_mb": run["peak_rss_mb"], "error": run["error"]})
    return rows


def serve_cases(code: Path, model: Path, clip: Path, work: Path, seconds: float, cap_mb: float) -> list[dict]:
    rows = []
    for case, kind in (("no attack", None), ("32 slowloris clients", "drip"), ("32 clients sending 6.4 MB of headers",
                                                                              "headers"), ("client resets", "reset")):
        port, until, answers, made = _free_port(), threading.Event(), [], []
        threading.Thread(target=_viewer, args=(port, until, answers), daemon=True).start()
        for _ in range(32 if kind else 0):
            threading.Thread(target=_attack, args=(kind, port, until, made), daemon=True).start()
        run = _run(code, CLASSIFY, ["--model", str(model), "--video", str(clip), "--realtime", "--threads", "1", "--json",
                                    "--changes-only", "--serve", f"127.0.0.1:{port}", "--serve-token", TOKEN],
                   work, seconds, cap_mb, stop_after_summary=True)
        until.set()
        while answers and answers[-1] == 0:  # no connection once the run has ended is not an answer missed
            answers.pop()
        own = ("serving the live view", "the run ended", "warning: --serve")
        noise = [line for line in run["stderr"] if not line.startswith(own)]
        summary = run["summary"]
        rows.append({"case": f"--serve: {case}", "exit": run["exit"], "stopped": run["stopped"],
                     "fps": summary.get("fps"), "frames": summary.get("frames"), "dropped": summary.get("dropped"),
                     "attacking_connections": len(made), "viewer_ok": f"{answers.count(200)}/{len(answers)}",
                     "terminal_lines": len(noise),
                     "peak_rss_mb": run["peak_rss_mb"]})
    return rows


def config_cases(code: Path, keras: Path, data: Path, work: Path, seconds: float, cap_mb: float) -> list[dict]:
    rows = []
    for case in ("well-formed", "symlink to /dev/zero", "a 2 GB file", "a FIFO nobody writes", "an array nested 5,000 deep"):
        gate = work / "gate.toml"
        gate.unlink(missing_ok=True)
        if case == "well-formed":
            gate.write_text("[parity]\nmax_drop = 0.05\n")
        elif case.startswith("symlink"):
            gate.symlink_to("/dev/zero")
        elif case.startswith("a 2 GB"):
            with open(gate, "wb") as sparse:
                sparse.truncate(2 * 10**9)
        elif case.startswith("a FIFO"):
            os.mkfifo(gate)
        else:
            gate.write_text("[parity]\nmax_drop = " + "[" * 5000 + "]" * 5000 + "\n")
        run = _run(code, CONVERT, ["quantize", str(keras), "--data", str(data), "--formats", "tflite_int8",
                                   "--config", str(gate), "--out", str(work / "models")], work, seconds, cap_mb)
        rows.append({"case": f"convert --config: {case}", "exit": run["exit"], "stopped": run["stopped"],
                     "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "error": run["error"]})
    gate.unlink(missing_ok=True)
    return rows


@app.command()
def main(
    model: Path = typer.Option(..., help="An export that edge-classify runs (.tflite or .onnx)."),
    keras: Path = typer.Option(..., help="The .keras model convert quantize reads."),
    data: Path = typer.Option(..., help="Test photos in class folders: the clip's frames and the parity data."),
    before: list[Path] = typer.Option([], help="An older checkout of the toolkit to run the same cases (before the fixes)."),
    seconds: float = typer.Option(90, min=5, help="A run still going after this long is killed."),
    memory_cap: float = typer.Option(2000, min=100, help="A run past this resident memory (MB) is killed."),
    out: Path = typer.Option(Path("benchmarks/results/attacks"), help="Writes OUT.json and OUT.md."),
):
    results, text = {}, ["Attacks of issue 33 on whole processes (`python -m studies.attacks`)."]
    model, keras, data = model.resolve(), keras.resolve(), data.resolve()  # each checkout runs in its own folder
    with tempfile.TemporaryDirectory(prefix="attacks-") as folder:
        work = Path(folder)
        clip = _clip(data, work / "clip.avi")
        for name, code in [("after", REPO), *(("before", path.resolve()) for path in before)]:
            label = f"{name} ({code.name if name == 'before' else 'this checkout'})"
            rows = {"post": post_cases(code, model, clip, work, seconds, memory_cap),
                    "serve": serve_cases(code, model, clip, work, seconds, memory_cap),
                    "config": config_cases(code, keras, data, work, seconds, memory_cap)}
            results[name] = {"code": str(code), **rows}
            text.append(f"\n## {label}\n")
            for table in rows.values():
                text.append(markdown(table, list(dict.fromkeys(k for r in table for k in r))) + "\n")
            typer.echo("\n".join(text[-4:]))
    write_results(out, {"model": str(model), "keras": str(keras), "data": str(data), "clip": "20 s at 30 fps, 240x240",
                        "seconds": seconds, "memory_cap_mb": memory_cap, **results}, "\n".join(text) + "\n")
    typer.echo(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    app()
