#!/usr/bin/env bash
# Create .venv once and install the toolkit with every extra, pinned by constraints.txt (safe to re-run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[all]" -c constraints.txt
# MediaPipe Tasks, in a venv of its own (its opencv-contrib-python would shadow opencv-python-headless): the tests
# check that our tflite_uint8 files load in it as is (tests/test_mediapipe.py).
[ -x .venv-mediapipe/bin/python ] || python3 -m venv .venv-mediapipe
.venv-mediapipe/bin/python -m pip install -q mediapipe==1.2.3 -c constraints.txt
# Debian's Chromium for the browser test of `edge-classify --serve` (tests/test_serve.py): Playwright drives it as
# installed, with no browser download.
if ! command -v chromium > /dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
    else
        echo "note: tests/test_serve.py needs Debian's chromium: sudo apt-get install chromium" >&2
    fi
fi
