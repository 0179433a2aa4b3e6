"""Write the reference pages that would drift if written by hand, from the code itself: every command's flags with
their defaults (docs/reference/cli.md), the export formats (formats.md) and the training recipes (recipes.md).
tests/test_docs.py fails when a committed page differs from what this writes.

    .venv/bin/python scripts/reference_pages.py          # rewrite the pages
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import click  # noqa: E402
import typer  # noqa: E402

HEADER = "<!-- written by scripts/reference_pages.py from the code: edit the code, then run it -->\n\n"


def commands() -> dict[str, click.Command]:
    """Every command line the toolkit installs, by the words that start it (`train folder`, `edge-bench compare`)."""
    from benchmarks.bench import app as bench
    from convert.cli import app as convert
    from edge.classify import app as classify
    from train.cli import app as train

    found = {}
    for name, app in (("train", train), ("convert", convert), ("edge-classify", classify), ("edge-bench", bench)):
        command = typer.main.get_command(app)
        found[name] = command
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": command.commands[sub] for sub in command.commands})
    return found


def _default(param: click.Parameter) -> str:
    value = param.default
    if param.is_flag if isinstance(param, click.Option) else False:
        if value is None:  # it depends on another choice, which its help says in brackets
            return ""
        if param.secondary_opts:
            return (param.opts if value else param.secondary_opts)[0]
        return "on" if value else "off"
    if value is None or value == () or value == []:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v.value if isinstance(v, Enum) else v) for v in value)
    return str(value.value if isinstance(value, Enum) else value)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _flags(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return (param.metavar or param.name).upper()
    return ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])


def cli_page() -> str:
    lines = [HEADER + "# Every flag\n",
             "Every command and its options with their defaults, as `--help` prints them. Options whose default "
             "depends on something else say so in brackets. Exit codes, every command: 0 success, 1 a failed gate "
             "(`convert`) or no result (`edge-bench`), 2 bad input, 3 an unexpected error.\n"]
    for name, command in commands().items():
        if isinstance(command, click.Group) and name != "edge-bench":
            continue  # train and convert are only their subcommands
        lines += [f"## {name}\n", _cell(command.help or "").split(". ")[0].rstrip(".") + ".\n",
                  "| flag | default | meaning |", "|---|---|---|"]
        for param in command.params:
            if getattr(param, "hidden", False) or param.name in ("help", "install_completion", "show_completion"):
                continue
            lines.append(f"| {_flags(param)} | {_cell(_default(param))} | {_cell(getattr(param, 'help', '') or '')} |")
        lines.append("")
    return "\n".join(lines)


def formats_page() -> str:
    from edge.formats import DEFAULT_FORMATS, FORMATS

    lines = [HEADER + "# Export formats\n",
             "The one table every command reads (`edge/formats.py`): `convert quantize --formats` takes these names, "
             "`edge-classify` and `edge-bench` recognise a file by its ending. `convert list` prints it.\n",
             "| name | file | runs on | default | what | input/output | can | options |",
             "|---|---|---|---|---|---|---|---|"]
    for fmt in FORMATS.values():
        options = ", ".join(f"`--{k}` {'/'.join(option.values)}" for k, option in fmt.options.items())
        can = [what for what, declared in (("diagnosed layer by layer", fmt.int8), ("`--recover`", fmt.recoverable),
                                           ("float reference", fmt.reference),
                                           ("TFLite Metadata", fmt.standard_metadata)) if declared]
        lines.append(f"| `{fmt.name}` | `MODEL{fmt.suffix}{'/' if fmt.folder else ''}` | {fmt.needs} | "
                     f"{'yes' if fmt.name in DEFAULT_FORMATS else ''} | {_cell(fmt.description)} | {fmt.io} | "
                     f"{', '.join(can)} | {options} |")
    return "\n".join(lines) + "\n"


def recipes_page() -> str:
    from train.config import config_fields, resolve
    from train.recipes import RECIPES

    shown = ("size", "epochs", "batch_size", "learning_rate", "augment_passes", "fine_tune_layers", "balance",
             "augment", "grayscale", "folds")
    lines = [HEADER + "# Recipes\n",
             "`train RECIPE`: each recipe is one entry of `train/recipes.py:RECIPES`, its settings fields of "
             "`train/config.py:TrainConfig`. The defaults below are per model choice (`--arch`); the first choice is "
             "the recipe's default.\n"]
    for name, recipe in RECIPES.items():
        lines += [f"## {name}\n", _cell(recipe.doc) + "\n", f"Data: {_cell(recipe.data_help)}\n",
                  "| --arch | " + " | ".join(shown) + " |", "|" + "---|" * (len(shown) + 1)]
        for choice in recipe.models:
            config = resolve(recipe.defaults_for(choice), {})
            lines.append(f"| `{choice}` | " + " | ".join(_cell(getattr(config, field)) for field in shown) + " |")
        lines.append("")
    assert set(shown) <= set(config_fields())
    return "\n".join(lines)


PAGES = {"cli.md": cli_page, "formats.md": formats_page, "recipes.md": recipes_page}


def main() -> None:
    for name, page in PAGES.items():
        (REPO / "docs" / "reference" / name).write_text(page())
        print(f"wrote docs/reference/{name}")


if __name__ == "__main__":
    main()
