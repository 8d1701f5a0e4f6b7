"""Accept Segment messages: validate, normalise, de-duplicate, dead-letter, append to the log.

One call handles one request's messages in the caller's transaction, so the
de-duplication rows, the dead letters and (with the SQL log) the log records commit
together: an event is either accepted durably or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, bindparam, delete, insert
from sqlalchemy.orm import Session

from coreo.db import conflict_insert
from coreo.eventlog.base import EventLog, NewRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ids import new_id
from coreo.ingest.models import DeadLetter, SeenMessage
from coreo.ingest.normalize import NormaliseOptions, identity_key, normalise
from coreo.ingest.plans import CompiledPlan, record_violation
from coreo.ingest.spec import MAX_MESSAGE_BYTES, MESSAGE_ADAPTER

__all__ = [
    "Accepted",
    "IngestResult",
    "Rejection",
    "dead_letter",
    "describe_validation_error",
    "ingest_messages",
    "purge_seen",
]

_SEEN = cast(Table, SeenMessage.__table__)
_DEAD = cast(Table, DeadLetter.__table__)
_ID_FIELDS = ("userId", "anonymousId", "groupId", "previousId")


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    dead_letter_id: str


@dataclass(frozen=True, slots=True)
class Accepted:
    index: int
    message_id: str


@dataclass(slots=True)
class IngestResult:
    accepted: list[Accepted] = field(default_factory=list)
    duplicates: list[Accepted] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming every failing field, e.g. ``event: Field required``."""
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"][1:] or item["loc"]) or "message"
        parts.append(f"{location}: {item['msg']}")
    more = len(error.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def dead_letter(
    session: Session,
    *,
    workspace_id: str,
    stage: str,
    reason: str,
    payload: Any,
    received_at: datetime,
    now: datetime,
    key_id: str | None = None,
) -> str:
    """Store a failed message with its reason; return the dead letter's id."""
    message = payload if isinstance(payload, dict) else {}
    dead_id = new_id("dl")
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    session.connection().execute(
        insert(_DEAD).values(
            id=dead_id,
            workspace_id=workspace_id,
            stage=stage,
            reason=reason[:2000],
            event_type=str(message.get("type"))[:20] if message.get("type") else None,
            event_name=str(message.get("event"))[:200] if message.get("event") else None,
            message_id=str(message.get("messageId"))[:100] if message.get("messageId") else None,
            key_id=key_id,
            payload=text,
            received_at=received_at,
            created_at=now,
            status="open",
            replay_count=0,
        )
    )
    return dead_id


def _merge_batch_defaults(message: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Segment lets a batch carry ``context``/``integrations`` for all its messages."""
    for name in ("context", "integrations"):
        shared = defaults.get(name)
        if isinstance(shared, dict) and shared:
            own = message.get(name)
            message[name] = {**shared, **own} if isinstance(own, dict) else dict(shared)


def _check(message: Any, forced_type: str | None, max_bytes: int) -> str | None:
    """Return why ``message`` is unacceptable, or None."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    if forced_type is not None:
        message["type"] = forced_type
    try:
        size = len(orjson.dumps(message))
    except TypeError as error:
        return f"not serialisable: {error}"
    if size > max_bytes:
        return f"the message is {size} bytes; the limit is {max_bytes}"
    try:
        MESSAGE_ADAPTER.validate_python(message)
    except ValidationError as error:
        return describe_validation_error(error)
    for name in _ID_FIELDS:  # numbers are accepted and stored as strings, as Segment does
        value = message.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            message[name] = str(int(value))
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _claim_message_ids(
    session: Session,
    workspace_id: str,
    message_ids: Sequence[str],
    now: datetime,
    window: timedelta,
) -> set[str]:
    """Record ``message_ids`` as seen; return those not seen within ``window`` (new ones)."""
    if not message_ids:
        return set()
    statement = conflict_insert(session, _SEEN)
    claimed = statement.on_conflict_do_update(
        index_elements=["workspace_id", "message_id"],
        set_={"received_at": statement.excluded.received_at},
        where=_SEEN.c.received_at < bindparam("cutoff"),
    ).returning(_SEEN.c.message_id)
    # One cached statement run as executemany ("insertmanyvalues" batches it and keeps
    # RETURNING); a multi-row VALUES literal would be compiled anew for every request.
    rows = [
        {"workspace_id": workspace_id, "message_id": m, "received_at": now, "cutoff": now - window}
        for m in message_ids
    ]
    return set(session.connection().execute(claimed, rows).scalars())


def ingest_messages(
    *,
    session: Session,
    log: EventLog,
    workspace_id: str,
    messages: Sequence[Any],
    received_at: datetime,
    options: NormaliseOptions,
    dedupe_window: timedelta,
    forced_type: str | None = None,
    batch_defaults: dict[str, Any] | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    key_id: str | None = None,
    plan: CompiledPlan | None = None,
) -> IngestResult:
    """Accept what is valid, dead-letter what is not, and append the new messages to the log.

    Args:
        forced_type: the call type of a single-call endpoint (``/v1/track`` sets "track").
        batch_defaults: a batch's own ``context``, ``integrations`` and ``sentAt``.
    """
    defaults = batch_defaults or {}
    batch_sent_at = _parse_time(defaults.get("sentAt"))
    result = IngestResult()
    ready: list[tuple[int, dict[str, Any]]] = []
    first_index: dict[str, int] = {}

    def reject(index: int, stage: str, reason: str, message: Any) -> None:
        dead_id = dead_letter(
            session,
            workspace_id=workspace_id,
            stage=stage,
            reason=reason,
            payload=message,
            received_at=received_at,
            now=received_at,
            key_id=key_id,
        )
        result.rejected.append(Rejection(index, reason, dead_id))

    for index, message in enumerate(messages):
        if isinstance(message, dict):
            _merge_batch_defaults(message, defaults)
        reason = _check(message, forced_type, max_message_bytes)
        if reason is not None:
            reject(index, "validation", reason, message)
            continue
        sent_at = _parse_time(message.get("sentAt")) or batch_sent_at
        normalise(message, received_at=received_at, sent_at=sent_at, options=options)
        if plan is not None:
            complaints = plan.check(message)
            if complaints:
                blocked = plan.mode == "block"
                record_violation(
                    session,
                    workspace_id=workspace_id,
                    plan=plan,
                    message=message,
                    errors=complaints,
                    blocked=blocked,
                    now=received_at,
                )
                if blocked:
                    reject(
                        index, "tracking_plan", "tracking plan: " + "; ".join(complaints), message
                    )
                    continue
        message_id = str(message["messageId"])
        if message_id in first_index:  # repeated inside one request
            result.duplicates.append(Accepted(index, message_id))
            continue
        first_index[message_id] = index
        ready.append((index, message))
    new_ids = _claim_message_ids(
        session, workspace_id, list(first_index), received_at, dedupe_window
    )
    records = []
    for index, message in ready:
        message_id = str(message["messageId"])
        if message_id not in new_ids:
            result.duplicates.append(Accepted(index, message_id))
            continue
        result.accepted.append(Accepted(index, message_id))
        key = f"{workspace_id}:{identity_key(message)}"
        records.append(NewRecord(key, workspace_id, orjson.dumps(message)))
    if records:
        if isinstance(log, SqlEventLog):  # joins this transaction: all or nothing
            log.append(records, session=session)
        else:
            log.append(records)
    return result


def purge_seen(*, session: Session, before: datetime) -> int:
    """Forget message ids accepted before ``before`` (outside the de-duplication window)."""
    deleted = session.execute(delete(_SEEN).where(_SEEN.c.received_at < before))
    return int(getattr(deleted, "rowcount", 0) or 0)
