#!/usr/bin/env bash
# The main job on the shipped sample (100+100 training photos, 50+50 test photos), offline, a few minutes on 2 cores:
# train a 34k-parameter CNN (56 KB as int8) -> int8 TFLite + ONNX with the parity gate -> classify the test photos
# -> benchmark every export.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH" TF_CPP_MIN_LOG_LEVEL=3
sample=data/sample/muffin-chihuahua
out=runs/demo
mkdir -p "$out"

train muffins --data "$sample" --arch edge_cnn --size 96 --epochs 80 --out "$out/muffins"   # report: $out/muffins/report.md
convert quantize "$out/muffins/muffins.keras" --data "$sample/test" --out "$out/models"
edge-classify --model "$out/models/muffins.tflite" --images "$sample/test" | tail -n 3
edge-bench -m "$out/models/muffins.tflite" -m "$out/models/muffins.onnx" -m "$out/models/muffins.int8.onnx" \
    --data "$sample/test" --threads 1 --threads 2 --out "$out/bench"
