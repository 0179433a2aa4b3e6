"""What every command shares: one clear line and a non-zero exit for bad input."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

import typer

from edge.errors import UserError

EXIT_CODES = "exit codes: 0 success, 1 a failed gate (convert) or no result (bench), 2 bad input, 3 an unexpected error"


@contextlib.contextmanager
def user_errors(debug: bool = False):
    """Every command's exit-code convention (EXIT_CODES): a UserError becomes `error: <message>` on stderr and exit
    2; anything unexpected one line and exit 3, or its traceback with DEBUG (--debug, or EDGE_DEBUG=1 for every
    command)."""
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
        typer.echo(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(--debug or EDGE_DEBUG=1 shows the traceback)", err=True)
        raise typer.Exit(3) from None


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


def _print_version(value: bool) -> None:
    if value:
        from edge import __version__

        typer.echo(f"edge-classifier-toolkit {__version__}")
        raise typer.Exit()


def version_option():
    """The --version flag every command has: answers before anything heavy is imported."""
    return typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
