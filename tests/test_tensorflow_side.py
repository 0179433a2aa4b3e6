"""The device side where TensorFlow is involved: edge-bench with a .keras reference, edge-classify on TensorFlow's
tf.lite when no light runtime is installed, and the parity tables of a real convert run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, SAMPLE, classify_run

pytestmark = pytest.mark.slow

FALLBACK_RUN = classify_run("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime")  # only TensorFlow


def test_bench_a_folder_of_exports_with_the_keras_reference(exported, trained, cli, tmp_path):
    import shutil

    from benchmarks.bench import app

    out_dir, parity = exported
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("muffins.tflite", "muffins.int8.onnx"):
        shutil.copy(out_dir / name, folder)
    shutil.copy(trained, folder)
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(folder), "--data", str(SAMPLE / "test"), "--threads", "1", "--runs", "10",
                              "--warmup", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["muffins.keras", "muffins.tflite", "muffins.int8.onnx"]
    keras_row = rows[0]
    assert keras_row["format"] == "keras" and keras_row["runtime"].startswith("keras ") and keras_row["median_ms"] > 0
    accuracy = {row["format"]: row["accuracy"] for row in parity["rows"]}
    float_accuracy = next(row["accuracy"] for row in parity["rows"] if row["format"].startswith("keras"))
    assert keras_row["accuracy"] == pytest.approx(float_accuracy) and keras_row["agreement"] == 1.0
    assert rows[1]["accuracy"] == pytest.approx(accuracy["tflite_int8"]) and rows[1]["reference"] == "muffins.keras"


def test_tflite_falls_back_to_tf_lite_and_says_so(exported):
    out_dir, report = exported
    result = subprocess.run([sys.executable, "-c", FALLBACK_RUN, str(out_dir / "muffins.tflite"), str(SAMPLE / "test")],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["runtime"].startswith("tensorflow ") and summary["runtime"].endswith("tf.lite")
    parity = {row["format"]: row["accuracy"] for row in report["rows"]}
    assert summary["accuracy"] == pytest.approx(parity["tflite_int8"])


def test_the_parity_table_fits_a_terminal_and_parity_md_has_every_column(exported):
    from convert.tables import COLUMNS, terminal_table

    out_dir, report = exported
    table = terminal_table(report).splitlines()
    assert len(table) == len(report["rows"]) + 1 and max(map(len, table)) <= 100
    assert all(row["format"] in line for row, line in zip(report["rows"], table[1:]))
    page = (out_dir / "parity.md").read_text()
    assert page.splitlines()[0] == "| " + " | ".join(COLUMNS["classification"]) + " |"
    assert len(page.splitlines()) == len(report["rows"]) + 2 and "%" in page.splitlines()[2]
