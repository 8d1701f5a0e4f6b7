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
``dry_run`` counts without deleting. A real run is audited (``retention.purged``).
The audit chain itself is kept: it is the accountability record (Art. 5(2)).
"""

from __future__ import annotations

from collections.abc import Collection
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
from coreo.db import utcnow
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

__all__ = ["Report", "add_hold", "holds", "release_hold", "run"]

PROFILES_PER_RUN = 1000  # inactive profiles erased per run (each is a small erasure)


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


def _purge(
    session: Session, report: Report, what: str, model: Any, where: list[ColumnElement[bool]]
) -> None:
    if report.dry_run:
        count = session.scalar(select(func.count()).select_from(model).where(*where))
        report.note(what, int(count or 0))
    else:
        result = session.execute(delete(model).where(*where))
        report.note(what, int(result.rowcount or 0))  # type: ignore[attr-defined]


def _events(
    session: Session,
    workspace_id: str,
    settings: Settings,
    now: datetime,
    held: Collection[str],
    categories: Collection[str],
    report: Report,
) -> None:
    transactional = settings.retention_transactional_events
    is_transaction = and_(EventRecord.type == "track", EventRecord.event.in_(transactional))
    base = [EventRecord.workspace_id == workspace_id]
    if held:
        base.append(or_(EventRecord.profile_id.is_(None), EventRecord.profile_id.not_in(held)))
    if "behavioural" not in categories:
        cutoff = now - timedelta(days=settings.retention_behavioural_days)
        where = [*base, EventRecord.timestamp < cutoff, not_(is_transaction)]
        _purge(session, report, "behavioural events", EventRecord, where)
    if "transactional" not in categories:
        cutoff = now - timedelta(days=settings.retention_transactional_days)
        where = [*base, EventRecord.timestamp < cutoff, is_transaction]
        _purge(session, report, "transactional events", EventRecord, where)


def _inactive_profiles(
    session: Session,
    workspace_id: str,
    settings: Settings,
    now: datetime,
    held: Collection[str],
    actor: str,
    report: Report,
    log: EventLog | None,
) -> None:
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
    if held:
        query = query.where(Profile.id.not_in(sorted(held)))
    stale = [str(p) for p in session.scalars(query.order_by(Profile.id).limit(PROFILES_PER_RUN))]
    if report.dry_run:
        report.note("inactive profiles", len(stale))
        return
    scan = None
    if erasure.searches_ahead(log):  # one search of the log for them all
        people = [erasure.find_person(session, workspace_id, p) for p in stale]
        scan = erasure.scan_log(session, people, log)
    for profile_id in stale:
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
    report.note("inactive profiles", len(stale))


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


def _log(
    session: Session,
    workspace_id: str,
    cutoff: datetime,
    report: Report,
    log: EventLog | None,
    *,
    shared: bool,
) -> None:
    """Log records every consumer group has committed past (the slowest group decides):
    the workspace's own in the SQL log; in a log outside the database (NATS), whose
    streams all workspaces share, every workspace's (the period is one setting), when
    ``shared`` asks for it."""
    if log is None or isinstance(log, SqlEventLog):
        count = trim_records(session, cutoff, workspace_id=workspace_id, dry_run=report.dry_run)
        report.note("event log records", count)
    elif shared:
        report.note("event log records (all workspaces)", log.trim(cutoff, dry_run=report.dry_run))


def run(
    session: Session,
    workspace_id: str,
    settings: Settings,
    *,
    actor: str,
    dry_run: bool = False,
    now: datetime | None = None,
    log: EventLog | None = None,
    trim_shared_log: bool = True,
) -> Report:
    """Purge what has expired in one workspace (see the module's docstring).
    ``trim_shared_log=False``: leave a log all workspaces share (NATS) to the caller, who
    purges every workspace and trims it once."""
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    if not dry_run:
        lock_workspace(session, workspace_id)  # no worker batch makes a profile active meanwhile
    active_holds = holds(session, workspace_id)
    held = set(
        cluster_members(session, workspace_id, [h.profile_id for h in active_holds if h.profile_id])
    )
    categories = sorted({h.category for h in active_holds if h.category})
    report.held_profiles, report.held_categories = len(held), categories
    _events(session, workspace_id, settings, now, held, categories, report)
    personal_held = {"contact", "demographic", "identifiers"} & set(categories)
    if not personal_held:
        _inactive_profiles(session, workspace_id, settings, now, held, actor, report, log)
    operational = now - timedelta(days=settings.retention_operational_days)
    _purge(
        session,
        report,
        "dead letters",
        DeadLetter,
        [DeadLetter.workspace_id == workspace_id, DeadLetter.created_at < operational],
    )
    _purge(
        session,
        report,
        "plan violations",
        PlanViolation,
        [PlanViolation.workspace_id == workspace_id, PlanViolation.created_at < operational],
    )
    _files(session, workspace_id, now - timedelta(days=settings.retention_file_days), report)
    log_cutoff = now - timedelta(days=settings.retention_log_days)
    _log(session, workspace_id, log_cutoff, report, log, shared=trim_shared_log)
    if not dry_run:
        # Installation-wide: each workspace's run checks every workspace's records.
        destroyed = transit.destroy_unused_keys(session, log, now=now)
        report.note("transit keys (installation)", len(destroyed))
        audit_service.record(
            session=session,
            chain=workspace_id,
            actor=actor,
            action="retention.purged",
            target=f"workspace:{workspace_id}",
            details={"purged": report.purged, "held_profiles": report.held_profiles},
        )
    return report
