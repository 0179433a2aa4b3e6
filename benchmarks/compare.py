"""`edge-bench compare A.json B.json`: two benchmark runs side by side (device vs device, or before vs after)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edge.console import user_errors
from edge.errors import UserError
from edge.metrics import percent
from edge.tables import markdown


def _load(path: Path) -> dict:
    try:
        result = json.loads(path.read_text())
        return {"machine": result["machine"], "rows": {(r["model"], r["threads"], r.get("runtime")): r for r in result["rows"]}}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not an edge-bench JSON file ({exc}); give the OUT.json that edge-bench wrote") from None


def compare(first: Path = typer.Argument(..., metavar="A.json"), second: Path = typer.Argument(..., metavar="B.json")):
    """Rows present in both runs, with B/A ratios of median latency (below 1: B is faster)."""
    with user_errors():
        a, b = _load(first), _load(second)
        rows = []
        for key, row_a in a["rows"].items():
            row_b = b["rows"].get(key)
            if row_b is None or not row_a.get("median_ms") or not row_b.get("median_ms"):
                continue
            rows.append({"model": key[0], "threads": key[1], "runtime": key[2], "A_ms": row_a["median_ms"],
                         "B_ms": row_b["median_ms"], "B/A": round(row_b["median_ms"] / row_a["median_ms"], 3),
                         "A_accuracy": percent(row_a.get("accuracy")), "B_accuracy": percent(row_b.get("accuracy"))})
        if not rows:
            raise UserError(f"{first} and {second} share no timed (model, threads) rows; compare runs of the same models")
        typer.echo(f"A: {a['machine']['cpu']} ({first})\nB: {b['machine']['cpu']} ({second})\n")
        typer.echo(markdown(rows, ["model", "threads", "runtime", "A_ms", "B_ms", "B/A", "A_accuracy", "B_accuracy"]))
