"""`coreo identity`: the workspace's identity rules, match master records across systems,
undo a wrong merge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from sqlalchemy import select

from coreo.cli._common import (
    WorkspaceOption,
    cli_actor,
    console,
    load_settings,
    open_database,
    read_document,
    workspace_by_slug,
    workspace_id_of,
)
from coreo.config import MatchingBackend
from coreo.errors import NotFoundError
from coreo.identity import master, unmerge
from coreo.identity import service as identity_service
from coreo.identity.matching import MatchConfig
from coreo.identity.models import MergeRecord
from coreo.identity.rules import load_rules
from coreo.profiles.stage import merge_traits, rederive_traits
from coreo.traits.stage import merge_computed_traits, rederive_computed_traits

__all__ = ["identity_app"]

identity_app = typer.Typer(help="Identity resolution.", no_args_is_help=True)
rules_app = typer.Typer(
    help="The workspace's identity rules (see docs/identity.md).", no_args_is_help=True
)
identity_app.add_typer(rules_app, name="rules")


@rules_app.command("show")
def rules_show(workspace: WorkspaceOption = "default") -> None:
    """Print the rules in force as YAML (the defaults when the workspace set none); edit
    and give them to `coreo identity rules apply`.

    Example: coreo identity rules show > rules.yml
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        rules = identity_service.rules_for(session, workspace_by_slug(session, workspace).id)
    typer.echo(yaml.safe_dump(rules.model_dump(mode="json"), sort_keys=False), nl=False)
    database.dispose()


@rules_app.command("apply")
def rules_apply(
    file: Annotated[Path, typer.Argument(help="YAML or JSON file with the rules.")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Replace the workspace's identity rules (fields left out take their defaults). They
    apply to events resolved from now on. Audited.

    Example: coreo identity rules apply rules.yml --workspace default
    """
    rules = read_document(file, load_rules)
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        row = identity_service.put_rules(session, workspace_id, rules, actor=cli_actor())
        version = row.version if row is not None else 0
    console.print(
        f"Identity rules version {version} in force for {workspace}: "
        f"{len(rules.types)} identifier types, {len(rules.sources)} sources, "
        f"e-mail keyed {rules.email_key}."
    )
    database.dispose()


@rules_app.command("reset")
def rules_reset(workspace: WorkspaceOption = "default") -> None:
    """Return to the default identity rules. Audited.

    Example: coreo identity rules reset --workspace default
    """
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        identity_service.put_rules(session, workspace_id, None, actor=cli_actor())
    console.print(f"The default identity rules are in force for {workspace}.")
    database.dispose()


@identity_app.command("match")
def match(
    workspace: WorkspaceOption = "default",
    sources: Annotated[
        str, typer.Option(help="Comma-separated trait sources of master records.")
    ] = ",".join(master.MASTER_SOURCES),
    auto_merge: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Merge pairs at or above this probability.")
    ] = 0.99,
    review: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Queue pairs at or above this for review.")
    ] = 0.5,
    backend: Annotated[
        MatchingBackend | None,
        typer.Option(help="Splink backend (default: the matching_backend setting)."),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master URL (default: the matching_spark_master setting)."),
    ] = None,
) -> None:
    """Match master records (ERP, CRM, loyalty): merge sure pairs, queue likely ones.

    Example: coreo identity match --workspace default --sources erp,crm [--backend spark]
    """
    if review > auto_merge:
        raise typer.BadParameter("must not exceed --auto-merge", param_hint="--review")
    chosen = [s.strip() for s in sources.split(",") if s.strip()]
    settings = load_settings()
    config = MatchConfig(
        auto_merge=auto_merge,
        review=review,
        backend=(backend or settings.matching_backend).value,
        spark_master=spark_master or settings.matching_spark_master,
    )
    database = open_database(settings)
    workspace_id = workspace_id_of(database, workspace)
    with console.status(f"Matching master records ({config.backend}) ..."):
        run = master.run_matching(
            database,
            workspace_id=workspace_id,
            actor=cli_actor(),
            sources=chosen,
            config=config,
            on_merge=(merge_traits, merge_computed_traits),
        )
    console.print(
        f"{run.records:,} master records, {run.pairs:,} scored pairs: {run.merged:,} merged, "
        f"{run.refused:,} refused by the identity rules, {run.queued:,} queued for review "
        "(GET /v1/identity/reviews)."
    )
    database.dispose()


@identity_app.command("unmerge")
def unmerge_command(
    merge_id: Annotated[
        str, typer.Argument(help="The merge to undo (mrg_..., as listed in a profile's merges).")
    ],
) -> None:
    """Undo a wrong merge: split the two profiles for good and re-derive both from their
    events (identifiers, event attribution, traits). Audited.

    Example: coreo identity unmerge mrg_01jd3k4m5n6p7q8r9s0t1v2w3x
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        workspace_id = session.scalar(
            select(MergeRecord.workspace_id).where(MergeRecord.id == merge_id)
        )
    if workspace_id is None:
        raise NotFoundError(f"no merge {merge_id!r}")
    with database.transaction(workspace_id=workspace_id) as session:
        done = unmerge.undo_merge(
            session,
            workspace_id=workspace_id,
            merge_id=merge_id,
            actor=cli_actor(),
            on_rederive=(rederive_traits, rederive_computed_traits),
        )
    held = done.identities
    moved = ", ".join(done.profiles_moved)
    console.print(
        f"Undid merge {done.merge_id}: {done.merged_id} "
        f"({len(held[done.merged_id])} identifiers) is apart from {done.survivor_id} "
        f"({len(held[done.survivor_id])} identifiers) for good; {done.events_moved:,} events "
        f"moved"
        + (f", and the profiles merged in since that went with it: {moved}." if moved else ".")
    )
    database.dispose()
