"""Progress where a person watches, heartbeats where a log does. On a terminal (stderr is one and EDGE_PROGRESS is
not 0): bars on stderr that go away when done. In a log or CI: a step that may take minutes says so when it starts
and prints a line at least once a minute (EDGE_HEARTBEAT_SECONDS) until it ends. Stdout and --json output are never
touched. tqdm comes with LiteRT (and TensorFlow); without it, no bar."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def shown() -> bool:
    """Whether bars are drawn here."""
    try:
        return sys.stderr.isatty() and os.environ.get("EDGE_PROGRESS", "1") != "0"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def heartbeat_seconds() -> float:
    return float(os.environ.get("EDGE_HEARTBEAT_SECONDS") or 60)


def elapsed(seconds: float) -> str:
    """'45 s', '3 min 05 s'."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class Stage:
    """A long step; `status` (e.g. 'epoch 3/40') is repeated in its heartbeat lines."""

    def __init__(self, what: str):
        self.what, self.status, self.started = what, "", time.monotonic()

    def line(self) -> str:
        return f"{self.what}: {self.status + ', ' if self.status else ''}{elapsed(time.monotonic() - self.started)}"


@contextlib.contextmanager
def stage(what: str) -> Iterator[Stage]:
    """A step that may take minutes. Where no bar is shown, WHAT is said when it starts and then every
    heartbeat_seconds() with its status, so that a log shows the run is alive; on a terminal, nothing."""
    step = Stage(what)
    if shown():
        yield step
        return
    print(f"{what} ...", file=sys.stderr, flush=True)
    done = threading.Event()

    def beat():
        while not done.wait(heartbeat_seconds()):
            print(step.line(), file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name=f"heartbeat {what}", daemon=True)
    thread.start()
    try:
        yield step
    finally:
        done.set()
        thread.join()


def progress(items: Iterable[T], total: int | None = None, what: str = "", unit: str = "it") -> Iterable[T]:
    """ITEMS, counted on a bar that WHAT names (the bar goes away when done); where none is shown, counted in the
    heartbeat lines of a stage (see `stage`) when the loop lasts longer than a heartbeat."""
    if not shown():
        return _counted(items, total, what, unit)
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, total=total, desc=what, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True)


def _counted(items: Iterable[T], total: int | None, what: str, unit: str) -> Iterator[T]:
    """ITEMS, with a line every heartbeat_seconds() saying how far the loop is (none for a loop shorter than that)."""
    started = last = time.monotonic()
    for done, item in enumerate(items):
        now = time.monotonic()
        if now - last >= heartbeat_seconds():
            print(f"{what}: {done}{f'/{total}' if total else ''} {unit}, {elapsed(now - started)}", file=sys.stderr,
                  flush=True)
            last = now
        yield item
