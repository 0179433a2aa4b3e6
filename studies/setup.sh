# Sourced by the studies' run_*.sh from the repository root: the venv on PATH, and where ../shared/data and the
# MobileNetV2 weights are (SHARED and WEIGHTS override them).
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH" TF_CPP_MIN_LOG_LEVEL=3
shared=${SHARED:-../shared/data}
weights=${WEIGHTS:-$shared/mobilenet-v2-weights/mobilenet_v2_1.0_no_top_from_tfslim.weights.h5}
