"""A run folder (model, metrics, evaluation arrays, report) is built under a temporary name and renamed when
complete, so a crash or Ctrl-C during saving never leaves a folder that looks finished."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def staged(final: str | Path):
    """Yield a fresh temporary folder beside FINAL; on success it replaces FINAL (an earlier run there is removed)."""
    final = Path(final)
    if final.exists() and not final.is_dir():
        from edge.errors import UserError

        raise UserError(f"--out {final}: is a file; the run writes a folder (model, metrics, report), pick a folder name")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".partial-{os.getpid()}-{final.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".old-{os.getpid()}-{final.name}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
