"""`train`: Keras recipes that write a run folder: the .keras model (with its spec inside), metrics.json,
evaluation.npz and an evaluation report (report.md with PNG plots)."""

from __future__ import annotations

import inspect
import os
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from click.core import ParameterSource

from edge.console import add_command, command_app, library_output_to, user_errors, version_option
from edge.errors import UserError
from edge.metrics import percent
from keras_io.startup import require_training
from train import preflight
from train.config import config_fields, resolve
from train.recipes import RECIPES, SCALE_FLAGS, Recipe

app = command_app(__doc__, no_args_is_help=True)
LOG_NAME = "train.log"  # what TensorFlow, Keras and absl print, unless --debug
TYPES = {"int": int, "float": float, "bool": bool, "str": str, "str | None": str}  # TrainConfig's field types


@app.callback()
def _options(version: bool = version_option()):
    pass


def _defaults_by_choice(recipe: Recipe, name: str) -> dict:
    """Field NAME's default for each model choice of RECIPE."""
    return {choice: getattr(resolve(recipe.defaults_for(choice), {}), name) for choice in recipe.models}


def _default_text(values: dict) -> str:
    """'224 transfer, 128 otherwise': the defaults of the model choices, the most common one last."""
    groups: dict = {}
    for choice, value in values.items():
        groups.setdefault(("on" if value else "off") if isinstance(value, bool) else value, []).append(choice)
    common = max(groups, key=lambda value: len(groups[value]))
    named = [f"{value} {', '.join(groups[value])}" for value in groups if value != common]
    return f"[default: {'; '.join(named)}; {common} otherwise]"


def _choices(recipe: Recipe, name: str) -> type[Enum] | None:
    choices = tuple(recipe.models) if name == "model" else config_fields()[name].metadata["choices"]
    return Enum(name.title().replace("_", ""), {c: c for c in choices}, type=str) if choices else None


def _parameter(recipe: Recipe, name: str) -> inspect.Parameter:
    """The command-line option for TrainConfig field NAME, with its help and RECIPE's default."""
    meta = config_fields()[name].metadata
    values = _defaults_by_choice(recipe, name) if name != "model" else {None: recipe.defaults_for(None)["model"]}
    default = next(iter(values.values())) if len(set(values.values())) == 1 else None
    help = meta["help"]
    if name == "model" and any(choice != builder for choice, builder in recipe.models.items() if builder):
        help += " (" + ", ".join(f"{c}: {b}" for c, b in recipe.models.items() if b and c != b) + ")"
    if default is None and len(set(values.values())) > 1:
        help += " " + _default_text(values)
    kind = _choices(recipe, name) or TYPES[config_fields()[name].type]
    bounds = {key: value for key, value in meta["bounds"].items() if kind in (int, float)}
    flags = [meta["flag"] or "--" + name.replace("_", "-")]
    option = typer.Option(default, *flags, help=help, **bounds)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=kind if default is not None else Optional[kind])


def _summary(out: Path, metrics) -> str:
    test, train = metrics.test, metrics.train
    figure = percent if metrics.folds and metrics.folds["metric"] == "accuracy" else str
    lines = [f"{len(metrics.folds['per_fold'])}-fold {metrics.folds['metric']}: mean {figure(metrics.folds['mean'])}, "
             f"std {figure(metrics.folds['std'])}"] if metrics.folds else []
    result = (f"MSE {test['mse']}" if "mse" in test else
              f"accuracy {percent(test['accuracy'])} on {test['images']} images (train {percent(train['accuracy'])}); "
              "recall " + ", ".join(f"{label} {percent(value)}" for label, value in test["per_class_recall"].items()))
    model = next(out.glob("*.keras"), out)
    log = f", {LOG_NAME}" if (out / LOG_NAME).is_file() else ""
    return "\n".join(lines + [f"test {result}", f"wrote {out}/: the model {model.name}, metrics.json, report.md{log}; "
                              f"{metrics.parameters:,} parameters"])


def _log_path(out: Path) -> Path:
    """Where library output goes while OUT is written: beside it (the run folder appears only when complete), one
    file per process of a multi-process job."""
    process = os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    return out.with_name(f"{out.name}{'' if process == '0' else f'.process-{process}'}.log")


def _old_model_flag(recipe: Recipe) -> inspect.Parameter:
    """`--model ARCH`, the name --arch had before 0.3: still accepted, hidden, with a note. Everywhere else --model
    names a model file."""
    return inspect.Parameter("old_model", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[_choices(recipe, "model")],
                             default=typer.Option(None, "--model", hidden=True))


def recipe_command(name: str, recipe: Recipe):
    """The `train NAME` command: --data, --out and RECIPE's flags, each a TrainConfig field."""
    data_kind = Path if recipe.data_required else Optional[Path]
    fixed = [inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, annotation=data_kind,
                               default=typer.Option(... if recipe.data_required else None, help=recipe.data_help)),
             inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
                               default=typer.Option(Path(f"runs/{name}"), help="Run folder to write (replaced when it exists).")),
             _old_model_flag(recipe),
             inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                               default=typer.Option(False, help="Show TensorFlow's and Keras' own output, and tracebacks "
                                                    f"[default: into OUT/{LOG_NAME}]."))]
    parameters = fixed + [_parameter(recipe, field) for field in recipe.flags + SCALE_FLAGS]
    parameters.insert(0, inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))

    def command(context, data, out, old_model, debug, **given):
        with user_errors(debug):
            if old_model is not None:
                if context.get_parameter_source("model") is not ParameterSource.DEFAULT:
                    raise UserError("--model: give the architecture once, as --arch (--model is its old name)")
                typer.echo("note: train's --model is now --arch (--model names a model file in the other commands)",
                           err=True)
                given["model"] = old_model
            given = {key: value.value if isinstance(value, Enum) else value for key, value in given.items()}
            config = resolve(recipe.defaults_for(given.get("model")), given)
            require_training("train")  # installed, not loaded: a device install hears what to install first
            preflight.check(recipe, data, out, config)  # within a second, before TensorFlow loads
            log = _log_path(out)
            with library_output_to(log, debug):
                from train.run import run

                metrics = run(name, data, out, config)
            if metrics and out.is_dir() and log.is_file():  # no log with --debug: the output went to the terminal
                os.replace(log, out / LOG_NAME)
            elif metrics is None:  # a process beside the chief: it writes no run folder, nor keeps a log
                log.unlink(missing_ok=True)
            typer.echo(_summary(out, metrics) if metrics else f"trained its share; the chief (process 0) writes {out}/")

    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = recipe.doc
    return command


def report(run_folder: Path = typer.Argument(..., help="A run folder that `train` wrote.")):
    """Redraw the evaluation report (plots and report.md) of a run folder."""
    with user_errors():
        require_training("train report")
        from train import report as report_module

        typer.echo(f"wrote {report_module.write(run_folder)}")


for _name, _recipe in RECIPES.items():
    add_command(app, recipe_command(_name, _recipe), _name)
add_command(app, report, "report")


def main():
    app()
