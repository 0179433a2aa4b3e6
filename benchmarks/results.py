"""Where benchmarks and studies write, and the one writer of their results: OUT.json (the figures, with the date and
the machine) and OUT.md (a line naming the machine, then the text people read)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import describe
from edge.atomic import write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def stamped(fields: dict) -> dict:
    """FIELDS with the date and the machine first."""
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": describe(), **fields}


def machine_line(result: dict) -> str:
    machine = result["machine"]
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, flags {' '.join(machine['cpu_flags']) or 'n/a'}; "
            f"{result['date']}.")


def write_results(out: Path, fields: dict, text: str, header: str | None = None) -> str:
    """OUT.json (FIELDS, stamped) and OUT.md (HEADER, by default the machine line, then TEXT); returns the markdown."""
    result = stamped(fields)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".json"), json.dumps(result, indent=2))
    page = (header or machine_line(result)) + ("" if text.startswith("\n") else " ") + text
    write_text(out.with_suffix(".md"), page)
    return page
