"""edge-bench on two real device_models models: every column present and sane, results written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SAMPLE


def test_bench_tflite_and_onnx(device_models, cli, tmp_path):
    from benchmarks.bench import COLUMNS, app

    out_dir, _ = device_models
    models = [out_dir / "muffins.tflite", out_dir / "muffins.onnx"]
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(models[0]), "-m", str(models[1]), "--data", str(SAMPLE / "test"),
                              "--threads", "1", "--threads", "2", "--runs", "20", "--warmup", "2", "--direct", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["machine"]["cores"] >= 1 and "ai-edge-litert" in report["machine"]["packages"]
    assert report["complete"] and report["peak_rss_mb"] > 50
    rows = report["rows"]
    ours = [r for r in rows if not r["runtime"].endswith("direct")]
    direct = [r for r in rows if r["runtime"].endswith("direct")]
    assert [(r["model"], r["threads"]) for r in ours] == [(m.name, t) for m in models for t in (1, 2)]
    assert [(r["model"], r["threads"]) for r in direct] == [(models[0].name, 1), (models[0].name, 2)]
    for row in rows:
        assert row["status"] == "ok"
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["runs"] == 20 and row["size_mb"] == round((out_dir / row["model"]).stat().st_size / 1e6, 3)
    for row in ours:
        assert row["preprocess_ms"] > 0 and row["load_ms"] > 0 and row["rss_mb"] is not None
    by_key = {(r["model"], r["threads"], r["runtime"].endswith("direct")): r for r in rows}
    for threads in (1, 2):
        mine, bare = by_key[(models[0].name, threads, False)], by_key[(models[0].name, threads, True)]
        assert mine["overhead_vs_direct"] == round(mine["median_ms"] / bare["median_ms"], 3)
    two = [r for r in ours if r["threads"] == 2]
    assert all(0 <= r["accuracy"] <= 1 and r["reference"] == "muffins.onnx" for r in two)
    assert next(r for r in two if r["model"] == "muffins.onnx")["agreement"] == 1.0
    table = out.with_suffix(".md").read_text()
    classifier_columns = [c for c in COLUMNS if c not in ("mse", "max_abs_diff")]
    assert table.startswith("Machine:") and all(column in table for column in classifier_columns) and "| mse" not in table
    assert out.with_suffix(".csv").read_text().startswith("model,") and len(out.with_suffix(".csv").read_text().splitlines()) == 7
    chart = cv2.imread(str(out.with_suffix(".png")))
    assert chart is not None and chart.shape == (560, 900, 3)


def test_compare_two_runs(device_models, cli, tmp_path):
    from benchmarks.bench import app

    out_dir, _ = device_models
    for name in ("a", "b"):
        result = cli.invoke(app, ["-m", str(out_dir / "muffins.tflite"), "--images", str(SAMPLE / "test"),
                                  "--threads", "1", "--runs", "10", "--warmup", "1", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[-1].split("|")
    a_ms, b_ms, ratio = float(row[4]), float(row[5]), float(row[6])
    assert row[1].strip() == "muffins.tflite" and ratio == pytest.approx(b_ms / a_ms, rel=0.01)
    installed = subprocess.run([str(Path(sys.executable).parent / "edge-bench"), "compare", str(tmp_path / "a.json"),
                                str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert installed.returncode == 2 and "nope.json: not an edge-bench JSON file" in installed.stderr


def test_bench_reports_unreadable_model_in_its_row(device_models, cli, tmp_path):
    from benchmarks.bench import app

    out_dir, _ = device_models
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    out = tmp_path / "bench"
    result = cli.invoke(app, ["-m", str(broken), "-m", str(out_dir / "muffins.tflite"), "--images", str(SAMPLE / "test"),
                              "--threads", "1", "--runs", "10", "--warmup", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert rows[0]["status"].startswith("error:") and "broken.onnx" in rows[0]["status"]
    assert rows[1]["status"] == "ok" and rows[1]["median_ms"] > 0


def test_pipeline_times_every_stage_on_a_real_video(device_models, tmp_path):
    out_dir, _ = device_models
    out = tmp_path / "pipeline"
    result = subprocess.run([str(Path(sys.executable).parent / "edge-bench"), "pipeline", "-m", str(out_dir / "muffins.tflite"),
                             "-m", str(out_dir / "muffins.int8.onnx"), "--images", str(SAMPLE / "test"), "--frames", "120",
                             "--threads", "1", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [(r["model"], r["mode"]) for r in rows] == [(m, mode) for m in ("muffins.tflite", "muffins.int8.onnx")
                                                       for mode in ("sequential", "capture thread")]
    assert "Traceback" not in result.stderr and not result.stderr.count("reopening")
    for row in rows:
        stages = [row[f"{s}_ms"] for s in ("capture", "preprocess", "invoke", "postprocess")]
        timed = stages if row["mode"] == "sequential" else stages[1:]  # a capture thread's newest frame may be ready
        assert all(t > 0 for t in timed) and row["frames"] == 120
        assert sum(stages) == pytest.approx(row["frame_ms"], rel=0.5)
        assert 0 < row["not_invoke_share"] < 1 and row["rss_mb_start"] > 0


@pytest.mark.parametrize("threads", [["x"], ["0"], ["1", "-2"]])
def test_a_thread_count_that_is_not_one_is_one_line(device_models, cli, threads):
    from benchmarks.bench import app

    flags = [part for count in threads for part in ("--threads", count)]
    result = cli.invoke(app, ["-m", str(device_models[0] / "muffins.tflite"), "--data", str(SAMPLE / "test"), *flags])
    assert result.exit_code == 2 and "give a thread count, repeated for more: --threads 1 --threads 2" in result.output


def test_bench_under_a_camera_corruption(device_models, cli, tmp_path):
    """--corrupt corrupts every photo before the runner sees it: accuracy under it, and a clear refusal of a bad one."""
    from benchmarks.bench import app

    out_dir, _ = device_models
    accuracy = {}
    for corruption in (None, "dark:5"):
        out = tmp_path / f"bench-{corruption}"
        result = cli.invoke(app, ["-m", str(out_dir / "muffins.tflite"), "--data", str(SAMPLE / "test"), "--threads", "1",
                                  "--runs", "5", "--warmup", "1", "--out", str(out),
                                  *(["--corrupt", corruption] if corruption else [])])
        assert result.exit_code == 0, result.output
        report = json.loads(out.with_suffix(".json").read_text())
        assert report["corruption"] == corruption
        accuracy[corruption] = report["rows"][0]["accuracy"]
    assert accuracy["dark:5"] != accuracy[None], "a photo at 22% of its brightness is classified differently"
    bad = cli.invoke(app, ["-m", str(out_dir / "muffins.tflite"), "--data", str(SAMPLE / "test"), "--corrupt", "fog:2"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --corrupt 'fog:2': give FAMILY:SEVERITY")


def test_moving_camera_scores_every_frame_against_the_photo_filmed(device_models, tmp_path):
    from benchmarks.moving_camera import classify, make_clip, score

    out_dir, _ = device_models
    clip = make_clip(SAMPLE / "test", tmp_path / "moving.avi", per_class=3, hold_s=1.0, fps=10, size=(320, 240))
    assert len(clip.labels) == 60 and clip.cuts == list(range(0, 60, 10)) and set(clip.labels) == {"chihuahua", "muffin"}
    capture = cv2.VideoCapture(str(clip.path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 60 and capture.read()[1].shape == (240, 320, 3)
    rows = {}
    for smooth in (1, 5):
        labels = classify(out_dir / "muffins.tflite", clip, smooth, threads=1)
        rows[smooth] = score(labels, clip, smooth)
        right = np.array(labels) == np.array(clip.labels)
        assert rows[smooth]["accuracy"] == round(right.mean(), 6) and rows[smooth]["frames"] == 60
        assert rows[smooth]["settled_accuracy"] == round(right[np.arange(60) % 10 >= 5].mean(), 6)
    assert rows[5]["label_changes"] <= rows[1]["label_changes"], "averaging over 5 frames flickers less"
