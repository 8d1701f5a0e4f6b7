"""`coreo identity`: match master records across systems."""

from __future__ import annotations

from typing import Annotated

import typer

from coreo.cli._common import cli_actor, console, load_settings, open_database, workspace_by_slug
from coreo.identity import master
from coreo.identity.matching import MatchConfig
from coreo.profiles.stage import merge_traits

__all__ = ["identity_app"]

identity_app = typer.Typer(help="Identity resolution.", no_args_is_help=True)


@identity_app.command("match")
def match(
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace (slug).")] = (
        "default"
    ),
    sources: Annotated[
        str, typer.Option(help="Comma-separated trait sources of master records.")
    ] = ",".join(master.MASTER_SOURCES),
    auto_merge: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Merge pairs at or above this probability.")
    ] = 0.99,
    review: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Queue pairs at or above this for review.")
    ] = 0.5,
) -> None:
    """Match master records (ERP, CRM, loyalty): merge sure pairs, queue likely ones.

    Example: coreo identity match --workspace default --sources erp,crm
    """
    if review > auto_merge:
        raise typer.BadParameter("must not exceed --auto-merge", param_hint="--review")
    chosen = [s.strip() for s in sources.split(",") if s.strip()]
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        workspace_id = workspace_by_slug(session, workspace).id
    with console.status("Matching master records ..."):
        run = master.run_matching(
            database,
            workspace_id=workspace_id,
            actor=cli_actor(),
            sources=chosen,
            config=MatchConfig(auto_merge=auto_merge, review=review),
            on_merge=(merge_traits,),
        )
    console.print(
        f"{run.records:,} master records, {run.pairs:,} scored pairs: {run.merged:,} merged, "
        f"{run.refused:,} refused by the identity rules, {run.queued:,} queued for review "
        "(GET /v1/identity/reviews)."
    )
    database.dispose()
