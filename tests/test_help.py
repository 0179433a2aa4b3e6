"""Every command's --help, as a person reads it: each option's help text printed whole (brackets included: Rich
markup used to swallow `[default: 1.0]` and `[parity]`), the default of every option that has one, the exit codes,
and a usage error that suggests the right command once."""

from __future__ import annotations

import re
import sys

import click
import pytest
import typer.main
from typer.testing import CliRunner

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import reference_pages  # noqa: E402

COMMANDS = reference_pages.commands()
HIDDEN = ("help", "install_completion", "show_completion")


def _flat(text: str) -> str:
    """Whitespace and wrapping taken out: click wraps help text at hyphens and spaces."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))


def _help(name: str) -> str:
    words = name.split()
    app = {"train": "train.cli", "convert": "convert.cli", "edge-classify": "edge.classify", "edge-bench": "benchmarks.bench"}
    module = __import__(app[words[0]], fromlist=["app"])
    result = CliRunner().invoke(module.app, [*words[1:], "--help"], prog_name=words[0], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_every_option_whole_with_its_default(name):
    text, command = _help(name), COMMANDS[name]
    flat = _flat(text)
    assert "exit codes: 0 success" in text, "the exit codes close every command's help"
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden or param.name in HIDDEN:
            continue
        help_text = param.help or ""
        assert _flat(help_text) in flat, f"{name} {param.opts[0]}: its help is not printed whole"
        assert "(default" not in help_text, f"{name} {param.opts[0]}: write a default as [default: ...]"
        default = reference_pages._default(param)
        if param.is_flag and param.secondary_opts:
            default = default.lstrip("-")
        if default and not (param.is_flag and not param.secondary_opts):
            shown = re.search(rf"\[default: {re.escape(default)}[];]", flat)  # a range follows: [default: 5; x>=0]
            assert shown, f"{name} {param.opts[0]}: default {default!r} not shown"


def test_edge_classify_help_says_one_source_is_needed():
    text = _flat(_help("edge-classify"))
    assert "Give exactly one source: --camera, --video, --stream or --images" in text
    assert "[default: 1.0]" in _flat(_help("convert quantize")) and "a [parity] table" in _flat(_help("convert quantize"))


def test_a_mistyped_command_is_suggested_once():
    from train.cli import app

    result = CliRunner().invoke(app, ["mufins"], prog_name="train")
    assert result.exit_code == 2 and result.output.count("Did you mean 'muffins'?") == 1, result.output


def test_the_reference_lists_every_command():
    assert {"train folder", "convert quantize", "edge-classify", "edge-bench", "edge-bench pipeline"} <= set(COMMANDS)
    assert all(isinstance(typer.main.get_command(module.app), click.Command) for module in
               (__import__("edge.classify", fromlist=["app"]),))


FLOAT_FLAGS = [(name, param.opts[0]) for name, command in sorted(COMMANDS.items()) for param in command.params
               if isinstance(param.type, click.types.FloatParamType) and param.opts[0].startswith("--")]


@pytest.mark.parametrize("name, flag", FLOAT_FLAGS)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_no_number_flag_takes_nan_or_infinity(name, flag, value):
    """`--serve-fps nan` killed the encoder thread and `--unsure-below nan` passed every range check: every float
    flag of every command refuses what is not a finite number, before any work, naming the flag."""
    words = name.split()
    app = {"train": "train.cli", "convert": "convert.cli", "edge-classify": "edge.classify", "edge-bench": "benchmarks.bench"}
    module = __import__(app[words[0]], fromlist=["app"])
    required = [arg for param in COMMANDS[name].params if param.required and param.opts[0] != flag
                for arg in ((param.opts[0], "x") if param.opts[0].startswith("-") else ("x",))]
    result = CliRunner().invoke(module.app, [*words[1:], *required, flag, value], prog_name=words[0])
    refused = "not a finite number" in result.output or "is not in the range" in result.output  # a bounded flag: inf
    assert result.exit_code == 2 and f"Invalid value for '{flag}'" in result.output and refused, result.output[-400:]
