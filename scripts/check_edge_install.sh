#!/usr/bin/env bash
# The device installs, each in a fresh venv: `.[edge]` (both runtimes), `.[edge-tflite]` and `.[edge-onnx]` (one).
# None may pull TensorFlow or Keras; each command starts; a model for the missing runtime, and `train` or
# `convert quantize`, get one line naming the pip command (exit 2), never a traceback.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/empty.tflite"
: > "$work/empty.onnx"

expect_line() {  # expect_line TEXT COMMAND...: exit 2 and TEXT in its one error line
    local text=$1 out code=0
    shift
    out=$("$@" 2>&1) || code=$?
    if [ "$code" != 2 ] || ! grep -q -- "$text" <<< "$out" || grep -q Traceback <<< "$out"; then
        echo "error: '$*' gave exit $code, expected 2 with '$text':" >&2
        echo "$out" | tail -5 >&2
        exit 1
    fi
}

for extra in edge edge-tflite edge-onnx; do
    venv="$work/$extra"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q ".[$extra]" -c constraints.txt
    packages=$("$venv/bin/python" -m pip list 2>/dev/null)
    if grep -iqE "^(tensorflow|tensorflow-cpu|keras|tf-keras) " <<< "$packages"; then
        echo "error: the $extra extra pulled TensorFlow or Keras" >&2
        exit 1
    fi
    "$venv/bin/edge-classify" --help > /dev/null
    "$venv/bin/edge-bench" --help > /dev/null
    "$venv/bin/edge-classify" --version > /dev/null
    expect_line "pip install 'edge-classifier-toolkit\[train\]'" "$venv/bin/train" muffins --data data/sample/muffin-chihuahua --out "$work/run"
    expect_line "pip install 'edge-classifier-toolkit\[train\]'" "$venv/bin/convert" quantize "$work/m.keras" --data "$work"
    case $extra in
        edge-tflite)
            ! grep -iq "^onnxruntime " <<< "$packages" || { echo "error: edge-tflite pulled onnxruntime" >&2; exit 1; }
            expect_line "needs onnxruntime: pip install onnxruntime" "$venv/bin/edge-classify" --model "$work/empty.onnx" --images data/sample ;;
        edge-onnx)
            ! grep -iq "^ai-edge-litert " <<< "$packages" || { echo "error: edge-onnx pulled ai-edge-litert" >&2; exit 1; }
            expect_line "needs a TFLite runtime: pip install ai-edge-litert" "$venv/bin/edge-classify" --model "$work/empty.tflite" --images data/sample ;;
    esac
    echo "$extra install: $(du -sh "$venv" | cut -f1), no TensorFlow; edge-classify and edge-bench start; train and convert quantize say what to install"
done
