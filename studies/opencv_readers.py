"""Does a static batch of 1 widen which OpenCV builds read our ONNX files? For each .keras given: the float ONNX as
`convert quantize` writes it (dynamic batch) and the same model exported with a batch of 1, each opened with
`cv2.dnn.readNetFromONNX` by every Python given (e.g. a venv with opencv-python-headless 4.6, Debian Bookworm's
version) and run on real photos; its scores compared with onnxruntime's, and onnxruntime's latency for both files.

    python studies/opencv_readers.py --keras runs/muffins/muffins.keras --keras /tmp/base48/muffins.keras \\
        --python .venv/bin/python --python /tmp/cv46/bin/python --images data/sample/muffin-chihuahua/test \\
        --out benchmarks/results/opencv_readers
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

import numpy as np
import typer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results import write_results  # noqa: E402
from edge.folders import any_images  # noqa: E402
from edge.preprocess import prepare, read_image  # noqa: E402
from edge.tables import markdown  # noqa: E402

READER = """
import json, re, sys, numpy as np, cv2
path, inputs = sys.argv[1], np.load(sys.argv[2])
try:
    net = cv2.dnn.readNetFromONNX(path)
    outputs = []
    for x in inputs:
        net.setInput(x[None])
        outputs.append(net.forward().ravel().tolist())
    print(json.dumps({"opencv": cv2.__version__, "outputs": outputs}))
except cv2.error as exc:
    node = re.search(r"Node \[(\w+)@[^]]*\]", str(exc))
    print(json.dumps({"opencv": cv2.__version__, "error": f"error at its {node.group(1)} node" if node else
                      str(exc).strip().splitlines()[0][:120]}))
"""


def _export(model, spec, path: Path, batch) -> None:
    import tensorflow as tf

    signature = [tf.TensorSpec([batch, *spec.input_shape], tf.float32, name="image")]
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(path), format="onnx", input_signature=signature, opset_version=17)


def _latency_ms(path: Path, inputs: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for x in inputs[:5]:
        session.run(None, {name: x[None]})
    times = []
    for _ in range(5):
        for x in inputs:
            started = time.perf_counter()
            session.run(None, {name: x[None]})
            times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def main(keras: List[Path] = typer.Option(...), python: List[str] = typer.Option(...), images: Path = typer.Option(...),
         out: Path = typer.Option(Path("benchmarks/results/opencv_readers"))):
    import onnxruntime as ort

    from keras_io import archive

    rows = []
    with tempfile.TemporaryDirectory() as work:
        for path in keras:
            model, spec = archive.load(path)
            inputs = np.stack([prepare(read_image(p), spec) for p in any_images(images)[:20]]).astype(np.float32)
            np.save(Path(work) / "inputs.npy", inputs)
            for batch in (None, 1):
                onnx_path = Path(work) / f"{path.parent.name}-{batch or 'dynamic'}.onnx"
                _export(model, spec, onnx_path, batch)
                session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
                reference = np.stack([session.run(None, {"image": x[None]})[0].ravel() for x in inputs])
                row = {"model": f"{path.parent.name} ({model.count_params()} parameters)",
                       "batch": "dynamic" if batch is None else "1",
                       "onnxruntime_ms": round(_latency_ms(onnx_path, inputs), 3)}
                for interpreter in python:
                    done = subprocess.run([interpreter, "-c", READER, str(onnx_path), str(Path(work) / "inputs.npy")],
                                          capture_output=True, text=True, timeout=300)
                    answer = json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else \
                        {"opencv": interpreter, "error": f"crashed (exit {done.returncode})"}
                    verdict = answer.get("error") or \
                        f"runs, max diff {np.abs(np.asarray(answer['outputs']) - reference).max():.1e}"
                    row[f"opencv {answer['opencv']}"] = verdict
                rows.append(row)
    text = (f"Float ONNX files of each model, dynamic batch (as `convert quantize` writes them) and a batch of 1, read by "
            f"`cv2.dnn.readNetFromONNX` and run on {len(inputs)} real photos; max diff against onnxruntime's scores; "
            "onnxruntime's median latency per image, 1 image at a time.\n\n" + markdown(rows, list(rows[0])) + "\n")
    print(write_results(out, {"rows": rows}, text))


if __name__ == "__main__":
    typer.run(main)
