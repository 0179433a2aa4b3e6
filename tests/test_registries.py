"""Each format in one place: its row in the table (edge/formats.py) declares what it can do, and what does it is
registered beside its code (exporter, runner, spec writer, layer debugger). Every declared capability is implemented,
none is hidden in a branch elsewhere (a grep), and export options are checked against the formats that take them."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import patch

import pytest

from edge.errors import UserError
from edge.formats import FORMATS, RUNTIMES, Format, exports_in, format_of, output_path
from tests.conftest import REPO


SCANNED = ("edge", "convert", "train", "keras_io", "benchmarks", "scripts")  # studies/ choose what formats they measure


def _in_its_place(path: Path) -> bool:
    """The files where per-format code belongs: the table, the exporters, the runners."""
    return path.as_posix() == "edge/formats.py" or re.fullmatch(r"convert/\w+_export\.py|edge/\w+_runner\.py",
                                                                 path.as_posix()) is not None


def test_every_capability_a_format_declares_is_registered_and_none_it_lacks_is():
    from convert.diagnose import DEBUGGERS
    from convert.metadata import EMBEDDERS
    from convert.registry import EXPORTERS, option_flags
    from edge.runtime import RUNNERS

    for name, fmt in FORMATS.items():
        assert callable(EXPORTERS.find(name)), f"{name}: no @register_exporter"
        assert RUNNERS.find(fmt.runtime).__module__ == f"edge.{fmt.runtime}_runner", f"{name}: no runner"
        assert callable(EMBEDDERS.find(fmt.runtime)), f"{name}: nothing writes the spec into {fmt.runtime} files"
        assert fmt.runtime in DEBUGGERS or not fmt.int8, f"{name}: int8, but {fmt.runtime} has no layer debugger"
        assert fmt.int8 >= fmt.recoverable, f"{name}: recovery keeps int8 activations in float"
        assert fmt.io in ("int8", "uint8", "float32") and not (fmt.reference and fmt.int8), name
        assert not fmt.standard_metadata or fmt.runtime == "tflite", f"{name}: TFLite Metadata is a TFLite thing"
        for key, option in fmt.options.items():
            values, text = option_flags()[key]
            assert values == option.values and f"{name}: {option.help}" in text, f"{name}: --{key} not offered"
    assert set(EXPORTERS) == set(FORMATS) and set(RUNNERS) == set(RUNTIMES)


def test_a_format_is_told_by_its_name_a_folder_only_where_it_is_one(tmp_path):
    folder = tmp_path / "muffins.tflite"
    folder.mkdir()
    with pytest.raises(UserError, match="muffins.tflite: the edge runtime runs .onnx and .tflite files, not this one"):
        format_of(folder)
    folder_format = Format("folder_fmt", ".ir", "onnx", "onnxruntime", "a folder format", folder=True)
    (tmp_path / "muffins.ir").mkdir()
    (tmp_path / "muffins.int8.onnx").write_bytes(b"")
    with patch.dict(FORMATS, {"folder_fmt": folder_format}):
        assert format_of(tmp_path / "muffins.ir") is folder_format and output_path(tmp_path, "m", folder_format).name == "m.ir"
        assert [p.name for p in exports_in(tmp_path)] == ["muffins.int8.onnx", "muffins.ir"]
    assert [p.name for p in exports_in(tmp_path)] == ["muffins.int8.onnx"]


def test_no_per_format_branch_or_tuple_outside_the_table_exporters_and_runners():
    names, runtimes = "|".join(map(re.escape, FORMATS)), "|".join(map(re.escape, RUNTIMES))
    patterns = {
        "runtime branch": rf"""runtime\s*(?:==|!=)\s*["']|runtime\s+(?:not\s+)?in\s|(?:==|!=)\s*["'](?:{runtimes})["']""",
        "format-name branch": rf"""(?:==|!=)\s*["'](?:{names})["']|["'](?:{names})["']\s*(?:==|!=)""",
        "tuple of format names": rf"""["'](?:{names})["']\s*,\s*["'](?:{names})["']""",
        "tuple of runtimes": rf"""[(\[{{]\s*["'](?:{runtimes})["']\s*,\s*["'](?:{runtimes})["']""",
        "tuple of file endings": r"""["']\.(?:keras|tflite|onnx)["']\s*,\s*["']\.(?:keras|tflite|onnx)["']""",
    }
    found = []
    for folder in SCANNED:
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO)
            if _in_its_place(relative):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found += [f"{relative}:{number}: {what}: {line.strip()}" for what, pattern in patterns.items()
                          if re.search(pattern, line)]
    assert not found, "per-format behaviour belongs on the format's row or its registration:\n" + "\n".join(found)


def _dtype(name: str) -> str:
    """A tensor type as numpy names it (ONNX says tensor(float))."""
    inner = name.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32"}.get(inner, inner)


@pytest.mark.slow
def test_every_export_has_what_its_row_declares(exported):
    """On a real export of every format: the spec and checksum its runtime's embedder wrote, TFLite Metadata where
    declared and only there, the declared input type, and float references that are float."""
    from edge import runtime
    from edge.metadata import tflite_entry

    out_dir, report = exported
    for name, fmt in FORMATS.items():
        path = output_path(out_dir, "muffins", fmt)
        runner = runtime.load(path, 1)
        assert runner.format is fmt and runner.spec.checksum == "crc32" and runner.spec.provenance.parity, name
        tensors = runner.describe()
        types = {_dtype(tensors[side][0]["dtype"]) for side in ("inputs", "outputs")}
        assert types == {fmt.io}, (name, types)
        if fmt.runtime == "tflite":
            assert bool(tflite_entry(path.read_bytes(), "TFLITE_METADATA")) == fmt.standard_metadata, name
        if fmt.reference:
            assert "scale" not in tensors["inputs"][0], f"{name}: a float reference has a float input"


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
