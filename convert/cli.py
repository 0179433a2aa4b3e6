"""`convert`: export a .keras model to TFLite and ONNX with the spec inside, and gate on parity with the float model."""

from __future__ import annotations

import inspect as inspect_module
import json
import tomllib
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from convert.parity import ADVICE, GATE_ON, Thresholds
from convert.registry import option_flags, resolved_options
from edge import ROBUSTNESS_IMAGES, ROBUSTNESS_SEVERITIES
from edge.atomic import one_run_at_a_time, writable_folder
from convert.tables import terminal_table
from edge.console import add_command, command_app, library_output_to, user_errors, version_option
from edge.errors import UserError
from edge.folders import held_out
from edge.reading import small_text
from edge.formats import DEFAULT_FORMATS, FORMATS
from edge.spec import finite_number
from edge.tables import aligned
from keras_io.archive import checked_spec
from keras_io.startup import require_training

app = command_app(__doc__, no_args_is_help=True)


@app.callback()
def _options(version: bool = version_option()):
    pass


GateOn = Enum("GateOn", {value: value for value in GATE_ON}, type=str)  # --gate-on

LOG_NAME = "convert.log"  # what TensorFlow and the converters print, unless --debug
CALIB_COUNT = 256


def _parse_formats(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UserError(f"--formats: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(FORMATS)}")
    return names


def _parse_severities(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part in "12345" and len(part) == 1 for part in parts):
        raise UserError(f"--robustness-severities {text}: give severities from 1 to 5, comma-separated, e.g. 3 or 1,3,5")
    return tuple(sorted({int(part) for part in parts}))


def list_formats():
    """Show the export formats: name, file, the runtime a device needs, whether it is a default, and what it is."""
    import textwrap

    rows = [{"name": f.name, "file": f"MODEL{f.suffix}", "runs on": f.needs,
             "default": "yes" if f.name in DEFAULT_FORMATS else ""} for f in FORMATS.values()]
    lines = aligned(rows, {key: key for key in ("name", "file", "runs on", "default")}).splitlines()
    typer.echo(lines[0])
    for line, fmt in zip(lines[1:], FORMATS.values()):
        typer.echo(line)
        typer.echo(textwrap.fill(fmt.description, 96, initial_indent="    ", subsequent_indent="    "))


FAILURE_KEYS = ("explain", "recover", "recover_max_float")  # [parity] keys beside the thresholds


def _settings(config: Optional[Path], **flags) -> tuple[Thresholds, dict]:
    """(thresholds, the int8-failure settings): flags win over the config file's [parity] table, which wins over the
    built-in defaults."""
    values = {}
    if config is not None:
        text = small_text(config, "--config")
        try:
            values = tomllib.loads(text).get("parity", {})
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise UserError(f"--config {config}: cannot read it as TOML ({str(exc) or 'nested too deep'}); see "
                            "docs/guides/ci-gate.md for the [parity] table") from None
        if not isinstance(values, dict):
            raise UserError(f"--config {config}: [parity] must be a table of settings, not {values!r}; see "
                            "docs/guides/ci-gate.md")
        known = [*Thresholds.__dataclass_fields__, *FAILURE_KEYS]
        unknown = set(values) - set(known)
        if unknown:
            raise UserError(f"--config {config}: unknown keys {sorted(unknown)}; use {', '.join(known)}")
    merged = values | {k: v for k, v in flags.items() if v is not None}
    for key, kind in (("explain", bool), ("recover", bool), ("recover_max_float", (int, float))):
        if key in merged and (not isinstance(merged[key], kind) or (kind is not bool and isinstance(merged[key], bool))):
            raise UserError(f"--{key.replace('_', '-')} (or {key} in the [parity] table): {merged[key]!r}; give "
                            + ("true or false" if kind is bool else "a number: a fraction of the ops below 1, else a count"))
    if not (merged.get("recover_max_float") is None or (finite_number(merged["recover_max_float"])
                                                        and merged["recover_max_float"] > 0)):
        raise UserError(f"--recover-max-float: {merged['recover_max_float']!r}; give a fraction of the model's ops "
                        "(e.g. 0.1) or a count (e.g. 4)")
    failures = {key: merged.pop(key) for key in FAILURE_KEYS if key in merged}
    return Thresholds(**merged), failures


def _print_report(report: dict, json_summary: bool, out_dir: Path) -> None:
    """The table (or JSON) on stdout; notes, failures with advice, or the one-line summary on stderr."""
    rows = report["rows"]
    typer.echo(json.dumps(report, indent=2) if json_summary else terminal_table(report))
    for row in rows:
        if row.get("note"):
            typer.echo(f"note: {row['note']}", err=True)
    if not report["passed"]:
        for row in rows:
            for failure in row.get("failures", []):
                typer.echo(f"parity failed: {row['format']}: {failure}", err=True)
        typer.echo(f"advice: {ADVICE}", err=True)
        raise typer.Exit(1)
    files = ", ".join(row["file"] for row in rows[1:])
    typer.echo(f"parity gate passed for {len(rows) - 1} export(s): {files} in {out_dir}/, with parity.json and "
               f"parity.md (every column; library output: {LOG_NAME})", err=True)


def quantize(
    model_path: Path = typer.Argument(..., metavar="MODEL.keras", help="Model written by `train`."),
    data: Optional[Path] = typer.Option(None, help="Held-out data for the parity check: one folder per class (a data "
                                        "root with train/ and test/: its test/), or an .npz with x and y [default: "
                                        "what `train` held out, as the model records it]."),
    out_dir: Path = typer.Option(Path("models"), "--out", "--out-dir", help="Folder for the exports, parity.json and "
                                 "convert.log (as train's --out is its run folder)."),
    formats: str = typer.Option(",".join(DEFAULT_FORMATS), help=f"Comma-separated, from: {', '.join(FORMATS)}."),
    calib: Optional[Path] = typer.Option(None, help="Calibration data, class folders or .npz [default: the model's training data]."),
    calib_count: int = typer.Option(CALIB_COUNT, min=1, help="How many calibration images, stratified by class."),
    max_drop: Optional[float] = typer.Option(None, help=f"Fail when an export loses more accuracy points than this [default: {Thresholds.max_drop}]."),
    min_agreement: Optional[float] = typer.Option(None, help=f"Fail when top-1 agreement with float is below this percent [default: {Thresholds.min_agreement}]."),
    max_mse_increase: Optional[float] = typer.Option(None, help=f"Regression: fail when MSE rises more than this percent [default: {Thresholds.max_mse_increase}]."),
    config: Optional[Path] = typer.Option(None, help="TOML file with a [parity] table (max_drop, min_agreement) a CI job can commit."),
    json_summary: bool = typer.Option(False, "--json", help="Print the parity report as JSON instead of a table."),
    threads: Optional[int] = typer.Option(None, min=1, help="Threads for evaluating the exports "
                                          "[default: every core]."),
    gate_on: Optional[GateOn] = typer.Option(None, help="The figures held against the thresholds: point (measured), "
                                             "upper (the pessimistic end of each 95% interval) or lower (the "
                                             "optimistic end) [default: point]."),
    explain: Optional[bool] = typer.Option(None, "--explain", help="Rank every int8 export's activations by what "
                                           "quantising them loses (done anyway when one fails the gate)."),
    recover: Optional[bool] = typer.Option(None, "--recover", help="When an int8 export fails, keep the fewest "
                                           "activations in float until it passes."),
    recover_max_float: Optional[float] = typer.Option(None, help="--recover's limit: a fraction of the model's ops "
                                                      "(below 1) or a count of ops that may run in float [default: 0.1]."),
    robustness: int = typer.Option(ROBUSTNESS_IMAGES, min=0, help="Test images evaluated under every camera "
                                   "corruption, through each export's runtime (parity.json: robustness; "
                                   "docs/guides/camera-robustness.md); 0: none."),
    robustness_severities: str = typer.Option(",".join(map(str, ROBUSTNESS_SEVERITIES)), help="Comma-separated corruption "
                                              "severities (1 mild to 5 severe) --robustness runs at; 1,3,5 is the "
                                              "grid train's report shows, at three times the cost."),
    max_robust_drop: Optional[float] = typer.Option(None, help="Fail an export that loses more than this many points "
                                                    "under camera corruptions (mean over them all) beyond what the "
                                                    "float model loses on the same images [default: off]."),
    debug: bool = typer.Option(False, help="Show TensorFlow's and the converters' own output, and tracebacks."),
    **options: Optional[str],  # the export options of the format table, one --flag each (_with_option_flags)
):
    """Export MODEL.keras (int8 TFLite, fp32 and int8 ONNX by default), check each against the float model on the
    held-out data, write parity.json and parity.md; exit 0 pass, 1 parity failure, 2 bad input."""
    with user_errors(debug):
        require_training("convert quantize")
        names = _parse_formats(formats)
        severities = _parse_severities(robustness_severities)
        thresholds, failures = _settings(config, max_drop=max_drop, min_agreement=min_agreement,
                                         max_mse_increase=max_mse_increase, gate_on=gate_on.value if gate_on else None,
                                         max_robust_drop=max_robust_drop,
                                         explain=explain, recover=recover, recover_max_float=recover_max_float)
        options = resolved_options(names, {key: value.value for key, value in options.items() if value is not None})
        checked_spec(model_path)  # bad input is refused before anything is written
        data = held_out(data, "--data") if data is not None else None
        calib = held_out(calib, "--calib") if calib is not None else None
        out_dir = writable_folder(out_dir, "--out")
        with one_run_at_a_time(out_dir, "--out", "convert quantize"), library_output_to(out_dir / LOG_NAME, debug):
            from convert.export import Int8Failures, quantize as run

            report = run(model_path, data, out_dir, names, thresholds, calib, calib_count, threads, options,
                         say=lambda line: typer.echo(line, err=True), failures=Int8Failures(**failures),
                         robustness_images=robustness, robustness_severities=severities)
        _print_report(report, json_summary, out_dir)


def _with_option_flags(command):
    """COMMAND with one --KEY flag per export option of the format table (edge/formats.py), e.g. --target: a new
    option is a row's entry, not a flag written here."""
    signature = inspect_module.signature(command)
    parameters = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    for key, (values, text) in option_flags().items():
        choice = Enum(key.title(), {value: value for value in values}, type=str)
        parameters.append(inspect_module.Parameter(key, inspect_module.Parameter.KEYWORD_ONLY, annotation=Optional[choice],
                                                   default=typer.Option(None, help=text)))
    command.__signature__ = signature.replace(parameters=parameters)
    return command


quantize = _with_option_flags(quantize)


def inspect(model_path: Path = typer.Argument(..., metavar="MODEL", help=".tflite or .onnx file.")):
    """Print an exported model's embedded spec, its input/output tensors and their quantisation."""
    from edge import runtime

    with user_errors():
        runner = runtime.load(model_path, 1)
        typer.echo(json.dumps({"file": str(model_path), "format": runner.format.name, "runtime": runner.runtime,
                               "size_mb": round(model_path.stat().st_size / 1e6, 3), **runner.describe(),
                               "spec": json.loads(runner.spec.to_json())}, indent=2))


add_command(app, list_formats, "list")
add_command(app, quantize)
add_command(app, inspect)


def main():
    app()
