"""The fuzz suite (tests/edge/test_fuzz.py) at many more examples than CI gives it, under /usr/bin/time -v: examples
per property, failures, wall time and peak RSS, written to OUT.json and OUT.md.

    python -m benchmarks.fuzz --examples 20000 --out benchmarks/results/fuzz
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import typer

from benchmarks.processes import measure
from benchmarks.results import REPO, write_results
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)


def _examples(stdout: str) -> list[dict]:
    """Per property, from hypothesis's statistics: passing, failing and invalid examples and the typical runtime."""
    rows = []
    for block in re.split(r"\n(?=tests/edge/test_fuzz\.py::)", stdout):
        name = re.match(r"tests/edge/test_fuzz\.py::(\w+)", block)
        counts = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)
        runtime = re.search(r"Typical runtimes: ([^\n]+)", block)
        if name and counts:
            rows.append({"property": name.group(1), "passing": int(counts.group(1)), "failing": int(counts.group(2)),
                         "invalid": int(counts.group(3)), "typical_runtime": runtime.group(1).strip() if runtime else ""})
    return rows


@app.command()
def main(examples: int = typer.Option(20_000, min=1, help="Examples per property (CI runs 400)."),
         out: Path = typer.Option(Path("benchmarks/results/fuzz"), help="Writes OUT.json and OUT.md.")):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/edge/test_fuzz.py",
               "--hypothesis-show-statistics", "--hypothesis-seed=0"]
    done = measure(command, {**os.environ, "EDGE_FUZZ_EXAMPLES": str(examples)}, REPO)
    rows = _examples(done["stdout"])
    verdict = next((line for line in reversed(done["stdout"].splitlines()) if " in " in line and ("passed" in line or "failed" in line)),
                   done["stderr"][-300:])
    failures = [line for line in done["stdout"].splitlines() if line.startswith(("FAILED", "E   "))][:20]
    text = (f"`python -m benchmarks.fuzz --examples {examples}`: {verdict}; wall {done['wall_s']} s, peak RSS "
            f"{done['peak_rss_gb']} GB.\n\n" + markdown(rows, ["property", "passing", "failing", "invalid", "typical_runtime"]) + "\n"
            + ("\nFailures:\n\n```\n" + "\n".join(failures) + "\n```\n" if failures else ""))
    write_results(out, {"examples": examples, "exit": done["exit"], "wall_s": done["wall_s"],
                        "peak_rss_gb": done["peak_rss_gb"], "verdict": verdict, "rows": rows, "failures": failures}, text)
    typer.echo(text)
    raise typer.Exit(done["exit"])


if __name__ == "__main__":
    app()
