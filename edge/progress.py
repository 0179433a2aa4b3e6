"""Progress bars on stderr, only where a person watches: stderr is a terminal and EDGE_PROGRESS is not 0. Piped,
logged or --json output is never touched. tqdm comes with LiteRT (and TensorFlow); without it, no bar."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def shown() -> bool:
    """Whether bars are drawn here."""
    try:
        return sys.stderr.isatty() and os.environ.get("EDGE_PROGRESS", "1") != "0"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def progress(items: Iterable[T], total: int | None = None, what: str = "", unit: str = "it") -> Iterable[T]:
    """ITEMS, counted on a bar that WHAT names (the bar goes away when done), or ITEMS unchanged where none is shown."""
    if not shown():
        return items
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, total=total, desc=what, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True)
