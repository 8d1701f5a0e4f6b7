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
from coreo.cli.consent import consent_app
from coreo.cli.identity import identity_app
from coreo.cli.imports import import_file
from coreo.cli.pipeline import dlq_app, events_app, worker
from coreo.cli.privacy import (
    move_to_store,
    privacy_app,
    retention_app,
    ropa,
    rotate_master,
    seal_identifiers,
)
from coreo.cli.server import demo, serve
from coreo.cli.sim import sim_app
from coreo.cli.traits import traits_app
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
app.command()(worker)
app.command("import")(import_file)
app.add_typer(config_app, name="config")
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(identity_app, name="identity")
app.add_typer(consent_app, name="consent")
app.add_typer(privacy_app, name="privacy")
app.add_typer(retention_app, name="retention")
app.command("ropa")(ropa)
keys_app.command("rotate-master")(rotate_master)
keys_app.command("move-to-store")(move_to_store)
keys_app.command("seal")(seal_identifiers)
app.add_typer(sim_app, name="sim")
app.add_typer(traits_app, name="traits")


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    sys.exit(code)


def _usage_error(error: Exception) -> None:
    """Exit for a command-line usage error (Typer's own exception classes are private, so
    they are recognised by shape): one line naming the fix, or the help when nothing was
    given. Returns when ``error`` is something else."""
    show = getattr(error, "show", None)
    if type(error).__name__ == "NoArgsIsHelpError" and callable(show):
        show()
        sys.exit(2)
    format_message, exit_code = (
        getattr(error, "format_message", None),
        getattr(error, "exit_code", None),
    )
    if callable(format_message) and isinstance(exit_code, int):
        ctx = getattr(error, "ctx", None)
        where = getattr(ctx, "command_path", None) or "coreo"
        _fail(f"{format_message()} (see `{where} --help`)", exit_code)


def main() -> None:
    """Entry point: every failure is one line on stderr and a non-zero exit, never a traceback.

    Set COREO_DEBUG=1 to get the traceback of an unexpected error.
    """
    try:
        outcome = app(standalone_mode=False)
    except typer.Exit as stop:
        sys.exit(stop.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except CoreoError as error:
        _fail(error.message, 1)
    except SQLAlchemyError as error:
        if os.environ.get("COREO_DEBUG"):
            raise
        _fail(f"database error ({type(error).__name__}); set COREO_DEBUG=1 for details", 1)
    except Exception as error:
        _usage_error(error)
        if os.environ.get("COREO_DEBUG"):
            raise
        _fail(f"unexpected {type(error).__name__}; set COREO_DEBUG=1 for the traceback", 70)
    if isinstance(outcome, int) and outcome != 0:  # typer.Exit(code) in non-standalone mode
        sys.exit(outcome)
