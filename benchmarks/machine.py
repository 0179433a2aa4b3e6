"""Describe the machine a benchmark ran on, so tables from two devices can be compared honestly."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "asimd", "asimddp", "i8mm", "sve")


def _cpuinfo() -> tuple[str, list[str]]:
    """CPU name and the SIMD flags that decide int8 speed (x86 `model name`/`flags`, ARM `Model`/`Features`)."""
    info: dict[str, str] = {}
    path = Path("/proc/cpuinfo")
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    arm_model = info.get("model", "")
    model = info.get("model name") or (arm_model if not arm_model.isdigit() else "") or info.get("hardware") or platform.processor()
    flags = (info.get("flags") or info.get("features") or "").split()
    return model or platform.machine(), [f for f in INTERESTING_FLAGS if f in flags]


def _governor() -> str | None:
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    return path.read_text().strip() if path.is_file() else None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict:
    model, flags = _cpuinfo()
    packages = ("ai-edge-litert", "tflite-runtime", "onnxruntime", "numpy", "opencv-python-headless", "opencv-python")
    return {
        "cpu": model,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "governor": _governor(),
        "packages": {name: v for name in packages if (v := _version(name))},
    }


def rss_mb(field: str = "VmRSS") -> float | None:
    """This process's resident memory (VmRSS) or its peak (VmHWM) in MB, from /proc; None where there is no /proc."""
    path = Path("/proc/self/status")
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None
