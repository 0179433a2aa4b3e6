"""How much memory this process may still take: the kernel's MemAvailable, capped by a cgroup limit (containers,
CI runners). Used to size calibration chunks and to refuse, with a clear line, what cannot fit."""

from __future__ import annotations

import os
from pathlib import Path


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cgroup_headroom() -> int | None:
    """Limit minus usage of this process's cgroup (v2, then v1), or None without a limit."""
    for limit_file, usage_file in (("memory.max", "memory.current"), ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            return max(0, int(limit) - usage)
    return None


def available_bytes() -> int | None:
    """Bytes this process can still allocate without swapping or being killed; None where it cannot be read.
    EDGE_MEMORY_LIMIT_MB overrides it (to test the refusal, or to leave room for other work)."""
    if os.environ.get("EDGE_MEMORY_LIMIT_MB"):
        return int(float(os.environ["EDGE_MEMORY_LIMIT_MB"]) * 2**20)
    figures = [f for f in (_meminfo_available(), _cgroup_headroom()) if f is not None]
    return min(figures) if figures else None


def gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f}"
