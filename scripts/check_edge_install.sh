#!/usr/bin/env bash
# The installs a user makes, each in a fresh venv:
# - bare `pip install .` (no extra): every command answers with one line naming the pip command that adds what it
#   needs (exit 2), never a traceback;
# - the device installs `.[edge]` and `.[edge-onnx]` from the checkout, and `[edge-tflite]` from a built wheel, as
#   the README's Raspberry Pi lines do: none may pull TensorFlow or Keras; each command starts; a model for the
#   missing runtime, and `train` or `convert quantize`, get one line naming the pip command (exit 2).
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
    if [ "$code" != 2 ] || ! grep -qF -- "$text" <<< "$out" || grep -q Traceback <<< "$out" || [ "$(wc -l <<< "$out")" != 1 ]; then
        echo "error: '$*' gave exit $code, expected 2 with one line holding '$text':" >&2
        echo "$out" | tail -5 >&2
        exit 1
    fi
}

fresh_venv() {  # fresh_venv NAME: a new venv with an up-to-date pip
    python3 -m venv "$work/$1"
    "$work/$1/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
}

fresh_venv bare
"$work/bare/bin/python" -m pip install -q . -c constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
for command in edge-classify edge-bench train edge-train convert edge-convert; do
    extra=$([ "${command#edge-}" = classify ] || [ "${command#edge-}" = bench ] && echo edge || echo train)
    expect_line "error: $command needs OpenCV, which this install lacks: $work/bare/bin/pip install '$PWD[$extra]'" \
        "$work/bare/bin/$command" --help
done
echo "bare install: every command says in one line which extra to install"

"$work/bare/bin/python" -m pip wheel -q --no-deps -w "$work/dist" . 2>&1 | grep -v "^WARNING: Location" || true
wheel=$(ls "$work"/dist/edge_classifier_toolkit-*.whl)
for extra in edge edge-tflite edge-onnx; do
    venv="$work/$extra"
    fresh_venv "$extra"
    source_spec=$([ "$extra" = edge-tflite ] && echo "$wheel" || echo "$PWD")
    "$venv/bin/python" -m pip install -q "$source_spec[$extra]" -c constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
    packages=$("$venv/bin/python" -m pip list 2>/dev/null)
    if grep -iqE "^(tensorflow|tensorflow-cpu|keras|tf-keras) " <<< "$packages"; then
        echo "error: the $extra extra pulled TensorFlow or Keras" >&2
        exit 1
    fi
    "$venv/bin/edge-classify" --help > /dev/null
    "$venv/bin/edge-bench" --help > /dev/null
    "$venv/bin/edge-classify" --version > /dev/null
    expect_line "pip install '$source_spec[train]'" "$venv/bin/train" muffins --data data/sample/muffin-chihuahua --out "$work/run"
    expect_line "pip install '$source_spec[train]'" "$venv/bin/convert" quantize "$work/m.keras" --data "$work"
    case $extra in
        edge-tflite)
            ! grep -iq "^onnxruntime " <<< "$packages" || { echo "error: edge-tflite pulled onnxruntime" >&2; exit 1; }
            expect_line "needs onnxruntime: pip install onnxruntime" "$venv/bin/edge-classify" --model "$work/empty.onnx" --images data/sample ;;
        edge-onnx)
            ! grep -iq "^ai-edge-litert " <<< "$packages" || { echo "error: edge-onnx pulled ai-edge-litert" >&2; exit 1; }
            expect_line "needs a TFLite runtime: pip install ai-edge-litert" "$venv/bin/edge-classify" --model "$work/empty.tflite" --images data/sample ;;
    esac
    echo "$extra install (from $([ "$extra" = edge-tflite ] && echo the wheel || echo the checkout)): $(du -sh "$venv" | cut -f1), no TensorFlow; edge-classify and edge-bench start; train and convert quantize say what to install"
done
