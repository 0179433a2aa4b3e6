#!/usr/bin/env bash
# Create .venv once and install the toolkit with every extra, pinned by constraints.txt (safe to re-run: what is
# installed already is kept). About 2 minutes here the first time (the packages are 2 GB), seconds after that.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "set-up: $*" >&2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pip_quietly() {  # pip's own output (notes, the build back-end's warning boxes) only when it fails
    "$@" > "$log" 2>&1 || { grep -v "^WARNING: Location" "$log" | tail -n 40 >&2; echo "error: set-up failed: $*" >&2; exit 1; }
}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv (Python $(python3 -c 'import platform; print(platform.python_version())'))"
    python3 -m venv .venv
fi
pip_quietly .venv/bin/python -m pip install -q --upgrade pip
say "installing the toolkit and its pinned dependencies into .venv (TensorFlow, LiteRT, onnxruntime, OpenCV, MkDocs)"
pip_quietly .venv/bin/python -m pip install -q -e ".[all]" -c constraints.txt
# The device install and the test tools only, in .venv-edge: the edge tier (pytest -m edge) runs there, which proves
# that the device side needs no TensorFlow.
if [ ! -x .venv-edge/bin/python ]; then
    say "creating .venv-edge (the device install, for the edge tier of the tests)"
    python3 -m venv .venv-edge
fi
pip_quietly .venv-edge/bin/python -m pip install -q --upgrade pip
pip_quietly .venv-edge/bin/python -m pip install -q -e ".[edge,test]" -c constraints.txt
# MediaPipe Tasks, in a venv of its own (its opencv-contrib-python would shadow opencv-python-headless): the tests
# check that our tflite_uint8 files load in it as is (tests/test_mediapipe.py).
if [ ! -x .venv-mediapipe/bin/python ]; then
    say "creating .venv-mediapipe (MediaPipe Tasks, for the interop test)"
    python3 -m venv .venv-mediapipe
fi
pip_quietly .venv-mediapipe/bin/python -m pip install -q mediapipe==1.2.3 -c constraints.txt
# Debian's Chromium for the browser test of `edge-classify --serve` (tests/edge/test_serve.py): Playwright drives it as
# installed, with no browser download.
if ! command -v chromium > /dev/null; then
    if [ "$(id -u)" = 0 ]; then
        say "installing Debian's chromium (for the browser test of --serve)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
    else
        echo "note: tests/edge/test_serve.py needs Debian's chromium: sudo apt-get install chromium" >&2
    fi
fi
say "done: .venv is ready (source .venv/bin/activate)"
