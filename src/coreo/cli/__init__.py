"""The `coreo` command."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from coreo import __version__
from coreo.cli._common import err_console
from coreo.cli.admin import audit_app, config_app, init, keys_app, migrate, workspace_app
from coreo.cli.server import demo, serve
from coreo.errors import CoreoError

__all__ = ["app", "main"]

app = typer.Typer(
    name="coreo",
    help="Coreo: customer orchestration platform. Events become profiles, profiles become "
    "explainable, consent-respecting actions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"coreo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Coreo: customer orchestration platform."""


app.command()(demo)
app.command()(serve)
app.command()(init)
app.command()(migrate)
app.add_typer(config_app, name="config")
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Entry point: every failure is one line on stderr and a non-zero exit, never a traceback.

    Set COREO_DEBUG=1 to get the traceback of an unexpected error.
    """
    try:
        app()
    except CoreoError as error:
        _fail(error.message, 1)
    except SQLAlchemyError as error:
        if os.environ.get("COREO_DEBUG"):
            raise
        _fail(f"database error ({type(error).__name__}); set COREO_DEBUG=1 for details", 1)
    except Exception as error:
        if os.environ.get("COREO_DEBUG"):
            raise
        _fail(f"unexpected {type(error).__name__}; set COREO_DEBUG=1 for the traceback", 70)
