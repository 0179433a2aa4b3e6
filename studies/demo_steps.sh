#!/usr/bin/env bash
# The steps of scripts/demo.sh (train, convert quantize, edge-classify, edge-bench) run by the code of checkout CODE
# with this checkout's .venv, writing into OUT: run it for the code before and after a change, then compare the two
# with studies/same_demo.py.
#   git worktree add /tmp/before <commit>
#   bash studies/demo_steps.sh /tmp/before /tmp/demo-before && bash studies/demo_steps.sh . /tmp/demo-after
#   .venv/bin/python studies/same_demo.py /tmp/demo-before /tmp/demo-after
set -euo pipefail
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
code=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
cd "$code"
export PYTHONPATH="$code" PATH="$venv/bin:$PATH"
sample=data/sample/muffin-chihuahua
train muffins --data "$sample" --arch edge_cnn --size 96 --epochs 80 --cache-dir "$out/pixel-cache" --out "$out/muffins"
convert quantize "$out/muffins/muffins.keras" --out "$out/models"
edge-classify --model "$out/models/muffins.tflite" --images "$sample/test" | tail -n 1
edge-bench -m "$out/models" --data "$sample/test" --threads 1 --out "$out/bench"
