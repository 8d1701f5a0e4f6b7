"""`coreo consent`: record a person's decision, show a profile's consents, ask the check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, cast

import typer
import yaml
from rich.table import Table

from coreo.cli._common import (
    WorkspaceOption,
    cli_actor,
    console,
    load_settings,
    open_database,
    read_document,
    workspace_id_of,
)
from coreo.consent import service
from coreo.consent.purposes import LEGAL_BASES
from coreo.consent.taxonomy import load_taxonomy, put_taxonomy, taxonomy_document, taxonomy_for
from coreo.errors import InvalidInputError
from coreo.privacy.crypto import hash_key

__all__ = ["consent_app"]

consent_app = typer.Typer(
    help="Consent: the ledger and the policy check (see docs/consent.md).", no_args_is_help=True
)
Profile = Annotated[str, typer.Argument(help="The profile (prf_...).")]
Purpose = Annotated[
    str, typer.Argument(help="A purpose of the workspace (coreo consent purposes show).")
]
Channel = Annotated[
    str | None, typer.Option(help="For marketing: email, sms, push, whatsapp, phone, post.")
]


@consent_app.command("record")
def record(
    profile: Profile,
    purpose: Purpose,
    status: Annotated[str, typer.Argument(help="granted, denied or withdrawn.")],
    channel: Channel = None,
    basis: Annotated[str, typer.Option(help=f"Legal basis: {', '.join(LEGAL_BASES)}.")] = (
        "consent"
    ),
    objection: Annotated[
        bool, typer.Option("--objection", help="An objection to direct marketing (Art. 21).")
    ] = False,
    collection_point: Annotated[
        str | None, typer.Option(help="Where it was collected, e.g. 'phone call'.")
    ] = None,
    notice_version: Annotated[str | None, typer.Option(help="The notice's version.")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="When the person decided (ISO 8601, UTC).")
    ] = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """Append a decision to the ledger (source: cli), e.g. a withdrawal by phone.

    Example: coreo consent record prf_01j... marketing withdrawn --channel email
    """
    if status not in ("granted", "denied", "withdrawn"):
        raise InvalidInputError("status must be granted, denied or withdrawn")
    if basis not in LEGAL_BASES:
        raise InvalidInputError(f"--basis must be one of {', '.join(LEGAL_BASES)}")
    settings = load_settings()
    database = open_database(settings)
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        key = hash_key(session, "consent-proof", settings)
        row = service.record(
            session,
            workspace_id,
            profile,
            service.ConsentInput(
                purpose=purpose,
                status=cast(service.Status, status),
                legal_basis=basis,
                channel=channel,
                objection=objection,
                source="cli",
                collection_point=collection_point,
                notice_version=notice_version,
                at=at.replace(tzinfo=UTC) if at is not None else None,
            ),
            actor=cli_actor(),
            proof_key=key,
        )
        recorded = (row.id, row.profile_id)
    console.print(f"Recorded {recorded[0]}: {purpose} {status} for {recorded[1]}.")
    database.dispose()


@consent_app.command("show")
def show(profile: Profile, workspace: WorkspaceOption = "default") -> None:
    """The profile's current decision per purpose and channel, then its ledger.

    Example: coreo consent show prf_01j...
    """
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        records, flags = service.standing(session, workspace_id, profile)
        taxonomy = taxonomy_for(session, workspace_id)
    current = Table("purpose", "channel", "allowed", "why")
    for name, channel in taxonomy.decisions():
        decision = service.decide(records, name, channel, flags, taxonomy)
        allowed = "yes" if decision.allowed else "no"
        current.add_row(name, channel or "", allowed, decision.reason)
    console.print(current)
    ledger = Table("at", "purpose", "channel", "status", "basis", "source", "id")
    for r in records:
        status = f"{r.status} (objection)" if r.objection else r.status
        when = f"{r.at:%Y-%m-%d %H:%M}"
        ledger.add_row(when, r.purpose, r.channel or "", status, r.legal_basis, r.source, r.id)
    console.print(ledger)
    database.dispose()


@consent_app.command("check")
def check(
    profile: Profile,
    purpose: Purpose,
    channel: Channel = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """May the profile's data be used for the purpose now? Exit code 0 yes, 1 no.

    Example: coreo consent check prf_01j... marketing --channel email
    """
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        decision = service.check(session, workspace_id, profile, purpose, channel)
    database.dispose()
    console.print(f"{'allowed' if decision.allowed else 'not allowed'}: {decision.reason}")
    if not decision.allowed:
        raise typer.Exit(1)


purposes_app = typer.Typer(
    help="The workspace's purposes and consent-banner categories.", no_args_is_help=True
)
consent_app.add_typer(purposes_app, name="purposes")


@purposes_app.command("show")
def purposes_show(workspace: WorkspaceOption = "default") -> None:
    """Print the purposes in force as YAML (the installation's when the workspace set none);
    edit and give them to `coreo consent purposes apply`.

    Example: coreo consent purposes show > purposes.yml
    """
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        taxonomy = taxonomy_for(session, workspace_id)
    document = taxonomy_document(taxonomy)
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)


@purposes_app.command("apply")
def purposes_apply(
    file: Annotated[Path, typer.Argument(help="YAML or JSON: purposes: and categories:.")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Replace the workspace's purposes (audited). Checks from now on use them.

    Example: coreo consent purposes apply purposes.yml --workspace default
    """
    taxonomy = read_document(file, load_taxonomy)
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        version = put_taxonomy(session, workspace_id, taxonomy, actor=cli_actor())
    console.print(
        f"Purposes version {version} in force for {workspace}: {', '.join(taxonomy.purposes)}."
    )


@purposes_app.command("reset")
def purposes_reset(workspace: WorkspaceOption = "default") -> None:
    """Return to the installation's purposes (audited)."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        put_taxonomy(session, workspace_id, None, actor=cli_actor())
    console.print(f"The installation's purposes are in force for {workspace}.")
