"""The dead-letter queue: list, inspect, replay and purge events that failed.

A dead letter keeps the original payload, the stage that refused it and why. Replaying
runs it again from that stage: a validation failure goes through ingestion again (after a
client fix or a tracking-plan change); a processing failure goes back into the event log
(its message id was already accepted, so it is not de-duplicated again). A letter that
fails again stays open with the new reason and a higher replay count. Replays and purges
are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.errors import InvalidInputError, NotFoundError
from coreo.eventlog.base import EventLog, NewRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.models import DeadLetter
from coreo.ingest.normalize import NormaliseOptions, identity_key
from coreo.ingest.plans import compiled_plan
from coreo.ingest.service import ingest_messages
from coreo.ingest.spec import MAX_MESSAGE_BYTES
from coreo.privacy import transit

__all__ = [
    "ReplayOutcome",
    "get_dead_letter",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letters",
]

STATUSES = ("open", "replayed")
_DEAD = cast(Table, DeadLetter.__table__)
_MAX_BATCH = 1000


def list_dead_letters(
    *,
    session: Session,
    workspace_id: str,
    status: str | None = "open",
    stage: str | None = None,
    event_name: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Sequence[DeadLetter]:
    """Return dead letters oldest first (ids sort by creation), filtered."""
    query = select(DeadLetter).where(DeadLetter.workspace_id == workspace_id)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    if stage is not None:
        query = query.where(DeadLetter.stage == stage)
    if event_name is not None:
        query = query.where(DeadLetter.event_name == event_name)
    if after is not None:
        query = query.where(DeadLetter.id > after)
    return session.execute(query.order_by(DeadLetter.id).limit(limit)).scalars().all()


def get_dead_letter(*, session: Session, workspace_id: str, letter_id: str) -> DeadLetter:
    letter = session.get(DeadLetter, letter_id)
    if letter is None or letter.workspace_id != workspace_id:
        raise NotFoundError(f"no dead letter {letter_id!r} in this workspace")
    return letter


@dataclass(slots=True)
class ReplayOutcome:
    replayed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _select(
    session: Session, workspace_id: str, ids: Sequence[str] | None, stage: str | None
) -> list[DeadLetter]:
    if ids:
        return [
            get_dead_letter(session=session, workspace_id=workspace_id, letter_id=i) for i in ids
        ]
    return list(
        list_dead_letters(session=session, workspace_id=workspace_id, stage=stage, limit=_MAX_BATCH)
    )


def replay_dead_letters(
    *,
    session: Session,
    log: EventLog,
    workspace_id: str,
    actor: str,
    options: NormaliseOptions,
    dedupe_window: timedelta,
    ids: Sequence[str] | None = None,
    stage: str | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> ReplayOutcome:
    """Replay the given letters (or up to 1,000 open ones, optionally of one stage)."""
    outcome = ReplayOutcome()
    now = utcnow()
    for letter in _select(session, workspace_id, ids, stage):
        if letter.status != "open":
            outcome.failed[letter.id] = f"already {letter.status}"
            continue
        try:
            payload: Any = orjson.loads(letter.payload)
        except orjson.JSONDecodeError:
            payload = letter.payload
        reason = _replay_one(
            session, log, workspace_id, letter, payload, options, dedupe_window, max_message_bytes
        )
        letter.replay_count += 1
        if reason is None:
            letter.status, letter.replayed_at = "replayed", now
            outcome.replayed.append(letter.id)
        else:
            letter.reason = reason[:2000]
            outcome.failed[letter.id] = reason
    session.flush()
    if outcome.replayed or outcome.failed:
        audit_service.record(
            session=session,
            chain=workspace_id,
            actor=actor,
            action="dead_letters.replayed",
            target=f"dead_letters:{len(outcome.replayed) + len(outcome.failed)}",
            details={"replayed": len(outcome.replayed), "failed": len(outcome.failed)},
        )
    return outcome


def _replay_one(
    session: Session,
    log: EventLog,
    workspace_id: str,
    letter: DeadLetter,
    payload: Any,
    options: NormaliseOptions,
    dedupe_window: timedelta,
    max_message_bytes: int,
) -> str | None:
    """Run one letter again from its stage; return why it failed again, or None."""
    if letter.stage == "import":  # a file row that could not be read or mapped
        return "fix the file or its mapping and import it again (accepted rows are skipped)"
    if letter.stage in ("validation", "tracking_plan"):
        # Through ingestion again, checked against the source's current plan.
        plan = (
            compiled_plan(session=session, workspace_id=workspace_id, key_id=letter.key_id)
            if letter.key_id
            else None
        )
        with session.begin_nested() as savepoint:
            result = ingest_messages(
                session=session,
                log=log,
                workspace_id=workspace_id,
                messages=[payload],
                received_at=letter.received_at,
                options=options,
                dedupe_window=dedupe_window,
                max_message_bytes=max_message_bytes,
                key_id=letter.key_id,
                plan=plan,
            )
            if result.rejected:
                savepoint.rollback()  # no second dead letter for the same event
                return result.rejected[0].reason
        return None
    if not isinstance(payload, dict) or "messageId" not in payload:
        return "the stored payload is not a processed message; it cannot be replayed"
    record = NewRecord(
        transit.log_key(session, workspace_id, identity_key(payload)),
        workspace_id,
        transit.seal_record(session, workspace_id, orjson.dumps(payload)),
    )
    if isinstance(log, SqlEventLog):
        log.append([record], session=session)
    else:
        log.append([record])
    return None


def purge_dead_letters(
    *,
    session: Session,
    workspace_id: str,
    actor: str,
    ids: Sequence[str] | None = None,
    status: str | None = None,
    before: datetime | None = None,
) -> int:
    """Delete the given letters, or all matching ``status``/``before``; return how many."""
    if not ids and status is None and before is None:
        raise InvalidInputError("name the dead letters to purge: ids, a status or a date")
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}", field="status")
    statement = delete(_DEAD).where(_DEAD.c.workspace_id == workspace_id)
    if ids:
        statement = statement.where(_DEAD.c.id.in_(list(ids)))
    if status is not None:
        statement = statement.where(_DEAD.c.status == status)
    if before is not None:
        statement = statement.where(_DEAD.c.created_at < before)
    result = session.execute(statement)
    count = int(getattr(result, "rowcount", 0) or 0)
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="dead_letters.purged",
        target=f"dead_letters:{count}",
        details={
            "count": count,
            "ids": list(ids or [])[:100],
            "status": status,
            "before": before.isoformat() if before else None,
        },
    )
    return count
