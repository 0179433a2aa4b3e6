#!/usr/bin/env bash
# Regenerate benchmarks/results/training.* and fashion_edge.* from ../shared/data and the Debian Fashion-MNIST
# (apt install dataset-fashion-mnist): every recipe trained, converted with the parity gate, and summarised.
# About 3.5 hours on 2 cores; RECIPES="fashion_edge butterflies" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
source studies/setup.sh
runs=${RUNS:-runs/recipes}
results=benchmarks/results
all="fashion_2conv fashion_3conv fashion_edge butterflies cats_dogs_cnn cats_dogs_plain_cnn cats_dogs_transfer"
mkdir -p "$runs" "$results"

for recipe in ${RECIPES:-$all}; do
  run="$runs/$recipe"
  case $recipe in
    fashion_2conv) train fashion --arch reference_2conv --out "$run" ;;
    fashion_3conv) train fashion --arch reference_3conv --out "$run" ;;
    fashion_edge) train fashion --arch edge --out "$run" ;;
    butterflies) train butterflies --data "$shared/butterflies" --weights "$weights" --out "$run" ;;
    cats_dogs_cnn) train cats-dogs --data "$shared/cats-dogs" --out "$run" ;;
    cats_dogs_plain_cnn) train cats-dogs --data "$shared/cats-dogs" --arch cats_dogs_cnn --epochs 80 --out "$run" ;;
    cats_dogs_transfer) train cats-dogs --data "$shared/cats-dogs" --arch transfer --weights "$weights" --out "$run" ;;
  esac
  model=$(ls "$run"/*.keras)
  heldout="$run/test.npz"; [ -f "$heldout" ] || heldout="$shared/${recipe%%_*}/test"
  [ "${recipe%%_*}" = cats ] && heldout="$shared/cats-dogs/test"
  convert quantize "$model" --data "$heldout" --out "$run/models" || echo "parity gate failed for $recipe (see $run/models/parity.json)"
done

python studies/training_summary.py $(ls -d "$runs"/*/ | while read -r d; do [ -f "$d/metrics.json" ] && echo "$d"; done) \
    --out "$results/training"
edge-bench -m "$runs/fashion_edge/fashion.keras" -m "$runs/fashion_edge/models" --data "$runs/fashion_edge/test.npz" \
    --threads 1 --threads 2 --out "$results/fashion_edge"
