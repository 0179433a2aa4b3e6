"""Reading a small file a user named (a config, a labels file): a regular file, bounded in size, UTF-8 text; one line
naming the flag otherwise. A FIFO is never opened and /dev/zero never read. And the CRC-32 of a file the toolkit
wrote (cache entries, training backups), checked before it is used again."""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

from edge.errors import UserError

MOST_BYTES = 1_000_000  # far more than any settings or labels file holds


def small_text(path: Path, flag: str, most: int = MOST_BYTES) -> str:
    """The text of PATH, given as FLAG; UserError for a missing file, one that is not a regular file (a FIFO, a
    device, a folder, a link to one), one over MOST bytes, or one that is not UTF-8."""
    try:
        info = os.stat(path)  # follows a symlink to what it names
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc.strerror}); check the path") from None
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{flag} {path}: not a regular file; give the file itself")
    if info.st_size > most:
        raise UserError(f"{flag} {path}: over {most / 1e6:g} MB, which no such file needs; check the path")
    try:
        with open(path, "rb") as file:
            data = file.read(most + 1)  # it may have grown since the stat
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc.strerror}); check the path") from None
    if len(data) > most:
        raise UserError(f"{flag} {path}: over {most / 1e6:g} MB, which no such file needs; check the path")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{flag} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def file_crc32(path: Path) -> int:
    """CRC-32 of PATH's bytes, read 1 MB at a time."""
    crc = 0
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc
