"""The edge package never imports TensorFlow: with it blocked, `import edge` and a full classify run still work."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import BLOCKED_RUN, REPO, SAMPLE


def test_classify_runs_with_tensorflow_blocked(device_models):
    out_dir, _ = device_models
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

