"""Peak memory and wall time of `convert quantize`, as whole processes under /usr/bin/time -v.

Each case runs the same command line; `--baseline DIR` adds a run of the code in DIR (a checkout of an older commit,
e.g. `git worktree add /tmp/base 3b31a7b`) right after this checkout's run at the first calibration count, so both
meet the same machine (only there: the old code's memory grows with the count, past what the machine has).
Accuracy and agreement per export come from each run's parity.json.

    python -m studies.convert_memory --case muffins_mobilenet_v2=runs/muffins/muffins.keras:../shared/data/muffin-chihuahua/test \\
        --calib-count 256 --calib-count 1024 --baseline /tmp/base --out benchmarks/results/convert_memory
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from statistics import median

import typer

from convert.parity import read_report
from edge.metrics import percent

from benchmarks.processes import measure
from benchmarks.results import REPO, write_results
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__)


def _measure(code: Path, model: str, data: str, calib_count: int) -> dict:
    """One `convert quantize` run of the code in CODE: wall seconds, peak RSS and the parity rows."""
    with tempfile.TemporaryDirectory(prefix="convert-memory-") as out:
        command = [sys.executable, "-c", "from convert.cli import main; main()", "quantize",
                   model, "--data", data, "--out-dir", out, "--calib-count", str(calib_count), "--json"]
        done = measure(command, {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}, code)
        parity = Path(out) / "parity.json"
        rows = read_report(json.loads(parity.read_text()))["rows"] if parity.is_file() else []  # either code's units
    return {"exit": done["exit"], "wall_s": done["wall_s"], "peak_rss_gb": done["peak_rss_gb"],
            "exports": {r["format"]: {k: r.get(k) for k in ("accuracy", "agreement", "mse", "export_s", "status")}
                        for r in rows},
            **({"stderr_tail": done["stderr"][-800:]} if done["exit"] not in (0, 1) else {})}


def _row(case: str, calib: int, code: str, run: dict) -> dict:
    figures = {fmt: (f"mse {e['mse']:.4f}" if e.get("mse") is not None else percent(e["accuracy"])
                     + (f" / {percent(e['agreement'])}" if e.get("agreement") is not None else ""))
               for fmt, e in run["exports"].items()}
    return {"case": case, "calib_count": calib, "code": code, "exit": run["exit"], "wall_s": run["wall_s"],
            "peak_rss_gb": run["peak_rss_gb"], **figures}


def _ratios(runs: list[dict]) -> list[dict]:
    """Per case and calibration count with baseline runs: this / baseline for median wall time and peak RSS."""
    rows = []
    for case, calib in dict.fromkeys((r["case"], r["calib_count"]) for r in runs):
        pick = lambda code, key: [r[key] for r in runs if (r["case"], r["calib_count"], r["code"]) == (case, calib, code)]  # noqa: E731
        if pick("baseline", "wall_s"):
            rows.append({"case": case, "calib_count": calib,
                         "wall_this_over_baseline": round(median(pick("this", "wall_s")) / median(pick("baseline", "wall_s")), 3),
                         "peak_rss_this_over_baseline": round(median(pick("this", "peak_rss_gb")) / median(pick("baseline", "peak_rss_gb")), 3)})
    return rows


@app.command()
def convert_memory(
    case: list[str] = typer.Option(..., help="NAME=MODEL.keras:DATA, repeatable."),
    calib_count: list[int] = typer.Option([256], help="Calibration counts to run, repeatable."),
    baseline: Path = typer.Option(None, help="A checkout of older code to run beside this one."),
    repeat: int = typer.Option(1, min=1, help="Runs of each (this, baseline) pair, interleaved; the ratios use medians."),
    out: Path = typer.Option(Path("benchmarks/results/convert_memory"), help="Writes OUT.json and OUT.md."),
):
    """Run every case at every calibration count, this checkout then the baseline, and write the table."""
    runs = []
    for spec in case:
        name, _, paths = spec.partition("=")
        model, _, data = paths.partition(":")
        model, data = str(Path(model).resolve()), str(Path(data).resolve())
        for calib in calib_count:
            with_baseline = baseline is not None and calib == calib_count[0]
            for _ in range(repeat if with_baseline else 1):
                for label, code in (("this", REPO), *((("baseline", baseline.resolve()),) if with_baseline else ())):
                    run = _measure(code, model, data, calib)
                    runs.append({"case": name, "calib_count": calib, "code": label, **run})
                    typer.echo(json.dumps(runs[-1]))
    ratios = _ratios(runs)
    rows = [_row(r["case"], r["calib_count"], r["code"], r) for r in runs]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    text = ("`convert quantize` with the default formats as whole processes under `/usr/bin/time -v`; per export: "
            f"accuracy / agreement with the float model.\n\n{markdown(rows, columns)}\n")
    if ratios:
        text += ("\nThis checkout against the baseline, same command, medians of the runs above:\n\n"
                 f"{markdown(ratios, list(ratios[0]))}\n")
    text = write_results(out, {"baseline": str(baseline) if baseline else None, "runs": runs, "ratios": ratios}, text)
    typer.echo(text)


def main():
    app()


if __name__ == "__main__":
    main()
