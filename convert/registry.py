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
        allowed = takers[0].options[key]
        if value not in allowed:
            raise UserError(f"--{key} {value}: choose from {', '.join(allowed)}")
    defaults = {key: allowed[0] for n in names for key, allowed in FORMATS[n].options.items()}
    return defaults | options
