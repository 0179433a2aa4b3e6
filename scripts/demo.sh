#!/usr/bin/env bash
# The main job on the shipped sample (100+100 training photos, 50+50 test photos), offline, a few minutes on 2 cores:
# train a 34k-parameter CNN (56 KB as int8) -> int8 TFLite + ONNX with the parity gate -> classify the test photos
# -> benchmark every export. Everything goes under runs/demo/, the pixel cache included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
sample=data/sample/muffin-chihuahua
out=runs/demo
mkdir -p "$out"

train muffins --data "$sample" --arch edge_cnn --size 96 --epochs 80 --cache-dir "$out/pixel-cache" --out "$out/muffins"
convert quantize "$out/muffins/muffins.keras" --out "$out/models"
edge-classify --model "$out/models/muffins.tflite" --images "$sample/test" | tail -n 1
edge-bench -m "$out/models" --data "$sample/test" --threads 1 --threads 2 --out "$out/bench"
cat <<NEXT

The int8 model is $out/models/muffins.tflite (labels and preprocessing inside); the training report is
$out/muffins/report.md and the parity report $out/models/parity.md. Next:
  source .venv/bin/activate
  train folder --data YOUR_PHOTOS --arch edge_cnn --out runs/mine        # YOUR_PHOTOS/<class>/*.jpg
  convert quantize runs/mine/folder.keras --out runs/mine/models         # int8, gated against the float model
  edge-classify --model runs/mine/models/folder.tflite --camera 0        # on the Pi: see README, "On the Pi"
NEXT
