"""Formats, exporters and runners meet in registries: every row of the format table has both, and export options
are checked against the formats that take them."""

from __future__ import annotations

import pytest

from edge.formats import FORMATS


def test_every_format_has_a_registered_exporter_and_runner():
    from convert.registry import EXPORTERS
    from edge.runtime import RUNNERS

    for name, fmt in FORMATS.items():
        assert callable(EXPORTERS.find(name)), name
        assert RUNNERS.find(fmt.runtime).__name__.lower().startswith(fmt.runtime), name
    assert set(EXPORTERS) == set(FORMATS) and set(RUNNERS) == {f.runtime for f in FORMATS.values()}


@pytest.mark.slow
def test_an_option_no_chosen_format_takes_is_refused_before_anything_is_written(cli, tmp_path):
    from convert.cli import app

    out = tmp_path / "out"
    result = cli.invoke(app, ["quantize", str(tmp_path / "m.keras"), "--data", str(tmp_path), "--out-dir", str(out),
                              "--formats", "tflite_int8", "--target", "arm64"])
    assert result.exit_code == 2 and "--target: only onnx_int8 takes it, and --formats has none of them" in result.output
    assert not out.exists()


def test_options_default_to_the_first_allowed_value_and_bad_values_are_named():
    import pytest

    from convert.registry import resolved_options
    from edge.errors import UserError

    assert resolved_options(["tflite_int8", "onnx_int8"], {}) == {"target": "any"}
    assert resolved_options(["onnx_int8"], {"target": "arm64"}) == {"target": "arm64"}
    assert resolved_options(["tflite_int8"], {}) == {}
    with pytest.raises(UserError, match="--target x86: choose from any, arm64"):
        resolved_options(["onnx_int8"], {"target": "x86"})


@pytest.mark.slow
def test_quantize_is_one_library_call_that_returns_the_report(trained, tmp_path):
    from convert import quantize
    from convert.parity import Thresholds
    from tests.conftest import SAMPLE

    lines = []
    report = quantize(trained, SAMPLE / "test", tmp_path, ["tflite_int8"], Thresholds(), say=lines.append)
    assert [row["format"] for row in report["rows"]] == ["keras (float)", "tflite_int8"]
    assert report["passed"] == (not report["rows"][1]["failures"]) and (tmp_path / "muffins.tflite").is_file()
    assert lines[-1].startswith("tflite_int8: ") and (tmp_path / "parity.json").is_file()
