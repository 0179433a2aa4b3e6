"""What the camera-robustness pass costs `convert quantize`: the same command without it (`--robustness 0`), with
the default (every corruption at the middle severity) and with the full grid (severities 1, 3 and 5, the default of
0.6.0), run one after the other on this machine; with --baseline, also the default of an older checkout (e.g.
`git worktree add /tmp/before-34 4ffef38`, before this change). Wall time and peak RSS of each whole process
(/usr/bin/time -v), the robustness seconds of each model from parity.json, the ratios, and what each run measured
under corruption.

    python -m benchmarks.convert_robustness --model runs/cd_mnv2/cats_dogs.keras --data ../shared/data/cats-dogs/test \
        --baseline /tmp/before-34
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import typer

from benchmarks.processes import measure
from benchmarks.results import REPO, write_results
from edge.metrics import percent, points
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)
RUNS = {"no robustness": ["--robustness", "0"], "default (severity 3)": [],
        "full grid (severities 1,3,5)": ["--robustness-severities", "1,3,5"]}


def _run(model: Path, data: Path, flags: list[str], code: Path = REPO) -> dict:
    with tempfile.TemporaryDirectory(prefix="convert-robustness-") as out:
        command = [sys.executable, "-c", "from convert.cli import main; main()", "quantize", str(model), "--data",
                   str(data), "--out", out, *flags]
        done = measure(command, {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}, code)
        parity = Path(out) / "parity.json"
        rows = json.loads(parity.read_text())["rows"] if parity.is_file() else []
    if done["exit"] != 0:
        raise SystemExit(f"convert quantize {' '.join(flags)} failed (exit {done['exit']}): {done['stderr'][-500:]}")
    return {"wall_s": done["wall_s"], "peak_rss_gb": done["peak_rss_gb"],
            "models": {row["format"]: {"robustness_s": row.get("robustness_s"),
                                       "corrupted_s3": (row.get("robustness") or {}).get("middle", {}).get("mean"),
                                       "extra_loss": row.get("corrupted_extra_loss")} for row in rows}}


@app.command()
def main(
    model: Path = typer.Option(..., help="A .keras model made by train."),
    data: Path = typer.Option(..., help="Its held-out class folders."),
    baseline: Path = typer.Option(None, help="An older checkout whose default runs too."),
    out: Path = typer.Option(Path("benchmarks/results/convert_robustness"), help="Writes OUT.json and OUT.md."),
):
    runs = {name: _run(model.resolve(), data.resolve(), flags) for name, flags in RUNS.items()}
    if baseline:
        runs[f"default of {baseline.name}"] = _run(model.resolve(), data.resolve(), [], baseline.resolve())
    base, default, grid = (runs[name] for name in RUNS)
    ratios = {"default_over_no_robustness": round(default["wall_s"] / base["wall_s"], 2),
              "default_over_full_grid": round(default["wall_s"] / grid["wall_s"], 2),
              "full_grid_over_no_robustness": round(grid["wall_s"] / base["wall_s"], 2)}
    if baseline:
        ratios["default_over_baseline_default"] = round(default["wall_s"] / runs[f"default of {baseline.name}"]["wall_s"], 2)
    rows = [{"run": name, "wall_s": run["wall_s"], "peak_rss_gb": run["peak_rss_gb"],
             **{f"{fmt} robustness_s": figures["robustness_s"] for fmt, figures in run["models"].items()}}
            for name, run in runs.items()]
    measured = [{"run": name, "model": fmt, "severity 3 mean": percent(figures["corrupted_s3"]),
                 "loss beyond float": points(figures["extra_loss"]) if figures["extra_loss"] is not None else ""}
                for name, run in runs.items() if name != "no robustness" for fmt, figures in run["models"].items()]
    text = (f"`convert quantize {model.name} --data {data.name}` (default formats), one run each "
            "(`python -m benchmarks.convert_robustness`).\n\n"
            + markdown(rows, list(dict.fromkeys(k for r in rows for k in r))) + "\n\n"
            + f"Ratios of wall time: default / no robustness {ratios['default_over_no_robustness']}, default / full "
              f"grid {ratios['default_over_full_grid']}, full grid / no robustness "
              f"{ratios['full_grid_over_no_robustness']}"
              + (f", default / the baseline's default {ratios['default_over_baseline_default']}" if baseline else "")
              + ".\n\nWhat each measured under corruption (the loss beyond "
              "float is what `--max-robust-drop` gates):\n\n"
            + markdown(measured, list(measured[0])) + "\n")
    page = write_results(out, {"model": str(model), "data": str(data), "runs": runs, "ratios": ratios}, text)
    typer.echo(page)


if __name__ == "__main__":
    app()
