"""The parity report as people read it: every column in OUT/parity.md, a form within 100 columns on the terminal.
parity.json holds fractions; they are printed in percent (accuracy, agreement, the corrupted mean, the MSE increase)
and points (drop, extra loss)."""

from __future__ import annotations

from edge.metrics import percent, points
from edge.tables import aligned, markdown

COLUMNS = {
    "classification": ["format", "file", "size_mb", "accuracy", "drop", "agreement", "disagreements", "max_abs_diff",
                       "corrupted_s3", "corrupted_extra_loss", "status"],
    "regression": ["format", "file", "size_mb", "mse", "mse_increase", "max_abs_diff", "mean_abs_diff", "status"],
}
TERMINAL = {
    "classification": {"format": "format", "size_mb": "MB", "accuracy": "accuracy", "drop": "drop", "agreement":
                       "agreement", "disagreements": "differ", "corrupted_s3": "corrupted", "status": "status"},
    "regression": {"format": "format", "size_mb": "MB", "mse": "MSE", "mse_increase": "MSE +%", "max_abs_diff":
                   "max diff", "status": "status"},
}
PERCENT = ("accuracy", "agreement", "corrupted_s3", "mse_increase")
POINTS = ("drop", "corrupted_extra_loss")  # differences of two accuracies


def _kind(report: dict) -> str:
    return "regression" if report["task"] == "regression" else "classification"


def _for_people(row: dict) -> dict:
    shown = row | {key: percent(row[key]) for key in PERCENT if isinstance(row.get(key), (int, float))}
    shown |= {key: points(row[key]) for key in POINTS if isinstance(row.get(key), (int, float))}
    return shown | ({"size_mb": round(row["size_mb"], 3)} if isinstance(row.get("size_mb"), float) else {})


def markdown_table(report: dict) -> str:
    """Every column, for parity.md."""
    return markdown([_for_people(row) for row in report["rows"]], COLUMNS[_kind(report)])


def terminal_table(report: dict) -> str:
    """The columns a gate decision needs, within 100 columns; `corrupted` is the mean at severity 3."""
    return aligned([_for_people(row) for row in report["rows"]], TERMINAL[_kind(report)])
