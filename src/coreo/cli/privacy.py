"""`coreo privacy`: data subject requests from receipt to completion; `coreo retention`: the
purge and legal holds (see docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.cli._common import (
    WorkspaceOption,
    as_utc,
    cli_actor,
    console,
    load_settings,
    open_database,
    workspace_id_of,
)
from coreo.db import Database, utcnow
from coreo.errors import InvalidInputError
from coreo.eventlog import build_event_log
from coreo.privacy import crypto, keystore, retention
from coreo.privacy import requests as service
from coreo.privacy import ropa as records
from coreo.privacy.crypto import hash_key
from coreo.privacy.keys import master_key, read_key_file, write_key_file
from coreo.privacy.models import PrivacyRequest
from coreo.privacy.sealing import seal_stored
from coreo.profiles.service import lookup_given

__all__ = ["move_to_store", "privacy_app", "retention_app", "ropa", "rotate_master"]

privacy_app = typer.Typer(
    help="Data subject requests: access, portability, rectification, erasure, restriction, "
    "objection (GDPR Art. 15-21).",
    no_args_is_help=True,
)
RequestId = Annotated[str, typer.Argument(help="The request (dsr_...).")]


def _show(row: PrivacyRequest) -> None:
    overdue = service.overdue_by(row, utcnow())
    table = Table(show_header=False, box=None)
    for label, value in (
        ("request", row.id),
        ("type", row.type),
        ("profile", row.profile_id),
        ("status", row.status),
        ("verification", f"{row.verification} ({row.verification_method or 'not yet'})"),
        ("received", f"{row.received_at:%Y-%m-%d %H:%M}"),
        ("due", f"{row.due_at:%Y-%m-%d}" + (" (extended)" if row.extended else "")),
        ("overdue", f"by {overdue.days} day(s)" if overdue else "no"),
        ("evidence", orjson.dumps(row.evidence).decode() if row.evidence else "-"),
    ):
        table.add_row(label, str(value))
    console.print(table)


def _step(workspace: str, request: str, act: Callable[[Session, PrivacyRequest], object]) -> None:
    """One step of a request, in a transaction, then the request as it stands."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        row = service.get(session, workspace_id, request)
        act(session, row)
        _show(row)


def _identifier(text: str) -> tuple[str, str]:
    kind, sep, value = text.partition("=")
    if not sep or not kind or not value:
        raise InvalidInputError("--identifier is type=value, e.g. email=anna@example.ch")
    return kind.strip(), value


@privacy_app.command("create")
def create(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help=", ".join(service.REQUEST_TYPES))],
    profile: Annotated[str | None, typer.Option(help="The person's profile (prf_...).")] = None,
    identifier: Annotated[
        str | None, typer.Option(help="Or the identifier they gave: type=value.")
    ] = None,
    details: Annotated[
        str | None,
        typer.Option(help='JSON, e.g. \'{"traits": {"lastName": "Meier"}}\' to rectify.'),
    ] = None,
    received: Annotated[
        datetime | None, typer.Option(help="When it was received (default now; UTC).")
    ] = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """Receive a request; its deadline is one month later.

    Example: coreo privacy create erasure --identifier email=anna@example.ch
    """
    if (profile is None) == (identifier is None):
        raise InvalidInputError("name the person with --profile or --identifier (one of them)")
    parsed: Any = {}
    if details is not None:
        try:
            parsed = orjson.loads(details)
        except orjson.JSONDecodeError:
            raise InvalidInputError("--details is not JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidInputError("--details is a JSON object")
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        if identifier is not None:
            profile = lookup_given(session, workspace_id, *_identifier(identifier))
        row = service.create(
            session,
            workspace_id,
            type_=type_,
            profile_id=str(profile),
            actor=cli_actor(),
            details=parsed,
            received_at=as_utc(received),
        )
        _show(row)


@privacy_app.command("list")
def listing(
    status: Annotated[str | None, typer.Option(help="received, in_progress, ...")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Open and past the deadline.")] = False,
    workspace: WorkspaceOption = "default",
) -> None:
    """List requests, soonest deadline first."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    now = utcnow()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        rows = service.listing(session, workspace_id, status=status, overdue=overdue)
        table = Table("request", "type", "profile", "status", "verification", "due", "overdue")
        for row in rows:
            late = service.overdue_by(row, now)
            table.add_row(
                row.id,
                row.type,
                row.profile_id,
                row.status,
                row.verification,
                f"{row.due_at:%Y-%m-%d}",
                f"{late.days} d" if late else "",
            )
    console.print(table if rows else "No requests.")


@privacy_app.command("show")
def show(request: RequestId, workspace: WorkspaceOption = "default") -> None:
    """Show a request: its state, deadline and evidence."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        _show(service.get(session, workspace_id, request))


@privacy_app.command("verify")
def verify(
    request: RequestId,
    method: Annotated[str, typer.Option(help="How the identity was checked.")],
    failed: Annotated[bool, typer.Option("--failed", help="The check failed.")] = False,
    workspace: WorkspaceOption = "default",
) -> None:
    """Record the identity check (GDPR Art. 12(6))."""
    _step(
        workspace,
        request,
        lambda session, row: service.verify(
            session, row, verified=not failed, method=method, actor=cli_actor()
        ),
    )


@privacy_app.command("extend")
def extend(
    request: RequestId,
    months: Annotated[int, typer.Option(help="1 or 2.")],
    reason: Annotated[str, typer.Option(help="Why (complexity, number of requests).")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Extend the deadline once (GDPR Art. 12(3))."""
    _step(
        workspace,
        request,
        lambda session, row: service.extend(
            session, row, months=months, reason=reason, actor=cli_actor()
        ),
    )


@privacy_app.command("reject")
def reject(
    request: RequestId,
    reason: Annotated[str, typer.Option(help="Why the request is refused.")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Refuse a request (unfounded, excessive, identity not established), with the reason."""
    _step(
        workspace,
        request,
        lambda session, row: service.reject(session, row, reason=reason, actor=cli_actor()),
    )


@privacy_app.command("execute")
def execute(
    request: RequestId,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Access/portability: the ZIP to write.")
    ] = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """Carry out a verified request (an erasure cannot be undone).

    Example: coreo privacy execute dsr_01j... --out anna.zip
    """
    settings = load_settings()
    database = open_database(settings)
    workspace_id = workspace_id_of(database, workspace)
    event_log = build_event_log(settings, database)
    try:
        # An erasure's search of the event log runs first, outside the write transaction.
        scan = service.scan_before_erasure(database, workspace_id, request, event_log)
        with database.transaction(workspace_id=workspace_id) as session:
            row = service.get(session, workspace_id, request)
            if row.type in ("access", "portability") and out is None:
                raise InvalidInputError("an access request needs --out FILE.zip for the package")
            _, built = service.execute(
                session,
                row,
                actor=cli_actor(),
                tombstone_key=hash_key(session, "tombstone", settings),
                proof_key=hash_key(session, "consent-proof", settings),
                log=event_log,
                scan=scan,
            )
            if built is not None and out is not None:
                out.write_bytes(built.data)
                out.chmod(0o600)
                console.print(f"Wrote the package to {out} ({len(built.data):,} bytes).")
            _show(row)
    finally:
        event_log.close()


retention_app = typer.Typer(
    help="Retention: purge what has expired, and legal holds that exempt from it.",
    no_args_is_help=True,
)
hold_app = typer.Typer(help="Legal holds: a person or a data category kept.", no_args_is_help=True)
retention_app.add_typer(hold_app, name="hold")


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    workspace: WorkspaceOption = "default",
) -> None:
    """Delete or anonymise what has outlived its retention period (audited).

    Example: coreo retention run --dry-run
    """
    settings = load_settings()
    database = open_database(settings)
    workspace_id = workspace_id_of(database, workspace)
    event_log = build_event_log(settings, database)
    try:
        report = retention.run(
            database, workspace_id, settings, actor=cli_actor(), dry_run=dry_run, log=event_log
        )
    finally:
        event_log.close()
    table = Table("what", "would go" if dry_run else "purged")
    for what, count in sorted(report.purged.items()):
        table.add_row(what, f"{count:,}")
    console.print(table if report.purged else "Nothing has expired.")
    if dry_run and report.purged:
        console.print(
            "Dry run: nothing was deleted. Run it without --dry-run to purge this; the periods "
            "are the COREO_RETENTION_* settings (docs/privacy.md, Retention)."
        )
    if report.held_profiles or report.held_categories:
        categories = ", ".join(report.held_categories) or "none"
        console.print(f"Held: {report.held_profiles} profile(s); categories: {categories}.")


@hold_app.command("add")
def hold_add(
    reason: Annotated[str, typer.Option(help="Why (e.g. the litigation's reference).")],
    profile: Annotated[str | None, typer.Option(help="The person (prf_...).")] = None,
    category: Annotated[str | None, typer.Option(help="Or a data category.")] = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """Exempt a person or a category from retention (a held person cannot be erased)."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        hold = retention.add_hold(
            session,
            workspace_id,
            reason=reason,
            actor=cli_actor(),
            profile_id=profile,
            category=category,
        )
        console.print(f"Legal hold {hold.id} on {hold.profile_id or hold.category}.")


@hold_app.command("list")
def hold_list(
    all_: Annotated[bool, typer.Option("--all", help="Released ones too.")] = False,
    workspace: WorkspaceOption = "default",
) -> None:
    """List legal holds (active ones, unless --all)."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        rows = retention.holds(session, workspace_id, active=not all_)
        table = Table("hold", "on", "reason", "since", "released")
        for hold in rows:
            table.add_row(
                hold.id,
                hold.profile_id or f"category {hold.category}",
                hold.reason,
                f"{hold.created_at:%Y-%m-%d}",
                f"{hold.released_at:%Y-%m-%d}" if hold.released_at else "",
            )
    console.print(table if rows else "No legal holds.")


@hold_app.command("release")
def hold_release(
    hold: Annotated[str, typer.Argument(help="The hold (hld_...).")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Release a legal hold: retention and erasure apply again."""
    database = open_database(load_settings())
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id) as session:
        released = retention.release_hold(session, workspace_id, hold, actor=cli_actor())
        console.print(f"Released legal hold {released.id}.")


def ropa(
    format_: Annotated[str, typer.Option("--format", help="md or json.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File (default: print).")] = None,
    workspace: WorkspaceOption = "default",
) -> None:
    """The record of processing activities (GDPR Art. 30, revDSG Art. 12), generated from
    the configuration: purposes, data categories, sources, recipients, retention, measures.

    Example: coreo ropa --format md --out ropa.md
    """
    if format_ not in ("md", "json"):
        raise InvalidInputError("--format is md or json")
    settings = load_settings()
    database = open_database(settings)
    workspace_id = workspace_id_of(database, workspace)
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        record = records.build(session, workspace_id, settings)
    text = (
        records.markdown(record)
        if format_ == "md"
        else orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n"
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote the record of processing activities to {out}.")


def rotate_master(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Where the new master key is (read when it exists, else made and written "
            "there, readable by its owner only). Without it, COREO_HOME/master.key is "
            "replaced; with COREO_MASTER_KEY set, it is required."
        ),
    ] = None,
) -> None:
    """Re-wrap every person's data key and the keyring under a new master key.

    Nothing sealed is rewritten; consent proofs, tombstones and the blind index keep their
    hashes. The old key opens nothing afterwards.

    Example: coreo keys rotate-master --new-key-file /run/secrets/coreo-master.key
    """
    settings = load_settings()
    database = open_database(settings)
    old = master_key(settings)
    in_file = settings.master_key is None
    if new_key_file is None and not in_file:
        raise InvalidInputError(
            "the master key comes from COREO_MASTER_KEY: give --new-key-file to receive the new one"
        )
    key_file = (settings.home / "master.key").resolve()
    target = new_key_file or key_file.with_name("master.key.next")
    new = read_key_file(target) if target.exists() else write_key_file(target)
    if new == old:
        raise InvalidInputError("the new master key is the one in use")
    counts = crypto.rotate_master(database, old, new)
    if new_key_file is None:  # the key file: the new key takes its place
        target.replace(key_file)
    _audit_keys(
        database,
        "keys.master_rotated",
        f"master-key:{crypto.fingerprint(new)}",
        {"previous": crypto.fingerprint(old), **counts},
    )
    where = key_file if new_key_file is None else new_key_file
    console.print(
        f"Re-wrapped {counts['data_keys']:,} data key(s) and {counts['keyring']} keyring "
        f"secret(s) under master key {crypto.fingerprint(new)} ({where})."
    )
    if new_key_file is not None and not in_file:
        console.print("Set COREO_MASTER_KEY to the new key before the next start.")


def move_to_store() -> None:
    """Move the data keys and the keyring out of the database into the key store.

    The key store is the database named by COREO_KEY_DATABASE_URL. The keys are committed
    there first, then deleted from the operational database, so that its backups hold no
    key from now on (older backups still do: let them expire).

    Example: COREO_KEY_DATABASE_URL=sqlite:////srv/coreo-keys/keys.db coreo keys move-to-store
    """
    settings = load_settings()
    if settings.key_database_url is None:
        raise InvalidInputError("set COREO_KEY_DATABASE_URL to the key store first")
    database = open_database(settings, check_keys=False)
    try:
        counts = keystore.move_keys(database, keystore.key_store_of(settings))
    except ValueError as error:
        raise InvalidInputError(str(error)) from None
    _audit_keys(database, "keys.moved_to_store", "key-store", counts)
    console.print(
        f"Moved {counts['data_keys']:,} data key(s) and {counts['keyring']} keyring "
        "secret(s) into the key store; the database holds none now."
    )
    sealed = seal_stored(database)  # an upgrade that found the keys here left it to now
    if sealed:
        console.print(f"Sealed identifiers stored in clear: {sealed}")


def _audit_keys(database: Database, action: str, target: str, details: dict[str, Any]) -> None:
    """An installation-wide key operation, on the system audit chain."""
    with database.transaction() as session:
        audit_service.record(
            session=session,
            chain=audit_service.SYSTEM_CHAIN,
            actor=cli_actor(),
            action=action,
            target=target,
            details=details,
        )


def seal_identifiers() -> None:
    """Seal identifiers and events stored in clear (run after turning
    encrypt_personal_data on; an upgrade does it by itself). Interrupted, it goes on where
    it stopped when run again.

    Example: COREO_ENCRYPT_PERSONAL_DATA=true coreo keys seal
    """
    settings = load_settings()
    database = open_database(settings, seal=False)  # one pass, here, with its counts
    counts = seal_stored(database)
    _audit_keys(
        database,
        "keys.identifiers_sealed",
        "profile_identities",
        {"sealing": settings.encrypt_personal_data, **counts},
    )
    done = ", ".join(f"{n:,} {table}" for table, n in sorted(counts.items())) or "nothing to do"
    how = "sealed" if settings.encrypt_personal_data else "keyed (sealing is off)"
    console.print(f"Identifiers {how}: {done}.")
