#!/usr/bin/env bash
# Resolve the GPU installs (`pip install ".[gpu]"`: full TensorFlow; `".[jax-gpu]"`: JAX with CUDA beside the CPU
# TensorFlow) in a throw-away venv without installing them, and list what they would bring: the CUDA/cuDNN wheels
# come from the package index (no system CUDA). Writes benchmarks/results/gpu_install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)
python3 -m venv "$venv"
for extra in gpu jax-gpu; do
  "$venv/bin/pip" install -q --dry-run --ignore-installed --report "$venv/$extra.json" ".[$extra]" 2>/dev/null
done
python3 - "$venv" <<'PY'
import json, platform, sys
from datetime import datetime, timezone
lines = []
for extra in ("gpu", "jax-gpu"):
    items = {i["metadata"]["name"]: i["metadata"]["version"] for i in json.load(open(f"{sys.argv[1]}/{extra}.json"))["install"]}
    keep = sorted(k for k in items if k.lower().startswith(("tensorflow", "keras", "jax", "nvidia", "onnx", "tf2onnx", "ai-edge", "numpy")))
    lines += [f"`pip install --dry-run \".[{extra}]\"` on {platform.machine()} Linux, Python {platform.python_version()}, "
              f"{datetime.now(timezone.utc).date()}: resolves, {len(items)} packages. The ones that matter:", "",
              "| package | version |", "|---|---|"] + [f"| {k} | {items[k]} |" for k in keep] + [""]
open("benchmarks/results/gpu_install.md", "w").write("\n".join(lines))
print("\n".join(lines))
PY
rm -rf "$venv"
