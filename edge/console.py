"""What every command shares: one clear line and a non-zero exit for bad input."""

from __future__ import annotations

import contextlib

import typer

from edge.errors import UserError


@contextlib.contextmanager
def user_errors():
    """Turn a UserError into `error: <message>` on stderr and its exit code (2), without a traceback."""
    try:
        yield
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
