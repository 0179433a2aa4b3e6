#!/usr/bin/env bash
# Create .venv once and install the toolkit with every extra, pinned by constraints.txt (safe to re-run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[all]" -c constraints.txt
