"""Benchmarks of whole processes: run a command under /usr/bin/time -v (exit code, wall seconds, peak RSS), and
write a benchmark's OUT.json and OUT.md with the date and the machine."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import describe
from edge.atomic import write_text


def measure(command: list[str], env: dict, cwd) -> dict:
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env, cwd=cwd)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    return {"exit": done.returncode, "wall_s": round(seconds, 1), "peak_rss_gb": round(peak_kb / 1e6, 2),
            "stdout": done.stdout, "stderr": done.stderr}


def write_results(out: Path, fields: dict, text: str) -> str:
    """OUT.json (FIELDS with the date and the machine) and OUT.md (a machine line, then TEXT); returns the markdown."""
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe(), **fields}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".json"), json.dumps(result, indent=2))
    machine = result["machine"]
    page = (f"Machine: {machine['cpu']}, {machine['cores']} cores, flags {' '.join(machine['cpu_flags']) or 'n/a'}; "
            f"{result['date']}. {text}")
    write_text(out.with_suffix(".md"), page)
    return page
