"""Exporters, declared with @register_exporter beside the code that writes each format (convert/*_export.py).

An exporter is `function(model, spec, calibration, path, work, **options) -> note or None`: it writes the bare model
to PATH (WORK is the run's scratch folder) and takes the options its row in edge.formats.FORMATS lists."""

from __future__ import annotations

from edge.errors import UserError
from edge.formats import FORMATS
from edge.registry import Registry

EXPORTERS = Registry("convert", "_export", FORMATS)  # format name -> exporter
register_exporter = EXPORTERS.register  # decorator: @register_exporter("tflite_int8")


def resolved_options(names: list[str], options: dict[str, str]) -> dict[str, str]:
    """OPTIONS over the defaults (first allowed value) of the formats NAMES; UserError for an option none of them
    takes, or a value it does not allow."""
    for key, value in options.items():
        takers = [FORMATS[n] for n in names if key in FORMATS[n].options]
        if not takers:
            offered = [n for n, f in FORMATS.items() if key in f.options]
            raise UserError(f"--{key}: only {', '.join(offered)} takes it, and --formats has none of them")
        allowed = takers[0].options[key].values
        if value not in allowed:
            raise UserError(f"--{key} {value}: choose from {', '.join(allowed)}")
    defaults = {key: option.values[0] for n in names for key, option in FORMATS[n].options.items()}
    return defaults | options


def options_for(name: str, options: dict[str, str]) -> dict[str, str]:
    """Of the run's OPTIONS, those format NAME takes."""
    return {key: value for key, value in options.items() if key in FORMATS[name].options}


def option_flags() -> dict[str, tuple[tuple[str, ...], str]]:
    """Every export option as `convert quantize` offers it: key -> (values, help naming the formats that take it)."""
    flags: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for fmt in FORMATS.values():
        for key, option in fmt.options.items():
            values, helps = flags.setdefault(key, (option.values, []))
            helps.append(f"{fmt.name}: {option.help}")
    return {key: (values, "; ".join(helps) + f" [default: {values[0]}].") for key, (values, helps) in flags.items()}
