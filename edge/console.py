"""What every command shares: one clear line and a non-zero exit for bad input."""

from __future__ import annotations

import contextlib

import typer

from edge.errors import UserError


@contextlib.contextmanager
def user_errors(debug: bool | None = None):
    """Turn a UserError into `error: <message>` on stderr and its exit code (2), without a traceback. Commands with
    a --debug flag pass it: off, anything unexpected also becomes one line (exit 1); on, its traceback shows."""
    try:
        yield
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug is None or debug:
            raise
        typer.echo(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(--debug shows the traceback)", err=True)
        raise typer.Exit(1) from None
