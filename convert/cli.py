"""`convert`: export a .keras model to TFLite and ONNX with the spec inside, and gate on parity with the float model."""

from __future__ import annotations

import json
import tomllib
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from convert import examples, keras_file
from convert.export import export_and_check
from convert.parity import ADVICE, Thresholds, reference_row
from edge import runtime
from edge.atomic import write_text
from edge.console import user_errors
from edge.errors import UserError
from edge.formats import DEFAULT_FORMATS, FORMATS
from edge.tables import markdown

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


class Target(str, Enum):
    any = "any"
    arm64 = "arm64"

PARITY_COLUMNS = {
    "classification": ["format", "file", "size_mb", "accuracy", "drop", "agreement", "disagreements", "max_abs_diff", "status"],
    "regression": ["format", "file", "size_mb", "mse", "mse_increase", "max_abs_diff", "mean_abs_diff", "status"],
}


def _parse_formats(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UserError(f"--formats: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(FORMATS)}")
    return names


def _calibration_source(calib: Optional[Path], data: Path, spec, model_path: Path) -> Path:
    """--calib, else the calibration sample beside the model (array recipes write one), else the training data
    recorded in the model, else DATA's sibling `train` folder."""
    if calib is not None:
        return calib
    candidates = [model_path.parent / spec.extra["calibration_data"]] if "calibration_data" in spec.extra else []
    candidates += [Path(spec.extra["train_data"])] if "train_data" in spec.extra else []
    if data.suffix != ".npz":
        candidates.append(data.parent / "train")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise UserError(f"no calibration data found (looked in {', '.join(map(str, candidates)) or 'nothing recorded'}); "
                    "pass --calib with training images or an .npz")


@app.command("list")
def list_formats():
    """Show the export formats."""
    rows = [{"name": f.name, "file": f"MODEL{f.suffix}", "runs on": f.needs, "default": "yes" if f.name in DEFAULT_FORMATS else "",
             "what": f.description} for f in FORMATS.values()]
    typer.echo(markdown(rows, ["name", "file", "runs on", "default", "what"]))


def _thresholds(config: Optional[Path], **flags: Optional[float]) -> Thresholds:
    """Flags win over the config file's [parity] table, which wins over the built-in defaults."""
    values = {}
    if config is not None:
        try:
            values = tomllib.loads(config.read_text()).get("parity", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"--config {config}: cannot read it as TOML ({exc}); see README for the [parity] table") from None
        unknown = set(values) - set(Thresholds.__dataclass_fields__)
        if unknown:
            raise UserError(f"--config {config}: unknown keys {sorted(unknown)}; use {', '.join(Thresholds.__dataclass_fields__)}")
    flags = {k: v for k, v in flags.items() if v is not None}
    return Thresholds(**(values | flags))


@app.command()
def quantize(
    model_path: Path = typer.Argument(..., metavar="MODEL.keras", help="Model written by `train`."),
    data: Path = typer.Option(..., help="Held-out data for the parity check: one folder per class, or an .npz with x and y."),
    out_dir: Path = typer.Option(Path("models"), help="Where the exports and parity.json go."),
    formats: str = typer.Option(",".join(DEFAULT_FORMATS), help=f"Comma-separated, from: {', '.join(FORMATS)}."),
    calib: Optional[Path] = typer.Option(None, help="Calibration data, class folders or .npz [default: the model's training data]."),
    calib_count: int = typer.Option(256, min=1, help="How many calibration images, stratified by class."),
    max_drop: Optional[float] = typer.Option(None, help=f"Fail when an export loses more accuracy points than this [default: {Thresholds.max_drop}]."),
    min_agreement: Optional[float] = typer.Option(None, help=f"Fail when top-1 agreement with float is below this percent [default: {Thresholds.min_agreement}]."),
    max_mse_increase: Optional[float] = typer.Option(None, help=f"Regression: fail when MSE rises more than this percent [default: {Thresholds.max_mse_increase}]."),
    config: Optional[Path] = typer.Option(None, help="TOML file with a [parity] table (max_drop, min_agreement) a CI job can commit."),
    json_summary: bool = typer.Option(False, "--json", help="Print the parity report as JSON instead of a table."),
    threads: Optional[int] = typer.Option(None, min=1, help="Threads for evaluating the exports."),
    target: Target = typer.Option(Target.any, help="Device the int8 ONNX scheme is chosen for: any CPU (u8 x u8: no saturation) "
                                  "or arm64 (8-bit; on x86 without VNNI the parity check here measures saturation)."),
):
    """Export MODEL.keras (int8 TFLite, fp32 and int8 ONNX by default), check each against the float model on
    --data, write parity.json; exit 0 pass, 1 parity failure, 2 bad input."""
    with user_errors():
        names = _parse_formats(formats)
        thresholds = _thresholds(config, max_drop=max_drop, min_agreement=min_agreement, max_mse_increase=max_mse_increase)
        model, spec = keras_file.load(model_path)
        spec = spec.with_extra(target=target.value)  # travels into every export; onnx_int8 picks its scheme by it
        test = examples.load(data, spec)
        calib_source = _calibration_source(calib, data, spec, model_path)
        calibration = examples.calibration(calib_source, spec, calib_count)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out-dir {out_dir}: cannot create it ({exc.strerror}); choose a writable folder") from None

        typer.echo(f"calibrating on {len(calibration)} examples from {calib_source}; "
                   f"evaluating on {len(test.targets)} from {data}", err=True)
        float_scores = model.predict(test.inputs, batch_size=32, verbose=0)
        rows = [{"format": "keras (float)", "file": model_path.name, "size_mb": model_path.stat().st_size / 1e6,
                 **reference_row(float_scores, test.targets, spec), "status": "reference"}]
        (out_dir / "parity.json").unlink(missing_ok=True)  # a report from an earlier run must not outlive a failed one
        for name in names:
            row = export_and_check(name, model, spec, calibration, test, float_scores, thresholds, out_dir,
                                    model_path.stem, threads)
            rows.append(row)
            typer.echo(f"{name}: {out_dir / row['file']} ({row['size_mb']:.2f} MB) [{row['status']}]", err=True)

        report = {"model": str(model_path), "data": str(data), "images": len(test.targets), "calibration": str(calib_source),
                  "calibration_images": len(calibration), "thresholds": thresholds.__dict__, "rows": rows,
                  "passed": all(not r.get("failures") for r in rows)}
        write_text(out_dir / "parity.json", json.dumps(report, indent=2))
        typer.echo(json.dumps(report, indent=2) if json_summary else markdown(rows, PARITY_COLUMNS["regression" if spec.task == "regression" else "classification"]))
        if not report["passed"]:
            for row in rows:
                for failure in row.get("failures", []):
                    typer.echo(f"parity failed: {row['format']}: {failure}", err=True)
            typer.echo(f"advice: {ADVICE}", err=True)
            raise typer.Exit(1)


@app.command()
def inspect(model_path: Path = typer.Argument(..., metavar="MODEL", help=".tflite or .onnx file.")):
    """Print an exported model's embedded spec, its input/output tensors and their quantisation."""
    with user_errors():
        runner = runtime.load(model_path, 1)
        typer.echo(json.dumps({"file": str(model_path), "format": runner.format.name, "runtime": runner.runtime,
                               "size_mb": round(model_path.stat().st_size / 1e6, 3), **runner.describe(),
                               "spec": json.loads(runner.spec.to_json())}, indent=2))


def main():
    app()
