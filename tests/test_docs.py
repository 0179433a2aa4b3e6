"""The docs cannot drift: the site builds with every link checked, the generated reference pages match the code,
every command line and flag the docs and README show exists and parses, and the blocks marked `<!-- test: run -->`
run as written on the shipped sample."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import reference_pages  # noqa: E402

COMMANDS = reference_pages.commands()
ALIASES = {"edge-train": "train", "edge-convert": "convert"}
PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"(<!-- test: run -->\n)?```(\w*)[^\n]*\n(.*?)```", re.S)
# flags of other programs the docs show (pip, mkdocs, git, ssh, openssl, ...); anything else must be one of ours
OTHER_FLAGS = {"--no-deps", "--system-site-packages", "--dry-run", "--platform", "--strict", "--upgrade", "--hex",
               "--config-settings", "--headless", "--no-sandbox", "--disable-gpu", "--opset", "--saved-model",
               "--ignore-installed", "--report", "--only-binary", "--junitxml"}


def _nav_order() -> list[Path]:
    """The pages in the site's navigation order (the marked blocks of one page may use what an earlier one made)."""
    def walk(items):
        for item in items:
            for value in item.values():
                yield from walk(value) if isinstance(value, list) else [REPO / "docs" / value]
    return list(walk(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]))


def _blocks(page: Path):
    """(marked to run, language, text) of every fenced block of PAGE."""
    for match in FENCE.finditer(page.read_text()):
        yield bool(match.group(1)), match.group(2), match.group(3)


def _command_lines(text: str):
    """Each invocation of one of our commands in a shell block: (command words, arguments)."""
    text = re.sub(r"\\\n", " ", text)
    text = re.sub(r"\$\([^)]*\)", "VALUE", text)  # command substitutions: a value
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        words, segment = list(lexer), []
        for word in words + [";"]:
            if word in (";", "&&", "||", "|", "&", ">", ">>", "<"):
                if segment:
                    yield from _ours(segment)
                segment = [] if word != ">" else ["REDIRECT"]
            else:
                segment.append(word)


def _ours(segment: list[str]):
    while segment and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", segment[0]):  # VAR=value before a command
        segment = segment[1:]
    if not segment or segment[0] == "REDIRECT":
        return
    name = ALIASES.get(Path(segment[0]).name, Path(segment[0]).name)
    if name in COMMANDS:
        args = segment[1:]
        if args and f"{name} {args[0]}" in COMMANDS:
            name, args = f"{name} {args[0]}", args[1:]
        yield name, args


def _parses(name: str, args: list[str]) -> str | None:
    """None when COMMAND ARGS parses as the real command would parse it; else click's complaint."""
    try:
        COMMANDS[name].make_context(name, list(args))
    except click.exceptions.Exit:
        pass  # --help, --version
    except click.ClickException as exc:
        return exc.format_message()
    return None


def test_the_site_builds_strictly(tmp_path):
    done = subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "api" / "index.html").read_text().count("Classifier") > 3, \
        "the API reference is generated from the docstrings"


def test_the_generated_reference_pages_are_current():
    for name, page in reference_pages.PAGES.items():
        assert (REPO / "docs" / "reference" / name).read_text() == page(), \
            f"docs/reference/{name} is stale: run .venv/bin/python scripts/reference_pages.py"


def test_every_command_line_in_the_docs_parses():
    checked, wrong = 0, []
    for page in PAGES:
        for _, language, text in _blocks(page):
            if language not in ("bash", "sh", "shell", "console", "yaml"):
                continue
            for name, args in _command_lines(text):
                checked += 1
                problem = _parses(name, args)
                if problem:
                    wrong.append(f"{page.relative_to(REPO)}: {name} {' '.join(args)}: {problem}")
    assert not wrong, "\n".join(wrong)
    assert checked > 40, f"only {checked} command lines found: is the block parser broken?"


def _harnesses() -> list[click.Command]:
    """The measurement commands the docs name (`python -m benchmarks.NAME`)."""
    import importlib

    import typer.main

    names = [p.stem for p in (REPO / "benchmarks").glob("*.py") if "app = " in p.read_text()]
    return [typer.main.get_command(importlib.import_module(f"benchmarks.{name}").app) for name in names]


def test_every_flag_the_docs_name_exists():
    commands = [*COMMANDS.values(), *_harnesses()]
    ours = {opt for command in commands for param in command.params
            for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])] if opt.startswith("--")}
    ours |= {"--help", "--install-completion", "--show-completion"}
    unknown = set()
    for page in PAGES:
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", page.read_text()):
            if flag not in ours and flag not in OTHER_FLAGS:
                unknown.add(f"{page.relative_to(REPO)}: {flag}")
    assert not unknown, sorted(unknown)


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 160, f"README is {len(lines)} lines; keep it a front door and move the rest to docs/"
    first_block = next(block for _, language, block in _blocks(REPO / "README.md") if language == "bash")
    assert "bash scripts/demo.sh" in first_block and "bash scripts/test.sh" in first_block
    for heading in ("## Your own photos", "## On the Pi", "## From Python"):
        assert heading in text
    linked = re.findall(r"\]\(((?:docs/|CHANGELOG|CONTRIBUTING)[^)#]*)", text)
    assert linked and all((REPO / link).is_file() for link in linked), linked


@pytest.mark.slow
def test_the_marked_blocks_run_as_written(tmp_path):
    """Every `<!-- test: run -->` block, in the site's order, in one folder holding the shipped sample: the guide
    trains on it, converts, classifies, and the Python example classifies with the model the guide made."""
    (tmp_path / "data").symlink_to(REPO / "data")
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "EDGE_PROGRESS": "0",
                        "PYTHONPATH": str(REPO)}
    ran = []
    for page in _nav_order():
        for marked, language, text in _blocks(page):
            if not marked:
                continue
            command = ["bash", "-euo", "pipefail", "-c", text] if language == "bash" else [sys.executable, "-c", text]
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"{page.relative_to(REPO)}:\n{text}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            ran.append((page.name, language, done.stdout))
    assert [(page, language) for page, language, _ in ran] == [("your-photos.md", "bash"), ("python-api.md", "python")]
    parity = json.loads((tmp_path / "runs/mine/models/parity.json").read_text())
    assert parity["passed"] and parity["data"].endswith("test_files.txt"), "checked on the photos training held out"
    assert "summary: frames=100," in ran[0][2] and (tmp_path / "runs/mine/test_files.txt").is_file()
    labels_line, *results = ran[1][2].splitlines()
    assert "('chihuahua', 'muffin')" in labels_line and len(results) == 6
    assert all(line.split()[-4] in ("chihuahua", "muffin") for line in results[1:])
