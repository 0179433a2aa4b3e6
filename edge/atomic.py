"""Write outputs under a temporary name and rename them when complete, so no half-written file keeps the final name."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: str | Path):
    """Yield a temporary path beside FINAL (same suffix); rename it to FINAL if the block succeeds, delete it otherwise."""
    final = Path(final)
    tmp = final.with_name(f".partial-{os.getpid()}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(final: str | Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text)
