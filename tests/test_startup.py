"""Help, --version and usage errors answer without importing TensorFlow, and the names they offer match the tables
that build them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import BLOCK_TENSORFLOW, REPO, RUN_MAIN

BLOCKED = BLOCK_TENSORFLOW + RUN_MAIN

COMMANDS = {"train": "train.cli", "convert": "convert.cli", "edge-classify": "edge.classify",
            "edge-bench": "benchmarks.bench"}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_and_version_answer_without_tensorflow(command):
    for args, code in ((["--help"], 0), (["--version"], 0)):
        result = subprocess.run([sys.executable, "-c", BLOCKED, COMMANDS[command], *args], capture_output=True,
                                text=True, cwd=REPO, timeout=60)
        assert result.stdout.strip().endswith(f"exit {code}"), (args, result.stdout[-500:], result.stderr[-2000:])
    assert "Usage" in subprocess.run([sys.executable, "-c", BLOCKED, COMMANDS[command], "--help"],
                                     capture_output=True, text=True, cwd=REPO).stdout
    from importlib import metadata

    from edge import __version__

    lines = subprocess.run([sys.executable, "-c", BLOCKED, COMMANDS[command], "--version"], capture_output=True,
                           text=True, cwd=REPO).stdout.splitlines()
    assert lines[0] == f"edge-classifier-toolkit {__version__}" and lines[1].startswith("  python 3.")
    assert f"  onnxruntime {metadata.version('onnxruntime')}" in lines and f"  numpy {metadata.version('numpy')}" in lines
    completion = subprocess.run([sys.executable, "-c", BLOCKED, COMMANDS[command], "--show-completion", "bash"],
                                capture_output=True, text=True, cwd=REPO).stdout
    assert "_completion()" in completion and "complete " in completion, completion[-300:]


def test_usage_errors_answer_without_tensorflow():
    for module, args in (("train.cli", ["muffins", "--arch", "no_such_cnn"]),
                         ("convert.cli", ["quantize", "--no-such-flag"]),
                         ("train.cli", ["fashion", "--arch", "no_such_cnn"])):
        result = subprocess.run([sys.executable, "-c", BLOCKED, module, *args], capture_output=True, text=True,
                                cwd=REPO, timeout=60)
        assert result.stdout.strip().endswith("exit 2"), (args, result.stdout[-500:], result.stderr[-2000:])


def test_the_old_name_of_arch_still_trains_with_a_note_and_never_twice():
    """`train ... --model CNN` (before 0.3) still chooses the architecture; --model names a model file elsewhere."""
    old = subprocess.run([sys.executable, "-c", BLOCKED, "train.cli", "folder", "--data", ".", "--model", "edge_cnn"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "note: train's --model is now --arch" in old.stderr, old.stderr[-1000:]
    assert "error: train needs keras and tensorflow" in old.stderr, old.stderr[-1000:]
    both = subprocess.run([sys.executable, "-c", BLOCKED, "train.cli", "folder", "--data", ".", "--model", "edge_cnn",
                           "--arch", "base_cnn"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert both.stdout.strip().endswith("exit 2")
    assert "error: --model: give the architecture once, as --arch" in both.stderr, both.stderr[-1000:]


@pytest.mark.slow
def test_offered_names_match_the_tables_that_build_them():
    from train import backbones, config, models, recipes

    assert set(config.BACKBONE_NAMES) == set(backbones.BACKBONES)
    builders = {builder for recipe in recipes.RECIPES.values() for builder in recipe.models.values() if builder}
    assert set(config.CNN_NAMES) <= builders == set(models.BUILDERS)
