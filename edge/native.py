"""What native libraries print on file descriptor 2, below Python's sys.stderr: LiteRT writes `INFO: Created
TensorFlow Lite XNNPACK delegate for CPU.` for every interpreter, whatever TF_CPP_MIN_LOG_LEVEL says."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def info_lines_dropped():
    """Drop the `INFO:` lines native code writes to file descriptor 2 inside the block and pass every other line on
    (errors and warnings still show); EDGE_DEBUG=1 (or a command's --debug) keeps everything."""
    if os.environ.get("EDGE_DEBUG") == "1":
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not line.startswith("INFO: ")]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
