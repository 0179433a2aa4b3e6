"""Tables: Markdown for files (pasted as they are into the docs and results), and an aligned plain form that fits a
terminal."""

from __future__ import annotations


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def markdown(rows: list[dict], columns: list[str], percent: tuple[str, ...] = ()) -> str:
    """ROWS as a Markdown table of COLUMNS; the PERCENT keys hold fractions, shown in percent."""
    from edge.metrics import percent as in_percent

    rows = [row | {key: in_percent(row[key]) for key in percent if isinstance(row.get(key), (int, float))}
            for row in rows]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def aligned(rows: list[dict], columns: dict[str, str]) -> str:
    """ROWS as a plain table for a terminal: COLUMNS maps each key to its heading; numbers right-aligned, text left,
    two spaces apart, no column left empty throughout."""
    keys = [key for key in columns if any(row.get(key) not in (None, "") for row in rows)]
    cells = [[columns[key] for key in keys]] + [[_cell(row.get(key)) for key in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    numeric = [all(isinstance(row.get(key), (int, float)) or row.get(key) in (None, "") or str(row.get(key))[-1:] == "%"
                   for row in rows) for key in keys]
    return "\n".join("  ".join(cell.rjust(width) if right else cell.ljust(width)
                               for cell, width, right in zip(line, widths, numeric)).rstrip() for line in cells)
