"""Print the muffins exports table of docs/results/exports.md from benchmarks/results (parity and latency of the same exports, side by side).

    python studies/readme_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

from convert.parity import read_report
from edge.formats import FORMATS
from edge.metrics import percent
from edge.tables import markdown

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
COLUMNS = ["export", "file", "size (MB)", "test accuracy", "top-1 agreement with float", "latency 1 / 2 threads (ms, median)",
           "runner / bare interpreter (1 / 2 threads)"]


def _row(row: dict, latency: dict) -> dict:
    """One export's parity ROW beside its LATENCY rows (threads -> edge-bench row)."""
    one, two = latency.get(1), latency.get(2)
    reference = row["status"] == "reference"
    return {"export": "Keras float" if reference else FORMATS[row["format"]].description, "file": row["file"],
            "size (MB)": f"{row['size_mb']:.2f}", "test accuracy": percent(row['accuracy']),
            "top-1 agreement with float": "—" if reference else f"{percent(row['agreement'])} ({row['disagreements']} images)",
            "latency 1 / 2 threads (ms, median)": f"{one['median_ms']:.1f} / {two['median_ms']:.1f}" if one and two else "—",
            "runner / bare interpreter (1 / 2 threads)": (f"{one['overhead_vs_direct']:.3f} / {two['overhead_vs_direct']:.3f}"
                                                          if one and "overhead_vs_direct" in one else "—")}


def table(stem: str = "muffins_mobilenet_v2") -> str:
    parity = read_report(json.loads((RESULTS / f"{stem}_parity.json").read_text()))
    bench = json.loads((RESULTS / f"{stem}.json").read_text())
    latency: dict = {}
    for r in bench["rows"]:
        if not r.get("runtime", "").endswith("direct"):
            latency.setdefault(r["format"], {})[r["threads"]] = r
    rows = [_row(row, latency.get("keras" if row["status"] == "reference" else row["format"], {})) for row in parity["rows"]]
    return f"{parity['images']} test images\n\n" + markdown(rows, COLUMNS)


if __name__ == "__main__":
    print(table())
