"""Import a file: rows become Segment messages and go through ingestion in chunks.

Each chunk (rows, their dead letters, the de-duplication claims, the log records with the
SQL log, and the job's new position) commits in one transaction, so an import stopped at
any point — Ctrl+C, ``kill -9``, a lost database — resumes exactly after the last chunk it
kept. With NATS the log append precedes the commit; a chunk repeated after a crash carries
the same message ids, which ingestion and the stages de-duplicate.

A row that cannot become a valid message becomes a dead letter with its row number and the
reason: stage ``import`` when it cannot be read or mapped (fix the file or mapping and
import again), ``validation`` or ``tracking_plan`` when the message it became is refused
(replayable). Every row gets a stable message id — from the mapping, or derived from the
source and the row's content — so importing a corrected file again sends only the rows
not yet accepted within the de-duplication window.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Literal, cast

import orjson
from sqlalchemy import Table, case, or_, select, update
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.config import Settings
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from coreo.eventlog.base import EventLog
from coreo.ids import new_id
from coreo.ingest.imports.mapping import Mapping as RowMapping
from coreo.ingest.imports.mapping import RowError, row_to_message
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.imports.readers import Format, Reader, file_digest, jsonable, open_reader
from coreo.ingest.models import DeadLetter
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.plans import compiled_plan
from coreo.ingest.service import dead_letter, ingest_messages
from coreo.runtime.owners import new_owner, owner_is_gone
from coreo.runtime.worker import DEFAULT_GROUP

__all__ = [
    "HEARTBEAT_TIMEOUT",
    "FileImport",
    "Progress",
    "claim_job",
    "get_job",
    "list_jobs",
    "new_owner",
    "prepare_job",
    "run_job",
]

_DEAD = cast(Table, DeadLetter.__table__)
SOURCE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
HEARTBEAT_TIMEOUT = timedelta(seconds=30)  # a "running" job silent this long may be resumed
STAGE = "import"


@dataclass(frozen=True, slots=True)
class FileImport:
    """What to import and how to read it."""

    path: Path
    source: str
    format: Format
    mapping: RowMapping | None = None
    encoding: str = "utf-8-sig"
    delimiter: str | None = None
    file_name: str | None = None  # shown and recorded; an upload's original name


@dataclass(frozen=True, slots=True)
class Progress:
    job_id: str
    done: int
    total: int
    unit: Literal["bytes", "rows"]
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    waiting_for: int = 0  # unprocessed events ingestion waits on (back-pressure)


ProgressCallback = Callable[[Progress], None]


def _check_source(source: str) -> None:
    if not SOURCE_PATTERN.fullmatch(source):
        raise InvalidInputError(
            "a source name is 1-100 lower-case letters, digits, '_', '-' or '.', e.g. erp",
            field="source",
        )


def get_job(*, session: Session, workspace_id: str, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None or job.workspace_id != workspace_id:
        raise NotFoundError(f"no import job {job_id!r}")
    return job


def list_jobs(*, session: Session, workspace_id: str, limit: int = 50) -> list[ImportJob]:
    query = (
        select(ImportJob)
        .where(ImportJob.workspace_id == workspace_id)
        .order_by(ImportJob.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def prepare_job(
    database: Database,
    *,
    workspace_id: str,
    request: FileImport,
    actor: str,
    key_id: str | None = None,
    stored_path: Path | None = None,
    restart: bool = False,
) -> tuple[ImportJob, bool]:
    """Find the unfinished job for this file, source and mapping, or create one.

    Returns the job and whether it is a resumption. A completed job is returned as it is
    (status ``completed``) unless ``restart`` asks for a new one.
    """
    _check_source(request.source)
    open_reader(request.path, request.format, encoding=request.encoding)  # fail early
    digest = file_digest(request.path)
    mapping_sha = request.mapping.digest() if request.mapping is not None else ""
    now = utcnow()
    with database.transaction(workspace_id=workspace_id) as session:
        if not restart:
            latest = session.scalars(
                select(ImportJob)
                .where(
                    ImportJob.workspace_id == workspace_id,
                    ImportJob.source == request.source,
                    ImportJob.file_sha256 == digest,
                    ImportJob.mapping_sha256 == mapping_sha,
                )
                .order_by(ImportJob.created_at.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.status != "failed":
                session.expunge(latest)
                return latest, latest.status != "completed"
        job = ImportJob(
            id=new_id("imp"),
            workspace_id=workspace_id,
            source=request.source,
            file_name=(request.file_name or request.path.name)[:500],
            file_sha256=digest,
            file_bytes=request.path.stat().st_size,
            format=request.format,
            encoding=request.encoding,
            delimiter=request.delimiter,
            mapping=request.mapping.model_dump(exclude_defaults=True) if request.mapping else None,
            mapping_sha256=mapping_sha,
            stored_path=str(stored_path) if stored_path is not None else None,
            key_id=key_id,
            status="pending",  # until a runner claims it
            rows_read=0,
            rows_accepted=0,
            rows_duplicate=0,
            rows_rejected=0,
            resumed=0,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        audit_service.record(
            session=session,
            chain=workspace_id,
            actor=actor,
            action="import.created",
            target=f"import_jobs:{job.id}",
            details={
                "source": job.source,
                "file": job.file_name,
                "sha256": digest,
                "format": job.format,
                "mapping_sha256": mapping_sha or None,
            },
        )
        session.flush()
        session.expunge(job)
    return job, False


def claim_job(database: Database, *, workspace_id: str, job_id: str, owner: str) -> None:
    """Take the job to run it; refused while another live process runs it.

    A runner is presumed alive while its heartbeat is fresh, unless it was a process on
    this host that has gone (then the job is taken at once).
    """
    now = utcnow()
    with database.transaction(workspace_id=workspace_id) as session:
        table = cast(Table, ImportJob.__table__)
        current = session.execute(
            select(table.c.owner).where(table.c.id == job_id, table.c.workspace_id == workspace_id)
        ).scalar()
        gone = current if owner_is_gone(current) else owner
        claimed = session.execute(
            update(table)
            .where(
                table.c.id == job_id,
                table.c.workspace_id == workspace_id,
                table.c.status != "completed",
                or_(
                    table.c.status != "running",
                    table.c.owner.in_([owner, gone]),
                    table.c.updated_at < now - HEARTBEAT_TIMEOUT,
                ),
            )
            .values(
                status="running",
                owner=owner,
                updated_at=now,
                error=None,
                resumed=table.c.resumed + case((table.c.rows_read > 0, 1), else_=0),
            )
        )
        if getattr(claimed, "rowcount", 0) != 1:
            job = get_job(session=session, workspace_id=workspace_id, job_id=job_id)
            if job.status == "completed":
                raise ConflictError(f"import {job_id} is already complete")
            raise ConflictError(
                f"import {job_id} is running in another process "
                f"(last heartbeat {job.updated_at:%Y-%m-%d %H:%M:%S} UTC); "
                f"it can be resumed {int(HEARTBEAT_TIMEOUT.total_seconds())} s after that stops"
            )


def default_message_id(source: str, row: Mapping[str, Any]) -> str:
    """Stable per source and row content, wherever the row stands in the file.

    A corrected or extended file imported again sends only the rows that are new or
    changed (within the de-duplication window); identical rows count as one.
    """
    content = orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str)
    digest = hashlib.sha256(source.encode() + b"\0" + content).hexdigest()
    return f"imp-{digest[:40]}"


def _complete(
    message: dict[str, Any], job: ImportJob, number: int, row: Mapping[str, Any]
) -> dict[str, Any]:
    if "messageId" not in message:
        message["messageId"] = default_message_id(job.source, row)
    context = message.get("context")
    if not isinstance(context, dict):
        context = message["context"] = {}
    context["import"] = {"source": job.source, "job": job.id, "row": number}
    return message


def _mapping_of(job: ImportJob) -> RowMapping | None:
    return RowMapping.model_validate(job.mapping) if job.mapping is not None else None


@dataclass(slots=True)
class _Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


class _Runner:
    """Runs one claimed job chunk by chunk."""

    def __init__(
        self,
        database: Database,
        log: EventLog,
        settings: Settings,
        job: ImportJob,
        owner: str,
        path: Path,
        chunk_rows: int,
    ) -> None:
        self.database = database
        self.log = log
        self.settings = settings
        self.job = job
        self.owner = owner
        self.path = path
        self.chunk_rows = chunk_rows
        self.mapping = _mapping_of(job)
        self.options = NormaliseOptions.from_settings(settings)
        self.window = timedelta(hours=settings.ingest_dedupe_hours)
        self.lag = 0  # unprocessed events at the last measurement
        self.sent = 0  # events appended since

    def open(self) -> Reader:
        reader = open_reader(
            self.path,
            cast(Format, self.job.format),
            encoding=self.job.encoding,
            delimiter=self.job.delimiter,
        )
        if self.mapping is not None and reader.columns is not None:
            missing = self.mapping.missing_columns(reader.columns)
            if missing:
                raise InvalidInputError(
                    f"the mapping names columns the file lacks: {', '.join(missing)} "
                    f"(columns: {', '.join(reader.columns)})",
                    field="mapping",
                )
        return reader

    def wait_for_capacity(self, stop: threading.Event, notify: Callable[[int], None]) -> None:
        """Back-pressure: pause while the workers are further behind than ingestion allows.

        The lag is measured only when the last measurement plus what was sent since could
        exceed the limit (it grows by no more than what this import sends).
        """
        limit = self.settings.ingest_max_lag
        if limit <= 0 or self.lag + self.sent <= limit:
            return
        while not stop.is_set():
            self.lag = sum(self.log.lag(DEFAULT_GROUP, p) for p in range(self.log.partitions))
            self.sent = 0
            if self.lag <= limit:
                return
            notify(self.lag)
            stop.wait(0.5)

    def chunk(self, rows: list[tuple[int, dict[str, Any] | RowError]]) -> _Counts:
        job, counts = self.job, _Counts()
        received_at = utcnow()
        with self.database.transaction(workspace_id=job.workspace_id) as session:
            messages, numbers = [], []
            for number, row in rows:
                try:
                    if isinstance(row, RowError):
                        raise row
                    message = row_to_message(row, self.mapping)
                except RowError as error:
                    self._reject(session, number, str(error), row, received_at)
                    counts.rejected += 1
                    continue
                messages.append(_complete(message, job, number, row))
                numbers.append(number)
            plan = (
                compiled_plan(session=session, workspace_id=job.workspace_id, key_id=job.key_id)
                if job.key_id
                else None
            )
            result = ingest_messages(
                session=session,
                log=self.log,
                workspace_id=job.workspace_id,
                messages=messages,
                received_at=received_at,
                options=self.options,
                dedupe_window=self.window,
                max_message_bytes=self.settings.ingest_max_message_bytes,
                key_id=job.key_id,
                plan=plan,
            )
            for rejection in result.rejected:  # name the row in the dead letter's reason
                session.execute(
                    update(_DEAD)
                    .where(_DEAD.c.id == rejection.dead_letter_id)
                    .values(reason=f"row {numbers[rejection.index]}: {rejection.reason}"[:2000])
                )
            counts.accepted = len(result.accepted)
            self.sent += counts.accepted
            counts.duplicates = len(result.duplicates)
            counts.rejected += len(result.rejected)
            self._advance(session, rows[-1][0], counts, received_at)
        return counts

    def _reject(self, session: Session, number: int, reason: str, row: Any, now: datetime) -> None:
        job = self.job
        dead_letter(
            session,
            workspace_id=job.workspace_id,
            stage=STAGE,
            reason=f"row {number}: {reason}",
            payload={
                "import": {"source": job.source, "job": job.id, "row": number},
                "row": None if isinstance(row, RowError) else jsonable(row),
            },
            received_at=now,
            now=now,
            key_id=job.key_id,
        )

    def _advance(self, session: Session, last_row: int, counts: _Counts, now: datetime) -> None:
        table = cast(Table, ImportJob.__table__)
        moved = session.execute(
            update(table)
            .where(table.c.id == self.job.id, table.c.owner == self.owner)
            .values(
                rows_read=last_row,
                rows_accepted=table.c.rows_accepted + counts.accepted,
                rows_duplicate=table.c.rows_duplicate + counts.duplicates,
                rows_rejected=table.c.rows_rejected + counts.rejected,
                updated_at=now,
            )
        )
        if getattr(moved, "rowcount", 0) != 1:  # rolls this chunk back
            raise ConflictError(f"import {self.job.id} was taken over by another process")

    def finish(self, status: str, error: str | None = None) -> ImportJob:
        now = utcnow()
        with self.database.transaction(workspace_id=self.job.workspace_id) as session:
            job = get_job(session=session, workspace_id=self.job.workspace_id, job_id=self.job.id)
            if job.owner == self.owner:
                job.status, job.error, job.owner, job.updated_at = status, error, None, now
                if status == "completed":
                    job.finished_at = now
                    audit_service.record(
                        session=session,
                        chain=job.workspace_id,
                        actor=job.created_by,
                        action="import.completed",
                        target=f"import_jobs:{job.id}",
                        details={
                            "rows": job.rows_read,
                            "accepted": job.rows_accepted,
                            "duplicates": job.rows_duplicate,
                            "rejected": job.rows_rejected,
                        },
                    )
            session.flush()
            session.expunge(job)
        return job


def _chunks(
    rows: Iterator[tuple[int, dict[str, Any] | RowError]], size: int
) -> Iterator[list[tuple[int, dict[str, Any] | RowError]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def run_job(
    database: Database,
    log: EventLog,
    settings: Settings,
    *,
    job: ImportJob,
    owner: str,
    path: Path | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    chunk_rows: int = 500,
) -> ImportJob:
    """Run a claimed job from its resume point to the end (or until ``stop`` is set).

    Returns the job as stored afterwards: ``completed``, ``interrupted`` (stopped; resume
    it later) or ``failed`` (with ``error``; a whole-file problem such as a mapping naming a
    missing column). Rows the file cannot give are dead letters, not failures.
    """
    stop = stop or threading.Event()
    source = path or (Path(job.stored_path) if job.stored_path else None)
    if source is None:
        raise InvalidInputError(f"import {job.id} has no stored file; import the file again")
    runner = _Runner(database, log, settings, job, owner, source, chunk_rows)
    try:
        reader = runner.open()
        if source.stat().st_size != job.file_bytes:
            raise InvalidInputError(f"{source.name} changed since import {job.id} began")
        position = job.rows_read
        counts = _Counts(job.rows_accepted, job.rows_duplicate, job.rows_rejected)

        def report(waiting: int = 0) -> None:
            if progress is not None:
                progress(
                    Progress(
                        job.id,
                        reader.done(),
                        reader.total,
                        reader.unit,
                        position,
                        counts.accepted,
                        counts.duplicates,
                        counts.rejected,
                        waiting,
                    )
                )

        report()
        for rows in _chunks(reader.rows(after=job.rows_read), chunk_rows):
            runner.wait_for_capacity(stop, report)
            if stop.is_set():
                return runner.finish("interrupted")
            done = runner.chunk(rows)
            position = rows[-1][0]
            counts.accepted += done.accepted
            counts.duplicates += done.duplicates
            counts.rejected += done.rejected
            report()
    except (InvalidInputError, ConflictError) as error:
        runner.finish("failed", str(error))
        raise
    except BaseException as error:  # Ctrl+C, a lost database: resumable from the last chunk
        with contextlib.suppress(Exception):  # the database may be what was lost
            runner.finish("interrupted", f"{type(error).__name__}: {str(error)[:500]}")
        raise
    return runner.finish("completed")
