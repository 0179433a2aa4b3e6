#!/usr/bin/env bash
# benchmarks/results/robustness_recipes.*: each transfer recipe trained without and with --augment camera (muffins
# also with one plain augmented pass, the pass camera augmentation adds; cats-dogs also with 4 passes, plain and with
# camera), each int8 TFLite export measured under the camera corruptions through LiteRT, and the Fashion-MNIST edge
# model's report. About 2 hours on 2 cores; run folders that exist are kept (RECIPES="cats-dogs" runs a subset).
set -euo pipefail
cd "$(dirname "$0")/.."
source studies/setup.sh
runs=${RUNS:-runs/robustness}
mkdir -p "$runs"

variants() {
  case $1 in
    muffins) echo "none passes1 camera" ;;
    cats-dogs) echo "none camera passes4 camera4" ;;
    *) echo "none camera" ;;
  esac
}
folder() { [ "$1" = muffins ] && echo "$shared/muffin-chihuahua" || echo "$shared/$1"; }
for recipe in ${RECIPES:-muffins cats-dogs butterflies fashion}; do
  if [ "$recipe" = fashion ]; then
    run="$runs/fashion-edge"
    [ -f "$run/metrics.json" ] || train fashion --arch edge --out "$run"
    [ -f "$run/models/parity.json" ] || convert quantize "$run/fashion.keras" --data "$run/test.npz" \
        --formats tflite_int8 --robustness 1000 --out "$run/models" || true
    continue
  fi
  for variant in $(variants "$recipe"); do
    run="$runs/$recipe-$variant"
    case $variant in
      none) extra=(--augment none) ;;
      passes1) extra=(--augment none --augment-passes 1) ;;
      camera) extra=(--augment camera) ;;
      passes4) extra=(--augment none --augment-passes 4) ;;
      camera4) extra=(--augment camera --augment-passes 4) ;;
    esac
    [ -f "$run/metrics.json" ] || train "$recipe" --data "$(folder "$recipe")" --arch transfer --weights "$weights" \
        "${extra[@]}" --out "$run"
    [ -f "$run/models/parity.json" ] || convert quantize "$run"/*.keras --data "$(folder "$recipe")/test" \
        --formats tflite_int8 --out "$run/models" || true
  done
done
python studies/robustness_table.py "$runs"/*/ --out benchmarks/results/robustness_recipes
