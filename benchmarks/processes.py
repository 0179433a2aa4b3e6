"""Benchmarks of whole processes: run a command under /usr/bin/time -v (exit code, wall seconds, peak RSS)."""

from __future__ import annotations

import re
import subprocess


def measure(command: list[str], env: dict, cwd) -> dict:
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env, cwd=cwd)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    return {"exit": done.returncode, "wall_s": round(seconds, 1), "peak_rss_gb": round(peak_kb / 1e6, 2),
            "stdout": done.stdout, "stderr": done.stderr}
