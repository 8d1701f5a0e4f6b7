"""`coreo worker` and `coreo dlq`: run the stream workers and manage dead letters."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import orjson
import typer
from rich.table import Table

from coreo.cli._common import (
    WorkspaceOption,
    as_utc,
    cli_actor,
    console,
    load_settings,
    open_database,
    workspace_by_slug,
)
from coreo.consent import service as consent_service
from coreo.errors import InvalidInputError
from coreo.eventlog import build_event_log
from coreo.history import service as history_service
from coreo.ingest import dlq
from coreo.ingest.normalize import NormaliseOptions
from coreo.observability.logs import configure_logging
from coreo.privacy import files as privacy_files
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker

__all__ = ["dlq_app", "events_app", "worker"]


def worker(
    batch_size: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Events per transaction.")
    ] = None,
) -> None:
    """Run a stream worker alone (the distributed mode); stops cleanly on SIGTERM or Ctrl+C.

    Example: COREO_DATABASE_URL=postgresql+psycopg://coreo@db/coreo coreo worker
    """
    settings = load_settings(worker_batch_size=batch_size)
    configure_logging(level=settings.log_level, fmt=settings.log_format.value)
    database = open_database(settings)
    log = build_event_log(settings, database)
    runner = Worker(
        database,
        log,
        default_stages(settings),
        batch_size=settings.worker_batch_size,
        lease_ttl=settings.worker_lease_seconds,
        lease_renew_interval=settings.worker_lease_seconds / 5,
        linger=settings.worker_linger_ms / 1000,
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # the current batch finishes (graceful drain), then the loop ends

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    console.print(
        f"Worker on {database.display_url}: {log.partitions} partitions, "
        f"stages {', '.join(s.name for s in runner.stages)}. Stop with Ctrl+C."
    )
    runner.run(stop)
    console.print(
        f"Stopped after {runner.processed:,} events ({runner.dead_letters:,} dead letters)."
    )
    database.dispose()


dlq_app = typer.Typer(help="Inspect, replay and purge dead letters.", no_args_is_help=True)


@dlq_app.command("list")
def dlq_list(
    workspace: WorkspaceOption = "default",
    status: Annotated[str, typer.Option(help="open, replayed or all.")] = "open",
    stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event name.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List dead letters, oldest first.

    Example: coreo dlq list --workspace default --stage validation
    """
    if status not in ("open", "replayed", "all"):
        raise InvalidInputError("--status must be open, replayed or all")
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        ws = workspace_by_slug(session, workspace)
        letters = dlq.list_dead_letters(
            session=session,
            workspace_id=ws.id,
            status=None if status == "all" else status,
            stage=stage,
            event_name=event,
            limit=limit,
        )
    if not letters:
        shown = "" if status == "all" else f"{status} "
        console.print(f"No {shown}dead letters in workspace {workspace}.")
        return
    table = Table("id", "stage", "event", "status", "replays", "reason", title="Dead letters")
    for letter in letters:
        table.add_row(
            letter.id,
            letter.stage,
            letter.event_name or letter.event_type or "",
            letter.status,
            str(letter.replay_count),
            letter.reason,
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(letter_id: str, workspace: WorkspaceOption = "default") -> None:
    """Print one dead letter with its original payload as JSON.

    Example: coreo dlq show dl_01jd3k... --workspace default
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        ws = workspace_by_slug(session, workspace)
        letter = dlq.get_dead_letter(session=session, workspace_id=ws.id, letter_id=letter_id)
        data = {
            "id": letter.id,
            "stage": letter.stage,
            "reason": letter.reason,
            "status": letter.status,
            "replay_count": letter.replay_count,
            "received_at": letter.received_at.isoformat(),
            "payload": letter.payload,
        }
    console.print_json(orjson.dumps(data).decode())


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Letters to replay (default: all open).")
    ] = None,
    workspace: WorkspaceOption = "default",
    stage: Annotated[str | None, typer.Option(help="Only open letters of this stage.")] = None,
) -> None:
    """Run dead letters again from the stage that refused them.

    Example: coreo dlq replay --workspace default --stage validation
    """
    settings = load_settings()
    database = open_database(settings)
    log = build_event_log(settings, database)
    with database.transaction() as session:
        ws = workspace_by_slug(session, workspace)
        session.info["workspace_id"] = ws.id
        outcome = dlq.replay_dead_letters(
            session=session,
            log=log,
            workspace_id=ws.id,
            actor=cli_actor(),
            options=NormaliseOptions.from_settings(settings),
            dedupe_window=timedelta(hours=settings.ingest_dedupe_hours),
            ids=ids or None,
            stage=stage,
            max_message_bytes=settings.ingest_max_message_bytes,
        )
    console.print(f"Replayed {len(outcome.replayed)}; {len(outcome.failed)} failed again.")
    for letter_id, reason in outcome.failed.items():
        console.print(f"  {letter_id}: {reason}", markup=False)
    if outcome.failed:
        raise typer.Exit(1)


@dlq_app.command("purge")
def dlq_purge(
    ids: Annotated[list[str] | None, typer.Argument(help="Letters to delete.")] = None,
    workspace: WorkspaceOption = "default",
    status: Annotated[str | None, typer.Option(help="Delete all letters in this status.")] = None,
    older_than_days: Annotated[
        float | None, typer.Option(min=0, help="Only letters older than this many days.")
    ] = None,
) -> None:
    """Delete dead letters (the purge is audited).

    Example: coreo dlq purge --workspace default --status replayed --older-than-days 30
    """
    before = (
        datetime.now(UTC) - timedelta(days=older_than_days) if older_than_days is not None else None
    )
    database = open_database(load_settings())
    with database.transaction() as session:
        ws = workspace_by_slug(session, workspace)
        count = dlq.purge_dead_letters(
            session=session,
            workspace_id=ws.id,
            actor=cli_actor(),
            ids=ids or None,
            status=status,
            before=before,
        )
    console.print(f"Purged {count} dead letter(s).")


events_app = typer.Typer(help="The event history.", no_args_is_help=True)


@events_app.command("export")
def events_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write.")],
    workspace: WorkspaceOption = "default",
    purpose: Annotated[
        str,
        typer.Option(
            help="What the export is for: only the events of people whose consents allow it "
            "go in (analytics, personalisation, third_party_sharing, ...)."
        ),
    ] = "analytics",
    since: Annotated[
        datetime | None, typer.Option(help="Only events at or after (ISO date or date-time, UTC).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Only events before.")] = None,
) -> None:
    """Export a workspace's processed events to Parquet (for DuckDB, Spark, pandas).

    Only the events of people whose consents allow ``--purpose`` are written; the file is
    recorded, so an erasure later rewrites it without the person, and the export is audited.

    Example: coreo events export --workspace default --out events.parquet --since 2025-01-01
    """
    database = open_database(load_settings())
    with database.transaction() as session:
        ws = workspace_by_slug(session, workspace)
        allowed = consent_service.checker(session, ws.id, purpose)
        count = history_service.export_parquet(
            session=session,
            workspace_id=ws.id,
            path=out,
            since=as_utc(since),
            until=as_utc(until),
            include=lambda profile_id: allowed(profile_id).allowed,
        )
        privacy_files.record_export(
            session, ws.id, out, rows=count, purpose=purpose, actor=cli_actor()
        )
    console.print(f"Exported {count:,} events to {out} (for {purpose}).")
