#!/usr/bin/env bash
# Set up the venvs if needed and run the test suite as CI does: the edge tier in .venv-edge (the device install, no
# TensorFlow), then everything else in .venv. Arguments go to both pytest runs (e.g. -q, -x, -k NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export TF_CPP_MIN_LOG_LEVEL=3
.venv-edge/bin/python -m pytest -m edge tests/edge "$@"
.venv/bin/python -m pytest -m "not edge" "$@"
