#!/usr/bin/env bash
# The device install: `pip install .[edge]` in a fresh venv must not pull TensorFlow or Keras, and edge-classify must run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/edge-venv
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q ".[edge]" -c constraints.txt
if "$venv/bin/python" -m pip list 2>/dev/null | grep -iE "^(tensorflow|tensorflow-cpu|keras|tf-keras) "; then
    echo "error: the edge extra pulled TensorFlow or Keras" >&2
    exit 1
fi
"$venv/bin/edge-classify" --help > /dev/null
"$venv/bin/edge-bench" --help > /dev/null
echo "edge install: $(du -sh "$venv" | cut -f1), no TensorFlow; edge-classify and edge-bench start"
rm -rf "$(dirname "$venv")"
