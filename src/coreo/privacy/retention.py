"""Retention (GDPR Art. 5(1)(e), revDSG Art. 6(4)): delete what has been kept long enough.

``run`` purges one workspace, per data category (the periods are settings, see
``coreo config show``):

* behavioural events after ``retention_behavioural_days``; transactional events (the
  ``retention_transactional_events`` names) after ``retention_transactional_days``;
* profiles with no activity for ``retention_inactive_profile_days``: erased like an erasure
  request, without tombstones (the person may come back);
* dead letters and tracking-plan violations after ``retention_operational_days``;
* event exports and uploaded import files after ``retention_file_days``;
* event-log records after ``retention_log_days``, once every consumer group has processed
  them (SQL log: the workspace's records; NATS: the shared streams, every workspace's).

Legal holds exempt a person (and the profiles merged into them) or a whole category.
``dry_run`` counts without deleting. A real run works in short transactions (``CHUNK``
rows, ``PROFILES_PER_TRANSACTION`` profiles each), so ingestion and the worker never wait
for the whole purge, and is audited (``retention.purged``).
The audit chain itself is kept: it is the accountability record (Art. 5(2)).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from coreo.audit import service as audit_service
from coreo.config import Settings
from coreo.consent.service import subject
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from coreo.eventlog.base import EventLog
from coreo.eventlog.sql import SqlEventLog, trim_records
from coreo.history.models import EventRecord
from coreo.identity.models import Profile, ProfileIdentity
from coreo.identity.service import cluster_members, lock_workspace
from coreo.ids import new_id
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.models import DeadLetter, PlanViolation
from coreo.privacy import erasure, transit
from coreo.privacy.datamap import CATEGORIES
from coreo.privacy.models import DataFile, LegalHold

_log = logging.getLogger(__name__)

__all__ = ["Report", "add_hold", "holds", "release_hold", "run"]

PROFILES_PER_RUN = 1000  # inactive profiles erased per run (each is a small erasure)
PROFILES_PER_TRANSACTION = 100  # of them, erased in one transaction
CHUNK = 5000  # expired rows deleted in one transaction
_PERSONAL = {"contact", "demographic", "identifiers"}  # held, they keep inactive profiles


@dataclass(slots=True)
class Report:
    dry_run: bool
    purged: dict[str, int] = field(default_factory=dict)
    held_profiles: int = 0
    held_categories: list[str] = field(default_factory=list)

    def note(self, what: str, count: int) -> None:
        if count:
            self.purged[what] = self.purged.get(what, 0) + count


def add_hold(
    session: Session,
    workspace_id: str,
    *,
    reason: str,
    actor: str,
    profile_id: str | None = None,
    category: str | None = None,
) -> LegalHold:
    """Exempt a person or a data category from retention (and a person from erasure)."""
    if (profile_id is None) == (category is None):
        raise InvalidInputError("a legal hold covers a profile or a category (one of them)")
    if category is not None and category not in CATEGORIES:
        raise InvalidInputError(
            f"unknown category {category!r}; one of {', '.join(CATEGORIES)}", field="category"
        )
    if profile_id is not None:
        profile_id = subject(session, workspace_id, profile_id)  # a merged id: its survivor
    hold = LegalHold(
        id=new_id("hld"),
        workspace_id=workspace_id,
        profile_id=profile_id,
        category=category,
        reason=reason,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(hold)
    session.flush()
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="retention.hold_added",
        target=f"profile:{profile_id}" if profile_id else f"category:{category}",
        details={"hold": hold.id},
    )
    return hold


def release_hold(session: Session, workspace_id: str, hold_id: str, *, actor: str) -> LegalHold:
    hold = session.scalar(
        select(LegalHold).where(LegalHold.workspace_id == workspace_id, LegalHold.id == hold_id)
    )
    if hold is None:
        raise NotFoundError(f"no legal hold {hold_id!r}")
    if hold.released_at is not None:
        raise ConflictError(f"legal hold {hold_id} was released already")
    hold.released_at, hold.released_by = utcnow(), actor
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="retention.hold_released",
        target=f"profile:{hold.profile_id}" if hold.profile_id else f"category:{hold.category}",
        details={"hold": hold.id},
    )
    return hold


def holds(session: Session, workspace_id: str, *, active: bool = True) -> list[LegalHold]:
    query = select(LegalHold).where(LegalHold.workspace_id == workspace_id)
    if active:
        query = query.where(LegalHold.released_at.is_(None))
    return list(session.scalars(query.order_by(LegalHold.created_at, LegalHold.id)))


Where = list[ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class _Scope:
    """What legal holds exempt, read again in every transaction of a run."""

    held: frozenset[str]  # profile ids (with the profiles merged into them)
    categories: tuple[str, ...]

    @classmethod
    def read(cls, session: Session, workspace_id: str) -> _Scope:
        active = holds(session, workspace_id)
        people = [h.profile_id for h in active if h.profile_id]
        return cls(
            frozenset(cluster_members(session, workspace_id, people)),
            tuple(sorted({h.category for h in active if h.category})),
        )


@dataclass(frozen=True, slots=True)
class _Expiry:
    """One kind of row that expires: its name in the report, model, key column, and the
    rows expired in a scope (None: a legal hold keeps all of them)."""

    what: str
    model: Any
    key: Any
    where: Callable[[_Scope], Where | None]


def _purge(database: Database, workspace_id: str, report: Report, expiry: _Expiry) -> None:
    """Delete what has expired ``CHUNK`` rows a transaction, so that no writer (ingestion,
    the worker) waits for the whole purge; each transaction reads the holds again."""
    if report.dry_run:
        with database.transaction(workspace_id=workspace_id, write=False) as session:
            where = expiry.where(_Scope.read(session, workspace_id))
            if where is not None:
                query = select(func.count()).select_from(expiry.model).where(*where)
                report.note(expiry.what, int(session.scalar(query) or 0))
        return
    while True:
        with database.transaction(workspace_id=workspace_id) as session:
            where = expiry.where(_Scope.read(session, workspace_id))
            if where is None:
                return
            chosen = select(expiry.key).where(*where).limit(CHUNK)
            result = session.execute(
                delete(expiry.model).where(
                    expiry.model.workspace_id == workspace_id, expiry.key.in_(chosen)
                )
            )
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        report.note(expiry.what, deleted)
        if deleted < CHUNK:
            return


def _expiries(workspace_id: str, settings: Settings, now: datetime) -> list[_Expiry]:
    transactional = settings.retention_transactional_events
    is_transaction = and_(EventRecord.type == "track", EventRecord.event.in_(transactional))
    operational = now - timedelta(days=settings.retention_operational_days)

    def events(category: str, days: int, kind: ColumnElement[bool]) -> _Expiry:
        def where(scope: _Scope) -> Where | None:
            if category in scope.categories:
                return None
            found = [
                EventRecord.workspace_id == workspace_id,
                EventRecord.timestamp < now - timedelta(days=days),
                kind,
            ]
            if scope.held:
                found.append(
                    or_(
                        EventRecord.profile_id.is_(None),
                        EventRecord.profile_id.not_in(sorted(scope.held)),
                    )
                )
            return found

        return _Expiry(f"{category} events", EventRecord, EventRecord.message_id, where)

    def operational_rows(what: str, model: Any) -> _Expiry:
        return _Expiry(
            what,
            model,
            model.id,
            lambda _: [model.workspace_id == workspace_id, model.created_at < operational],
        )

    return [
        events("behavioural", settings.retention_behavioural_days, not_(is_transaction)),
        events("transactional", settings.retention_transactional_days, is_transaction),
        operational_rows("dead letters", DeadLetter),
        operational_rows("plan violations", PlanViolation),
    ]


def _stale_profiles(
    session: Session,
    workspace_id: str,
    settings: Settings,
    now: datetime,
    scope: _Scope,
    among: Collection[str] | None = None,
) -> list[str]:
    """Profiles with no activity for ``retention_inactive_profile_days`` (at most
    ``PROFILES_PER_RUN``; ``among``: of these only)."""
    cutoff = now - timedelta(days=settings.retention_inactive_profile_days)
    active = (
        select(ProfileIdentity.profile_id)
        .where(ProfileIdentity.workspace_id == workspace_id, ProfileIdentity.last_seen >= cutoff)
        .scalar_subquery()
    )
    merged_active = (
        select(Profile.merged_into)
        .where(
            Profile.workspace_id == workspace_id,
            Profile.merged_into.is_not(None),
            Profile.id.in_(active),
        )
        .scalar_subquery()
    )
    query = select(Profile.id).where(
        Profile.workspace_id == workspace_id,
        Profile.merged_into.is_(None),
        Profile.updated_at < cutoff,
        Profile.id.not_in(active),
        Profile.id.not_in(merged_active),
    )
    if scope.held:
        query = query.where(Profile.id.not_in(sorted(scope.held)))
    if among is not None:
        query = query.where(Profile.id.in_(sorted(among)))
    return [str(p) for p in session.scalars(query.order_by(Profile.id).limit(PROFILES_PER_RUN))]


def _inactive_profiles(
    database: Database,
    workspace_id: str,
    settings: Settings,
    now: datetime,
    actor: str,
    report: Report,
    log: EventLog | None,
) -> None:
    """Erase inactive profiles (like an erasure request, without tombstones: the person
    may come back), ``PROFILES_PER_TRANSACTION`` a transaction. Each transaction holds
    the workspace's identity lock and finds its profiles still inactive and not held, so
    a worker batch that made one active meanwhile keeps it."""
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        scope = _Scope.read(session, workspace_id)
        if _PERSONAL & set(scope.categories):
            return
        stale = _stale_profiles(session, workspace_id, settings, now, scope)
    if report.dry_run:
        report.note("inactive profiles", len(stale))
        return
    scan = None
    if stale and erasure.searches_ahead(log):  # one search of the log for them all, no lock held
        with database.transaction(workspace_id=workspace_id, write=False) as session:
            people = [erasure.find_person(session, workspace_id, p) for p in stale]
        scan = erasure.scan_log(database, people, log)
    for start in range(0, len(stale), PROFILES_PER_TRANSACTION):
        with database.transaction(workspace_id=workspace_id) as session:
            lock_workspace(session, workspace_id)  # no worker batch makes one active meanwhile
            scope = _Scope.read(session, workspace_id)
            if _PERSONAL & set(scope.categories):
                return
            among = stale[start : start + PROFILES_PER_TRANSACTION]
            chunk = _stale_profiles(session, workspace_id, settings, now, scope, among)
            for profile_id in chunk:  # the search's records and what was appended since
                erasure.erase(
                    session,
                    workspace_id,
                    profile_id,
                    tombstone_key=None,
                    actor=actor,
                    reason="retention",
                    log=log,
                    scan=scan,
                )
        report.note("inactive profiles", len(chunk))


def _files(session: Session, workspace_id: str, cutoff: datetime, report: Report) -> None:
    exports = session.scalars(
        select(DataFile).where(DataFile.workspace_id == workspace_id, DataFile.created_at < cutoff)
    ).all()
    uploads = session.scalars(
        select(ImportJob).where(
            ImportJob.workspace_id == workspace_id,
            ImportJob.stored_path.is_not(None),
            ImportJob.status.in_(("completed", "failed")),
            ImportJob.finished_at < cutoff,
        )
    ).all()
    report.note("event exports", len(exports))
    report.note("uploaded import files", len(uploads))
    if report.dry_run:
        return
    for export in exports:
        Path(export.path).unlink(missing_ok=True)
        session.delete(export)
    for job in uploads:
        Path(str(job.stored_path)).unlink(missing_ok=True)
        job.stored_path = None


def _trim_log(
    database: Database,
    workspace_id: str,
    cutoff: datetime,
    report: Report,
    log: EventLog | None,
    *,
    shared: bool,
) -> None:
    """Log records every consumer group has committed past (the slowest group decides):
    the workspace's own in the SQL log, ``CHUNK`` a partition and transaction; in a log
    outside the database (NATS), whose streams all workspaces share, every workspace's
    (the period is one setting), when ``shared`` asks for it."""
    if log is not None and not isinstance(log, SqlEventLog):
        if shared:
            trimmed = log.trim(cutoff, dry_run=report.dry_run)
            report.note("event log records (all workspaces)", trimmed)
        return
    while True:
        with database.transaction(workspace_id=workspace_id, write=not report.dry_run) as session:
            count = trim_records(
                session,
                cutoff,
                workspace_id=workspace_id,
                dry_run=report.dry_run,
                limit=None if report.dry_run else CHUNK,
            )
        report.note("event log records", count)
        if report.dry_run or not count:
            return


def run(
    database: Database,
    workspace_id: str,
    settings: Settings,
    *,
    actor: str,
    dry_run: bool = False,
    now: datetime | None = None,
    log: EventLog | None = None,
    trim_shared_log: bool = True,
) -> Report:
    """Purge what has expired in one workspace (see the module's docstring), in short
    transactions. ``trim_shared_log=False``: leave a log all workspaces share (NATS) to
    the caller, who purges every workspace and trims it once.

    A real run is audited when it ends (``retention.purged``) and, when it fails midway,
    with what it purged until then (``retention.failed``)."""
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    try:
        with database.transaction(workspace_id=workspace_id, write=False) as session:
            scope = _Scope.read(session, workspace_id)
        report.held_profiles, report.held_categories = len(scope.held), list(scope.categories)
        for expiry in _expiries(workspace_id, settings, now):
            _purge(database, workspace_id, report, expiry)
        _inactive_profiles(database, workspace_id, settings, now, actor, report, log)
        log_cutoff = now - timedelta(days=settings.retention_log_days)
        _trim_log(database, workspace_id, log_cutoff, report, log, shared=trim_shared_log)
        with database.transaction(workspace_id=workspace_id, write=not dry_run) as session:
            file_cutoff = now - timedelta(days=settings.retention_file_days)
            _files(session, workspace_id, file_cutoff, report)
            if not dry_run:
                # Installation-wide: each workspace's run checks every workspace's records.
                destroyed = transit.destroy_unused_keys(session, log, now=now)
                report.note("transit keys (installation)", len(destroyed))
                _audit(session, workspace_id, actor, "retention.purged", report)
    except Exception:
        if not dry_run and report.purged:
            try:
                with database.transaction(workspace_id=workspace_id) as session:
                    _audit(session, workspace_id, actor, "retention.failed", report)
            except Exception:  # the run's own error is the one to report
                _log.exception("could not audit the failed retention run: %s", report.purged)
        raise
    return report


def _audit(session: Session, workspace_id: str, actor: str, action: str, report: Report) -> None:
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action=action,
        target=f"workspace:{workspace_id}",
        details={"purged": report.purged, "held_profiles": report.held_profiles},
    )
