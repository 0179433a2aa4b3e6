#!/usr/bin/env bash
# Regenerate benchmarks/results/muffins_* and calibration_muffins.* from ../shared/data (about 40 minutes on 2 cores):
# MobileNetV2 transfer and the reference base CNN, every export format with parity, the latency table, and int8
# accuracy against calibration size.
set -euo pipefail
cd "$(dirname "$0")/.."
source studies/setup.sh
data=${DATA:-$shared/muffin-chihuahua}
runs=${RUNS:-runs/muffins}
results=benchmarks/results
mkdir -p "$runs" "$results"

train muffins --data "$data" --weights "$weights" --out "$runs/mobilenet_v2"
convert quantize "$runs/mobilenet_v2/muffins.keras" --data "$data/test" --out "$runs/mobilenet_v2/models" \
    --formats tflite_int8,tflite_int8_float_io,tflite_fp32,tflite_fp16,tflite_dynamic,onnx,onnx_int8
cp "$runs/mobilenet_v2/metrics.json" "$results/muffins_mobilenet_v2_metrics.json"
cp "$runs/mobilenet_v2/models/parity.json" "$results/muffins_mobilenet_v2_parity.json"
models=(-m "$runs/mobilenet_v2/muffins.keras")  # the float reference row
for file in "$runs"/mobilenet_v2/models/muffins*.tflite "$runs"/mobilenet_v2/models/muffins*.onnx; do models+=(-m "$file"); done
edge-bench "${models[@]}" --data "$data/test" --threads 1 --threads 2 --direct --out "$results/muffins_mobilenet_v2"
edge-bench pipeline -m "$runs/mobilenet_v2/models/muffins.tflite" -m "$runs/mobilenet_v2/models/muffins.int8.onnx" --images "$data/test" \
    --frames 10000 --camera-fps 120 --out "$results/pipeline_muffins"
python studies/calibration_study.py "$runs/mobilenet_v2/muffins.keras" --data "$data/test" --calib "$data/train" \
    --out "$results/calibration_muffins"

train muffins --data "$data" --arch base_cnn --out "$runs/base_cnn"
convert quantize "$runs/base_cnn/muffins.keras" --data "$data/test" --out "$runs/base_cnn/models"
cp "$runs/base_cnn/metrics.json" "$results/muffins_base_cnn_metrics.json"
cp "$runs/base_cnn/models/parity.json" "$results/muffins_base_cnn_parity.json"
