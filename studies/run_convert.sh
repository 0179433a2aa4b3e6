#!/usr/bin/env bash
# Regenerate benchmarks/results/{convert_memory,calibration_muffins,startup,overhead_muffins}.* from ../shared/data
# (about 45 minutes on 2 cores, plus training where the run folders are missing): peak memory and wall time of
# `convert quantize` for the muffins MobileNetV2, Fashion-MNIST edge and demo models, int8 accuracy against the
# calibration count, start-up of every command, and the runner against the bare interpreter.
# BASELINE=DIR (a checkout of an older commit, e.g. `git worktree add /tmp/base 3b31a7b`) adds its runs beside ours.
set -euo pipefail
cd "$(dirname "$0")/.."
source studies/setup.sh
data=${DATA:-$shared/muffin-chihuahua}
runs=${RUNS:-runs}
fashion=$runs/fashion_edge_${FASHION_EPOCHS:-40}ep
results=benchmarks/results

[ -f "$runs/muffins/muffins.keras" ] || train muffins --data "$data" --weights "$weights" --out "$runs/muffins"
[ -f "$fashion/fashion.keras" ] || train fashion --epochs "${FASHION_EPOCHS:-40}" --out "$fashion"
[ -f "$runs/demo/muffins/muffins.keras" ] || bash scripts/demo.sh

python -m studies.convert_memory --calib-count 256 --calib-count 1024 ${BASELINE:+--baseline "$BASELINE" --repeat 2} \
    --case "muffins_mobilenet_v2=$runs/muffins/muffins.keras:$data/test" \
    --case "fashion_edge=$fashion/fashion.keras:$fashion/test.npz" \
    --case "demo_edge_cnn=$runs/demo/muffins/muffins.keras:data/sample/muffin-chihuahua/test" \
    --out "$results/convert_memory"
python studies/calibration_study.py "$runs/muffins/muffins.keras" --data "$data/test" --calib "$data/train" \
    --out "$results/calibration_muffins"

convert quantize "$runs/muffins/muffins.keras" --data "$data/test" --out "$runs/muffins/models"
python -m benchmarks.startup --model "$runs/muffins/models/muffins.tflite" \
    --photo "$(find "$data/test" -name '*.jpg' | sort | head -n 1)" --out "$results/startup"
edge-bench -m "$runs/muffins/models/muffins.tflite" --data "$data/test" --threads 1 --threads 2 --direct --runs 500 \
    --out "$results/overhead_muffins"
