#!/usr/bin/env bash
# Resolve the GPU install (`pip install ".[gpu]"`) in a throw-away venv without installing it, and list what it
# would bring: full TensorFlow and its CUDA/cuDNN wheels from the package index (no system CUDA). Writes
# benchmarks/results/gpu_install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)
python3 -m venv "$venv"
"$venv/bin/pip" install -q --dry-run --ignore-installed --report "$venv/report.json" ".[gpu]" 2>/dev/null
python3 - "$venv/report.json" <<'PY'
import json, platform, sys
from datetime import datetime, timezone
items = {i["metadata"]["name"]: i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]}
keep = sorted(k for k in items if k.lower().startswith(("tensorflow", "keras", "nvidia", "onnx", "tf2onnx", "ai-edge", "numpy")))
lines = [f"`pip install --dry-run \".[gpu]\"` on {platform.machine()} Linux, Python {platform.python_version()}, "
         f"{datetime.now(timezone.utc).date()}: resolves, {len(items)} packages. The ones that matter:", "",
         "| package | version |", "|---|---|"] + [f"| {k} | {items[k]} |" for k in keep]
open("benchmarks/results/gpu_install.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
rm -rf "$venv"
