"""The edge package never imports TensorFlow: with it blocked, `import edge` and a full classify run still work."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, SAMPLE

BLOCKED_RUN = """
import sys
sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
sys.modules["keras"] = None
sys.argv = ["edge-classify", "--model", sys.argv[1], "--images", sys.argv[2], "--json"]
import edge.classify
try:
    edge.classify.main()
except SystemExit as exc:
    assert not exc.code, exc.code
assert not any(name.split(".")[0] in ("tensorflow", "keras") for name, m in sys.modules.items() if m is not None)
"""


def test_classify_runs_with_tensorflow_blocked(exported):
    out_dir, _ = exported
    for model in ("muffins.tflite", "muffins.int8.onnx"):
        result = subprocess.run([sys.executable, "-c", BLOCKED_RUN, str(out_dir / model), str(SAMPLE / "test")],
                                capture_output=True, text=True, cwd=REPO, timeout=300)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.splitlines()[-1])["summary"]
        assert summary["frames"] == 100


def test_edge_modules_do_not_import_tensorflow():
    code = ("import sys, importlib, pkgutil, edge, benchmarks\n"
            "for pkg in (edge, benchmarks):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__): importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


FALLBACK_RUN = """
import sys
sys.modules["ai_edge_litert"] = None  # neither light runtime installed: a workstation with only TensorFlow
sys.modules["ai_edge_litert.interpreter"] = None
sys.modules["tflite_runtime"] = None
sys.argv = ["edge-classify", "--model", sys.argv[1], "--images", sys.argv[2], "--json"]
import edge.classify
try:
    edge.classify.main()
except SystemExit as exc:
    assert not exc.code, exc.code
"""


def test_tflite_falls_back_to_tf_lite_and_says_so(exported):
    out_dir, report = exported
    result = subprocess.run([sys.executable, "-c", FALLBACK_RUN, str(out_dir / "muffins.tflite"), str(SAMPLE / "test")],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["runtime"].startswith("tensorflow ") and summary["runtime"].endswith("tf.lite")
    parity = {row["format"]: row["accuracy"] for row in report["rows"]}
    assert 100 * summary["accuracy"] == parity["tflite_int8"]
