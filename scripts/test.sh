#!/usr/bin/env bash
# Set up the venvs if needed and run the tests as CI does: the edge tier in .venv-edge (the device install, no
# TensorFlow), then everything else in .venv. `bash scripts/test.sh edge|fast|slow [PYTEST ARGS]` runs one tier
# (CONTRIBUTING.md, "Tests"); other arguments go to pytest (e.g. -q, -x, -k NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=all
case ${1:-} in edge|fast|slow) tier=$1; shift ;; esac
bash scripts/venv.sh
export TF_CPP_MIN_LOG_LEVEL=3
if [ "$tier" != slow ]; then
    .venv-edge/bin/python -m pytest -m edge tests/edge "$@"
fi
case $tier in
    all) .venv/bin/python -m pytest -m "not edge" "$@" ;;
    fast) .venv/bin/python -m pytest -m "not slow and not edge" "$@" ;;
    slow) .venv/bin/python -m pytest -m slow "$@" ;;
esac
