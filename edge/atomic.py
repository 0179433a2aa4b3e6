"""Write outputs under a temporary name and rename them when complete, so no half-written file or folder keeps the
final name: a crash or Ctrl-C leaves the earlier output, or nothing. What is renamed is on the disk first (fsync of
its files and folders, then of the folder that holds the new name): a Raspberry Pi that loses power right after a
write must not find a zero-length model under the final name, which a rename alone allows on ext4 and FAT."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path

from edge.errors import UserError

STALE_SECONDS = 3600  # a partial output untouched this long, of a process not running, was left by a killed one


def disk_full(exc: OSError) -> bool:
    """Whether EXC says the disk (or the user's quota on it) is full: the user's to fix, never the input's fault."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def partial_name(final: str | Path) -> Path:
    """The temporary name beside FINAL that a write goes to until it is complete. What a killed process left under
    such a name for FINAL is removed first: its process is not running here and it was not touched for an hour (a
    shared folder may hold another host's write in progress)."""
    final = Path(final)
    for left in final.parent.glob(f".partial-*-{glob.escape(final.name)}"):
        pid = left.name.split("-", 2)[1]
        with contextlib.suppress(OSError):
            if pid.isdigit() and not _running(int(pid)) and time.time() - left.stat().st_mtime > STALE_SECONDS:
                if left.is_dir():
                    shutil.rmtree(left)
                else:
                    left.unlink()
    return final.with_name(f".partial-{os.getpid()}-{final.name}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def writable_folder(folder: str | Path, flag: str) -> Path:
    """FOLDER, created when missing, once a file can be written in it: checked before the work, not after it;
    UserError naming FLAG (a read-only or full disk, a file in the way) otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"{flag} {folder}: cannot write there ({exc.strerror or exc}); choose a writable folder") from None
    return folder


@contextlib.contextmanager
def one_run_at_a_time(folder: Path, flag: str, command: str):
    """Hold FOLDER (an output folder that exists) for this run: a second COMMAND given the same folder while this one
    runs is refused in one line, rather than the two mixing their files. An advisory lock on the folder itself, so
    nothing is left behind and a killed run releases it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{flag} {folder}: another {command} is writing there now; wait for it or choose another "
                            "folder") from None
        yield folder
    finally:
        os.close(fd)


def durable(path: Path) -> None:
    """Flush PATH to the disk: a file, or a folder with everything in it."""
    for item in ([path] if path.is_file() else [*path.rglob("*"), path]):
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:  # some file systems (and /proc-like ones) cannot fsync a folder; the files are what matter
            if not item.is_dir():
                raise
        finally:
            os.close(fd)


def durable_rename(tmp: Path, final: Path) -> None:
    """Rename TMP to FINAL once TMP is on the disk, then make the new name itself durable."""
    durable(tmp)
    os.replace(tmp, final)
    with contextlib.suppress(OSError):
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(final: str | Path):
    """Yield a temporary path beside FINAL (same suffix); rename it to FINAL, durably, if the block succeeds, delete
    it otherwise."""
    final = Path(final)
    tmp = partial_name(final)
    try:
        yield tmp
        durable_rename(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(final: str | Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def staged_folder(final: str | Path, flag: str = "--out", keep_first: bool = False):
    """Yield a fresh temporary folder beside FINAL; on success it replaces FINAL (an earlier one there is removed),
    or with KEEP_FIRST is dropped when another process completed FINAL first (a cache entry both built)."""
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise UserError(f"{flag} {final}: is a file; this writes a folder, pick a folder name")
    writable_folder(final.parent, flag)
    tmp = partial_name(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if keep_first:
            try:
                durable(tmp)
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():  # a real failure, not another process's entry completed first
                    raise
        elif final.exists():
            old = final.with_name(f".old-{os.getpid()}-{final.name}")
            os.replace(final, old)
            durable_rename(tmp, final)
            shutil.rmtree(old)
        else:
            durable_rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
