"""`coreo import`: load a CSV, JSON Lines or Parquet file through ingestion."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from coreo.cli._common import (
    WorkspaceOption,
    cli_actor,
    console,
    load_settings,
    open_database,
    workspace_by_slug,
)
from coreo.eventlog import build_event_log
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.imports.readers import FORMATS, Format, guess_format

__all__ = ["import_file"]


def _summary(job: ImportJob) -> str:
    return (
        f"{job.rows_read:,} rows: {job.rows_accepted:,} accepted, "
        f"{job.rows_duplicate:,} duplicates, {job.rows_rejected:,} rejected"
    )


def import_file(
    file: Annotated[Path, typer.Argument(help="The file to import.", show_default=False)],
    source: Annotated[
        str, typer.Option(help="Where the data comes from, e.g. erp or pos (lower case).")
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", help=f"{', '.join(FORMATS)} (default: from the file name)."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML mapping of columns to identify/track fields.")
    ] = None,
    workspace: WorkspaceOption = "default",
    encoding: Annotated[str, typer.Option(help="Text encoding, e.g. latin-1.")] = "utf-8-sig",
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: guessed from the header).")
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Start a new import instead of resuming or skipping.")
    ] = False,
    chunk_rows: Annotated[int, typer.Option(min=1, max=10_000, help="Rows a transaction.")] = 500,
) -> None:
    """Import a file: each row becomes an identify or track event (resumable).

    Rows that cannot be read or mapped go to the dead-letter queue with their row number.
    Run the same command again to resume an interrupted import; a finished one is skipped.

    Example: coreo import customers.csv --source erp --mapping erp-customers.yml
    """
    fmt: Format = guess_format(file.name) if format is None else _format(format)
    if delimiter is not None and len(delimiter) != 1:
        raise typer.BadParameter("the delimiter is one character", param_hint="--delimiter")
    parsed = load_mapping(mapping) if mapping is not None else None
    settings = load_settings()
    database = open_database(settings)
    with database.transaction(write=False) as session:
        ws = workspace_by_slug(session, workspace)
        workspace_id = ws.id
    request = service.FileImport(
        path=file,
        source=source,
        format=fmt,
        mapping=parsed,
        encoding=encoding,
        delimiter=delimiter,
    )
    job, resuming = service.prepare_job(
        database, workspace_id=workspace_id, request=request, actor=cli_actor(), restart=restart
    )
    if job.status == "completed":
        console.print(
            f"{file.name} was already imported as {job.id} ({_summary(job)}). "
            "Use --restart to import it again."
        )
        return
    owner = service.new_owner()
    service.claim_job(database, workspace_id=workspace_id, job_id=job.id, owner=owner)
    if resuming:
        console.print(f"Resuming import {job.id} after row {job.rows_read:,}.")
    log = build_event_log(settings, database)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # the current chunk commits; the job is left resumable

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn() if fmt != "parquet" else MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(file.name, total=None, status="")

            def show(p: service.Progress) -> None:
                status = f"{p.rows_read:,} rows, {p.rejected:,} rejected"
                if p.waiting_for:
                    status += f" — waiting: workers {p.waiting_for:,} events behind"
                bar.update(task, completed=p.done, total=p.total, status=status)

            finished = service.run_job(
                database,
                log,
                settings,
                job=job,
                owner=owner,
                path=file,
                progress=show,
                stop=stop,
                chunk_rows=chunk_rows,
            )
    finally:
        log.close()
        database.dispose()
    if finished.status == "interrupted":
        console.print(
            f"Stopped import {job.id} after row {finished.rows_read:,}; "
            "run the same command again to resume."
        )
        raise typer.Exit(130)
    console.print(f"Imported {file.name} as {job.id}: {_summary(finished)}.")
    if finished.rows_rejected:
        console.print(
            f"Rejected rows are dead letters with their row numbers: "
            f"coreo dlq list --workspace {workspace}"
        )


def _format(value: str) -> Format:
    if value not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    return value
