#!/usr/bin/env bash
# Set up .venv if needed and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m pytest "$@"
