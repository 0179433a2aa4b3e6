"""What every command shares: one clear line and a non-zero exit for bad input."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import warnings
from pathlib import Path

import click
import typer
from typer.core import TyperCommand, TyperGroup

from edge.atomic import disk_full
from edge.errors import UserError

EXIT_CODES = "exit codes: 0 success, 1 a failed gate (convert) or no result (bench), 2 bad input, 3 an unexpected error"


def _finite_then(callback):
    """A Click callback refusing NaN and infinity (every range check passes NaN), then running CALLBACK."""
    def check(context, param, value):
        if isinstance(value, float) and not math.isfinite(value):
            raise click.BadParameter(f"{value} is not a finite number; give one, e.g. {param.default}", context, param)
        return callback(context, param, value) if callback else value
    return check


class _FiniteNumbers:
    """Every float option of the command refuses NaN and infinity before any work."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param.type, click.types.FloatParamType):
                param.callback = _finite_then(param.callback)


class Command(_FiniteNumbers, TyperCommand):
    pass


class Group(_FiniteNumbers, TyperGroup):
    pass


def command_app(help: str, **options) -> typer.Typer:
    """The Typer app of every command: help printed as written (Rich markup would swallow `[default: 1.0]` and
    `[parity]`), Click's own "did you mean" (Typer's repeated it), shell completion, the exit codes under the help,
    no NaN or infinity in a number flag."""
    return typer.Typer(help=help, epilog=EXIT_CODES, rich_markup_mode=None, suggest_commands=False,
                       add_completion=True, cls=Group, **options)


def add_command(app: typer.Typer, function, name: str | None = None) -> None:
    """Register FUNCTION as a (sub)command of APP with the exit codes under its help: a one-command app shows the
    command's help, not the app's, so the app's epilog alone would be lost."""
    app.command(name, epilog=EXIT_CODES, cls=Command)(function)


@contextlib.contextmanager
def user_errors(debug: bool = False):
    """Every command's exit-code convention (EXIT_CODES): a UserError becomes `error: <message>` on stderr and exit
    2, as is a full disk; anything unexpected one line and exit 3, or its traceback with DEBUG (--debug, or EDGE_DEBUG=1 for every
    command; --debug sets it, so that native libraries' INFO lines show too: edge/native.py)."""
    saved = os.environ.get("EDGE_DEBUG")
    if debug:
        os.environ["EDGE_DEBUG"] = "1"
    try:
        yield
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug or os.environ.get("EDGE_DEBUG") == "1":
            raise
        if isinstance(exc, OSError) and disk_full(exc):  # where no command said which of its folders it was
            typer.echo(f"error: {exc.filename or 'writing'}: no space left on its disk; free some space and run the "
                       "command again", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(--debug or EDGE_DEBUG=1 shows the traceback)", err=True)
        raise typer.Exit(3) from None
    finally:
        if debug and saved is None:  # a command run inside a program (or a test) leaves the environment as it was
            os.environ.pop("EDGE_DEBUG", None)
        elif debug:
            os.environ["EDGE_DEBUG"] = saved


@contextlib.contextmanager
def library_output_to(log_path: Path, debug: bool = False):
    """Send what libraries print (TensorFlow, oneDNN, absl and XNNPACK lines on file descriptor 2, Python warnings
    and log records) to LOG_PATH, so that the terminal shows only the command's own lines; with DEBUG, change
    nothing. Our own messages go through sys.stderr, which keeps pointing at the terminal."""
    if debug:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    log = open(log_path, "a", buffering=1)
    saved_fd, saved_stderr = os.dup(2), sys.stderr
    root, saved_handlers, saved_showwarning = logging.getLogger(), logging.getLogger().handlers[:], warnings.showwarning
    try:
        if _writes_to_fd2(saved_stderr):
            sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1)
        os.dup2(log.fileno(), 2)
        root.handlers = [logging.StreamHandler(log)]
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: log.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        if sys.stderr is not saved_stderr:
            sys.stderr.close()
            sys.stderr = saved_stderr
        root.handlers, warnings.showwarning = saved_handlers, saved_showwarning
        log.close()


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


# What --version reports beside the toolkit: the runtimes and libraries whose versions decide what a model does.
COMPONENTS = ("numpy", "opencv-python-headless", "opencv-python", "ai-edge-litert", "tflite-runtime", "onnxruntime",
              "tensorflow", "tensorflow-cpu", "keras", "jax")


def versions() -> dict[str, str]:
    """Python and each installed COMPONENT's version (from package metadata: nothing is imported)."""
    import platform
    from importlib import metadata

    found = {"python": f"{platform.python_version()} ({platform.machine()})"}
    for name in COMPONENTS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _print_version(value: bool) -> None:
    if value:
        from edge import __version__

        typer.echo(f"edge-classifier-toolkit {__version__}")
        for name, version in versions().items():
            typer.echo(f"  {name} {version}")
        raise typer.Exit()


def version_option():
    """The --version flag every command has: the toolkit's version and its runtimes', without importing any."""
    return typer.Option(False, "--version", callback=_print_version, is_eager=True,
                        help="Print the version, with Python's and the runtimes', and exit.")
