"""Accept Segment messages: validate, normalise, de-duplicate, dead-letter, append to the log.

One request's messages are checked and serialised first, without the database
(:func:`prepare_messages`), then written in the caller's transaction
(:func:`store_prepared`), so the de-duplication rows, the dead letters and (with the SQL
log) the log records commit together: an event is either accepted durably or not at all.
:func:`ingest_messages` does both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, delete, event, insert
from sqlalchemy.orm import Session, object_session

from coreo.db import Database, driver_connection, driver_datetime
from coreo.eventlog.base import EventLog, NewRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ids import new_id
from coreo.ingest.models import DeadLetter, SeenMessage, TrackingPlan
from coreo.ingest.normalize import (
    NormaliseOptions,
    identity_key,
    normalise,
    strip_special_categories,
)
from coreo.ingest.plans import (
    CompiledPlan,
    compiled_plan,
    record_special_categories,
    record_violation,
)
from coreo.ingest.spec import MAX_MESSAGE_BYTES, MESSAGE_ADAPTER
from coreo.privacy import transit
from coreo.privacy.crypto import looks_sealed
from coreo.profiles.models import SEALED_PREFIX

__all__ = [
    "PLAN_CACHE",
    "Accepted",
    "IngestResult",
    "PlanCache",
    "PreparedMessages",
    "Rejection",
    "dead_letter",
    "describe_validation_error",
    "ingest_messages",
    "prepare_messages",
    "purge_seen",
    "store_prepared",
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
    record_text: str | None = None,
) -> str:
    """Store a failed message with its reason; return the dead letter's id.

    ``payload`` is kept as JSON, whatever its type: a client's string, even one that reads
    like a sealed letter (``enc:t1:…``), is sealed like any other payload (JSON text never
    starts like one). ``record_text``: instead, an event-log record that could not be
    decoded, as ``transit.record_text`` gives it (sealed already, or plain)."""
    message = payload if isinstance(payload, dict) else {}
    dead_id = new_id("dl")
    text = record_text if record_text is not None else orjson.dumps(payload).decode()
    text = transit.seal_text(session, workspace_id, text)
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


# De-duplication whatever the batch size in one statement (PostgreSQL) or two (SQLite):
# the ids travel as one array (PostgreSQL) or one JSON text (SQLite), so no per-row
# parameter processing runs and the statements are prepared once. An id is claimed (new)
# when it is inserted, or when it had been seen before the cutoff (outside the window).
_CLAIM_POSTGRES = """
INSERT INTO ingest_seen_messages (workspace_id, message_id, received_at)
SELECT %s, id, %s FROM unnest(%b::varchar[]) AS claimed(id)
ON CONFLICT (workspace_id, message_id) DO UPDATE SET received_at = EXCLUDED.received_at
WHERE ingest_seen_messages.received_at < %s
RETURNING message_id
"""
# SQLite: the repeats within the window as one JSON row, then the upsert. RETURNING would
# hand back a row per id, each fetched with the GIL released and won back while this
# writer holds the database: with request threads busy parsing, that costs milliseconds.
# The writer's lock (BEGIN IMMEDIATE) keeps the two statements consistent.
# CROSS JOIN fixes the order (ids outside, primary-key lookups inside): left to itself the
# planner may walk the received_at index instead, every row of the window per request.
_REPEATS_SQLITE = """
SELECT json_group_array(seen.message_id)
FROM json_each(?) AS claimed CROSS JOIN ingest_seen_messages AS seen
WHERE seen.message_id = claimed.value AND seen.workspace_id = ? AND seen.received_at >= ?
"""
_CLAIM_SQLITE = """
INSERT INTO ingest_seen_messages (workspace_id, message_id, received_at)
SELECT ?, value, ? FROM json_each(?) WHERE true
ON CONFLICT (workspace_id, message_id) DO UPDATE SET received_at = excluded.received_at
WHERE ingest_seen_messages.received_at < ?
"""


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
    connection = session.connection()
    dialect = connection.dialect.name
    at, cutoff = driver_datetime(now, dialect), driver_datetime(now - window, dialect)
    if dialect != "sqlite":
        rows = connection.exec_driver_sql(
            _CLAIM_POSTGRES, (workspace_id, at, list(message_ids), cutoff)
        )
        return {row[0] for row in rows}
    ids = orjson.dumps(list(message_ids)).decode()
    driver = driver_connection(connection)
    cursor = driver.execute(_REPEATS_SQLITE, (ids, workspace_id, cutoff))
    (repeats,) = cursor.fetchone()
    cursor.close()
    driver.execute(_CLAIM_SQLITE, (workspace_id, at, ids, cutoff)).close()
    return set(message_ids).difference(orjson.loads(repeats or "[]"))


@dataclass(frozen=True, slots=True)
class _Ready:
    """A message that passed every check, serialised, waiting for its de-duplication."""

    index: int
    message_id: str
    key: str  # the anonymous or user id the log is partitioned by (keyed when stored)
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Refusal:
    index: int
    stage: str
    reason: str
    message: Any


@dataclass(frozen=True, slots=True)
class _Violation:
    message: dict[str, Any]
    complaints: list[str]
    blocked: bool


@dataclass(slots=True)
class PreparedMessages:
    """What :func:`prepare_messages` decided, before anything is written.

    Preparing needs no database (validation, normalisation, the tracking plan, serialising),
    so a caller can do it before it opens its write transaction and keep that short.
    """

    workspace_id: str
    received_at: datetime
    dedupe_window: timedelta
    key_id: str | None
    plan: CompiledPlan | None
    ready: list[_Ready] = field(default_factory=list)
    repeated: list[Accepted] = field(default_factory=list)  # repeats inside the request
    refused: list[_Refusal] = field(default_factory=list)
    violations: list[_Violation] = field(default_factory=list)
    special: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)


def prepare_messages(
    *,
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
) -> PreparedMessages:
    """Check, normalise and serialise ``messages`` (the arguments of :func:`ingest_messages`);
    nothing is written until :func:`store_prepared`."""
    defaults = batch_defaults or {}
    batch_sent_at = _parse_time(defaults.get("sentAt"))
    prepared = PreparedMessages(workspace_id, received_at, dedupe_window, key_id, plan)
    seen_here: set[str] = set()
    for index, message in enumerate(messages):
        special: list[str] = []
        if isinstance(message, dict):
            _merge_batch_defaults(message, defaults)
            special = strip_special_categories(message, options)  # before a dead letter too
        reason = _check(message, forced_type, max_message_bytes)
        if reason is not None:
            prepared.refused.append(_Refusal(index, "validation", reason, message))
            continue
        sent_at = _parse_time(message.get("sentAt")) or batch_sent_at
        normalise(message, received_at=received_at, sent_at=sent_at, options=options)
        if special:
            prepared.special.append((message, special))
        payload = orjson.dumps(message)
        if looks_sealed(message, payload):
            reason = f"a value starts with {SEALED_PREFIX!r}, which Coreo keeps for sealed data"
            prepared.refused.append(_Refusal(index, "validation", reason, message))
            continue
        if plan is not None:
            complaints = plan.check(message)
            if complaints:
                blocked = plan.mode == "block"
                prepared.violations.append(_Violation(message, complaints, blocked))
                if blocked:
                    reason = "tracking plan: " + "; ".join(complaints)
                    prepared.refused.append(_Refusal(index, "tracking_plan", reason, message))
                    continue
        message_id = str(message["messageId"])
        if message_id in seen_here:  # repeated inside one request
            prepared.repeated.append(Accepted(index, message_id))
            continue
        seen_here.add(message_id)
        prepared.ready.append(_Ready(index, message_id, identity_key(message), payload))
    return prepared


def store_prepared(*, session: Session, log: EventLog, prepared: PreparedMessages) -> IngestResult:
    """Write what :func:`prepare_messages` decided in the caller's transaction: dead
    letters, plan violations, de-duplication rows and the new messages' log records."""
    workspace_id, received_at = prepared.workspace_id, prepared.received_at
    result = IngestResult(duplicates=list(prepared.repeated))
    for violation in prepared.violations:
        assert prepared.plan is not None  # noqa: S101 - violations only come from a plan
        record_violation(
            session,
            workspace_id=workspace_id,
            plan=prepared.plan,
            message=violation.message,
            errors=violation.complaints,
            blocked=violation.blocked,
            now=received_at,
        )
    for message, paths in prepared.special:
        record_special_categories(
            session,
            workspace_id=workspace_id,
            key_id=prepared.key_id,
            message=message,
            paths=paths,
            now=received_at,
        )
    for refusal in prepared.refused:
        dead_id = dead_letter(
            session,
            workspace_id=workspace_id,
            stage=refusal.stage,
            reason=refusal.reason,
            payload=refusal.message,
            received_at=received_at,
            now=received_at,
            key_id=prepared.key_id,
        )
        result.rejected.append(Rejection(refusal.index, refusal.reason, dead_id))
    new_ids = _claim_message_ids(
        session,
        workspace_id,
        [r.message_id for r in prepared.ready],
        received_at,
        prepared.dedupe_window,
    )
    fresh = []
    for ready in prepared.ready:
        if ready.message_id not in new_ids:
            result.duplicates.append(Accepted(ready.index, ready.message_id))
            continue
        result.accepted.append(Accepted(ready.index, ready.message_id))
        fresh.append(ready)
    sealed = transit.seal_records(session, workspace_id, [ready.payload for ready in fresh])
    records = [
        NewRecord(
            transit.log_key(session, workspace_id, ready.key),
            workspace_id,
            payload,
            f"{workspace_id}:{ready.message_id}",  # a retry after a failed commit
        )
        for ready, payload in zip(fresh, sealed, strict=True)
    ]
    if records:
        if isinstance(log, SqlEventLog):  # joins this transaction: all or nothing
            log.append(records, session=session)
        else:
            log.append(records)
    return result


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

    The same as :func:`prepare_messages` followed by :func:`store_prepared`.

    Args:
        forced_type: the call type of a single-call endpoint (``/v1/track`` sets "track").
        batch_defaults: a batch's own ``context``, ``integrations`` and ``sentAt``.
    """
    prepared = prepare_messages(
        workspace_id=workspace_id,
        messages=messages,
        received_at=received_at,
        options=options,
        dedupe_window=dedupe_window,
        forced_type=forced_type,
        batch_defaults=batch_defaults,
        max_message_bytes=max_message_bytes,
        key_id=key_id,
        plan=plan,
    )
    return store_prepared(session=session, log=log, prepared=prepared)


class PlanCache:
    """Compiled tracking plans by source for a few seconds, so a request skips the query.

    A plan written in this process (``put_plan``/``delete_plan``, through any session)
    drops every cached plan when it is flushed and again when its transaction commits; a
    lookup that raced with the change does not store what it read. Other processes
    (``coreo serve --workers N``, the CLI) see a change within ``ttl`` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[CompiledPlan | None, float]] = {}
        self._generation = 0

    def get(self, database: Database, workspace_id: str, key_id: str) -> CompiledPlan | None:
        """The source's plan ready to check messages, or None (no plan, or mode off)."""
        key = (workspace_id, key_id)
        entry = self._entries.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        generation = self._generation
        with database.transaction(workspace_id=workspace_id, write=False) as session:
            plan = compiled_plan(session=session, workspace_id=workspace_id, key_id=key_id)
        with self._lock:
            if generation == self._generation:  # no plan changed while we read
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[key] = (plan, time.monotonic() + self.ttl)
        return plan

    def fresh(self, workspace_id: str, key_id: str) -> bool:
        """Whether ``get`` answers from memory now (no query)."""
        entry = self._entries.get((workspace_id, key_id))
        return entry is not None and entry[1] > time.monotonic()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


PLAN_CACHE = PlanCache(ttl=2.0)
"""The tracking plans of this process's ingestion API (see :class:`PlanCache`)."""
_PLAN_CHANGED = "coreo.ingest.plan_changed"


@event.listens_for(TrackingPlan, "after_insert")
@event.listens_for(TrackingPlan, "after_update")
@event.listens_for(TrackingPlan, "after_delete")
def _plan_flushed(_mapper: Any, _connection: Any, plan: TrackingPlan) -> None:
    PLAN_CACHE.invalidate()
    session = object_session(plan)
    if session is not None:
        session.info[_PLAN_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _plan_committed(session: Session) -> None:
    if session.info.pop(_PLAN_CHANGED, False):
        PLAN_CACHE.invalidate()


def purge_seen(*, session: Session, before: datetime) -> int:
    """Forget message ids accepted before ``before`` (outside the de-duplication window)."""
    deleted = session.execute(delete(_SEEN).where(_SEEN.c.received_at < before))
    return int(getattr(deleted, "rowcount", 0) or 0)
