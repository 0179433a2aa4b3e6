#!/usr/bin/env bash
# Regenerate benchmarks/results/muffins_* from ../shared/data (about 25 minutes on 2 cores):
# MobileNetV2 transfer and the reference base CNN, their exports with parity, and the latency table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH" TF_CPP_MIN_LOG_LEVEL=3
data=${DATA:-../shared/data/muffin-chihuahua}
weights=${WEIGHTS:-../shared/data/mobilenet-v2-weights/mobilenet_v2_1.0_no_top_from_tfslim.weights.h5}
runs=runs/muffins
results=benchmarks/results
mkdir -p "$runs" "$results"

train muffins --data "$data" --weights "$weights" --out "$runs/muffins.keras"
convert quantize "$runs/muffins.keras" --data "$data/test" --out-dir "$runs/models" \
    --formats tflite_int8,tflite_fp32,onnx,onnx_int8
cp "$runs/muffins.metrics.json" "$results/muffins_mobilenet_v2_metrics.json"
cp "$runs/models/parity.json" "$results/muffins_mobilenet_v2_parity.json"
edge-bench -m "$runs/models/muffins.tflite" -m "$runs/models/muffins.fp32.tflite" \
    -m "$runs/models/muffins.onnx" -m "$runs/models/muffins.int8.onnx" \
    --data "$data/test" --threads 1,2 --out "$results/muffins_mobilenet_v2"

train muffins --data "$data" --model base_cnn --out "$runs/base_cnn.keras"
convert quantize "$runs/base_cnn.keras" --data "$data/test" --out-dir "$runs/base_cnn_models"
cp "$runs/base_cnn.metrics.json" "$results/muffins_base_cnn_metrics.json"
cp "$runs/base_cnn_models/parity.json" "$results/muffins_base_cnn_parity.json"
