#!/usr/bin/env bash
# The README's first screen from a fresh clone of this checkout, offline, as a new user follows it: the demo, then
# "your own photos" on cats and dogs from ../shared laid out as one folder per class (the MobileNetV2 weights file as
# the offline --weights), then the Pi lines into a fresh device venv from the wheel (x86 here, no camera: --images).
# Its lines go to stderr and the command's outputs to stdout:
#   bash studies/first_contact.sh > /tmp/first_contact.log 2>&1      (benchmarks/results/first_contact.md)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
rm -rf /tmp/fresh /tmp/pi && git clone -q "$repo" /tmp/fresh && cd /tmp/fresh
t() { local s=$SECONDS; "$@"; echo "[walkthrough] $(( SECONDS - s )) s: $*" >&2; }
t bash scripts/demo.sh > /tmp/walk_demo.log 2>&1
mkdir -p photos/cat photos/dog
for c in cat dog; do cp "$shared"/data/cats-dogs/*/$c/* photos/$c/; done
echo "[walkthrough] photos: $(ls photos/cat | wc -l) cats, $(ls photos/dog | wc -l) dogs" >&2
source .venv/bin/activate
W=$shared/data/mobilenet-v2-weights/mobilenet_v2_1.0_no_top_from_tfslim.weights.h5
t /usr/bin/time -f "[walkthrough] train peak RSS %M KB" train folder --data photos --weights $W --out runs/mine
t /usr/bin/time -f "[walkthrough] convert peak RSS %M KB" convert quantize runs/mine/folder.keras --out runs/mine/models
t edge-classify --model runs/mine/models/folder.tflite --images photos/cat | tail -1
deactivate
.venv/bin/pip wheel -q --no-deps -w dist . 2>&1 | grep -v "Location" || true
mkdir -p /tmp/pi && cp dist/edge_classifier_toolkit-*.whl runs/mine/models/folder.tflite /tmp/pi/ && cd /tmp/pi
python3 -m venv --system-site-packages ~/edge-walk
t ~/edge-walk/bin/pip install -q "$(ls edge_classifier_toolkit-*.whl)[edge-tflite]" "numpy<2" 2>&1 | grep -v "Location" || true
~/edge-walk/bin/pip list 2>/dev/null | grep -iE "numpy|opencv|litert|tensorflow|keras"
t ~/edge-walk/bin/edge-classify --model folder.tflite --images /tmp/fresh/photos/dog --changes-only | tail -3
~/edge-walk/bin/python - <<'PY'
from edge import Classifier
classifier = Classifier("folder.tflite")
print(classifier.classify("/tmp/fresh/photos/cat/" + __import__("os").listdir("/tmp/fresh/photos/cat")[0]))
import sys; print("tensorflow imported:", "tensorflow" in sys.modules)
PY
rm -rf ~/edge-walk
