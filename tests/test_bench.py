"""edge-bench on two real exported models: every column present and sane, results written."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE


def test_bench_tflite_and_onnx(exported, cli, tmp_path):
    from benchmarks.bench import COLUMNS, app

    out_dir, _ = exported
    models = [out_dir / "muffins.tflite", out_dir / "muffins.onnx"]
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(models[0]), "-m", str(models[1]), "--data", str(SAMPLE / "test"),
                              "--threads", "1,2", "--runs", "20", "--warmup", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["machine"]["cores"] >= 1 and "ai-edge-litert" in report["machine"]["packages"]
    rows = report["rows"]
    assert [(r["model"], r["threads"]) for r in rows] == [(m.name, t) for m in models for t in (1, 2)]
    for row in rows:
        assert row["status"] == "ok"
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["runs"] == 20 and row["preprocess_ms"] > 0
        assert row["size_mb"] == round((out_dir / row["model"]).stat().st_size / 1e6, 3)
    accuracies = [r["accuracy"] for r in rows if r["threads"] == 2]
    assert len(accuracies) == 2 and all(0 <= a <= 1 for a in accuracies)
    table = out.with_suffix(".md").read_text()
    assert table.startswith("Machine:") and all(column in table for column in COLUMNS)


def test_bench_reports_unreadable_model_in_its_row(exported, cli, tmp_path):
    from benchmarks.bench import app

    out_dir, _ = exported
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(broken), "-m", str(out_dir / "muffins.tflite"), "--images", str(SAMPLE / "test"),
                              "--threads", "1", "--runs", "10", "--warmup", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert rows[0]["status"].startswith("error:") and "broken.onnx" in rows[0]["status"]
    assert rows[1]["status"] == "ok" and rows[1]["median_ms"] > 0
