"""`coreo traits`: define computed traits from YAML, back-fill them, list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from coreo.cli._common import (
    WorkspaceOption,
    cli_actor,
    console,
    load_settings,
    open_database,
    workspace_by_slug,
    workspace_id_of,
)
from coreo.db import Database
from coreo.errors import ConflictError, InvalidInputError
from coreo.runtime.owners import new_owner
from coreo.traits import backfill, jobs, service
from coreo.traits.definitions import DefinitionError, load_yaml
from coreo.traits.models import TraitBackfill

__all__ = ["traits_app"]

traits_app = typer.Typer(help="Computed traits (aggregates over each profile's events).",
                         no_args_is_help=True)  # fmt: skip


@traits_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="YAML file with a list of traits.")],
    workspace: WorkspaceOption = "default",
    replace: Annotated[
        bool, typer.Option("--replace", help="Also remove the workspace's traits not in FILE.")
    ] = False,
) -> None:
    """Create or change computed traits from YAML and back-fill the changed ones from the
    event history (see docs/computed-traits.md for the format).

    Example: coreo traits apply traits.yml --workspace default
    """
    try:
        definitions = load_yaml(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"cannot read {file}: {error.strerror}") from None
    except DefinitionError as error:
        raise InvalidInputError(f"{file}: {error}") from None
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        try:
            change = service.put_definitions(
                session, workspace_id, definitions, actor=cli_actor(), replace=replace
            )
        except DefinitionError as error:
            raise InvalidInputError(f"{file}: {error}") from None
        job = (
            backfill.start_backfill(session, workspace_id, change.backfill)
            if (change.backfill)
            else None
        )
        job_id = job.id if job else None
    if change.removed:
        console.print(f"Removed: {', '.join(change.removed)}")
    if job_id is None:
        console.print(f"{len(definitions)} traits, none changed: nothing to back-fill.")
        return
    console.print(f"Back-filling {', '.join(change.backfill)} ({job_id}) ...")
    _run(database, workspace_id, job_id)
    database.dispose()


def _run(database: Database, workspace_id: str, job_id: str) -> None:
    with console.status("Back-filling from the event history ..."):
        done = jobs.run_owned(database, workspace_id, job_id, new_owner())
    console.print(
        f"Done: {done.events_total:,} events read, {done.profiles_written:,} profiles written."
    )


@traits_app.command("backfill")
def backfill_command(workspace: WorkspaceOption = "default") -> None:
    """Run the workspace's unfinished back-fills (e.g. after the server stopped during one).

    Example: coreo traits backfill --workspace default
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        workspace_id = workspace_by_slug(session, workspace).id
        unfinished = list(
            session.scalars(
                select(TraitBackfill.id)
                .where(
                    TraitBackfill.workspace_id == workspace_id,
                    TraitBackfill.status.in_(["pending", "running", "failed"]),
                )
                .order_by(TraitBackfill.created_at)
            )
        )
    if not unfinished:
        console.print("No unfinished back-fill.")
    for job_id in unfinished:
        try:
            _run(database, workspace_id, job_id)
        except ConflictError as error:  # a server runs it: leave it there
            console.print(f"Skipped: {error.message}.")
    database.dispose()


@traits_app.command("refresh")
def refresh_command() -> None:
    """Bring the stored values whose window moved on up to date, in every workspace (a
    server does it every COREO_TRAITS_REFRESH_MINUTES; run this from cron without one).

    Example: coreo traits refresh
    """
    database = open_database(load_settings())
    with console.status("Refreshing expired computed-trait values ..."):
        refreshed = service.refresh_due(database)
    console.print(f"Refreshed {refreshed:,} profiles.")
    database.dispose()


@traits_app.command("list")
def list_traits(workspace: WorkspaceOption = "default") -> None:
    """List the workspace's computed traits.

    Example: coreo traits list --workspace default
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        workspace_id = workspace_by_slug(session, workspace).id
        rows = service.definition_rows(session, workspace_id)
    table = Table("name", "function", "window", "status", "version")
    for row in rows:
        d = row.definition
        table.add_row(row.name, d["function"], d.get("window", "all"), row.status, str(row.version))
    console.print(table)
    database.dispose()
