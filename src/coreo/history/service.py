"""Read the event history: counts and events of an identity or a profile in a time range."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from coreo.history.models import EventRecord
from coreo.privacy.crypto import identity_key, open_message, seal_message
from coreo.profiles.models import SEALED_PREFIX

__all__ = [
    "count_events",
    "events_of",
    "export_parquet",
    "messages_of_profiles",
    "profile_events",
    "reattribute_events",
]

_EVENTS = cast(Table, EventRecord.__table__)


def count_events(*, session: Session, workspace_id: str) -> int:
    """Return how many events the workspace's history holds."""
    return int(
        session.execute(
            select(func.count())
            .select_from(EventRecord)
            .where(EventRecord.workspace_id == workspace_id)
        ).scalar_one()
    )


def events_of(
    *,
    session: Session,
    workspace_id: str,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> Sequence[EventRecord]:
    """Return an identity's events in time order, optionally within [since, until) (the
    ids as given: the history holds them keyed, ``identity_key``)."""
    if user_id is None and anonymous_id is None:
        raise ValueError("give a user id or an anonymous id")
    query = select(EventRecord).where(EventRecord.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(EventRecord.user_id == identity_key(session, "user_id", user_id))
    if anonymous_id is not None:
        keyed = identity_key(session, "anonymous_id", anonymous_id)
        query = query.where(EventRecord.anonymous_id == keyed)
    if since is not None:
        query = query.where(EventRecord.timestamp >= since)
    if until is not None:
        query = query.where(EventRecord.timestamp < until)
    query = query.order_by(EventRecord.timestamp, EventRecord.message_id).limit(limit)
    return session.execute(query).scalars().all()


def export_parquet(
    *,
    session: Session,
    workspace_id: str,
    path: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk: int = 50_000,
    include: Callable[[str | None], bool] | None = None,
) -> int:
    """Write the workspace's events (oldest first) to a Parquet file; return how many.

    ``include`` decides by an event's profile id whether it goes in (the policy check for
    the export's purpose); without it every event does.

    Columns: timestamp (UTC), received_at, message_id, type, event, user_id, anonymous_id
    (as the history holds them: keyed hashes with personal data sealed) and the full
    normalised message as JSON text (its personal fields sealed), so DuckDB can query it directly
    (``SELECT event, count(*) FROM 'events.parquet' GROUP BY 1``). Rows stream out in
    chunks: memory stays flat however large the history.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("received_at", pa.timestamp("ms", tz="UTC")),
            ("message_id", pa.string()),
            ("type", pa.string()),
            ("event", pa.string()),
            ("user_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("message", pa.string()),
        ]
    )
    columns = (
        EventRecord.timestamp,
        EventRecord.received_at,
        EventRecord.message_id,
        EventRecord.type,
        EventRecord.event,
        EventRecord.user_id,
        EventRecord.anonymous_id,
        EventRecord.payload,
        EventRecord.profile_id,
    )
    query = select(*columns).where(EventRecord.workspace_id == workspace_id)
    if since is not None:
        query = query.where(EventRecord.timestamp >= since)
    if until is not None:
        query = query.where(EventRecord.timestamp < until)
    query = query.order_by(EventRecord.timestamp, EventRecord.message_id)
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        result = session.execute(query.execution_options(yield_per=chunk))
        for page in result.partitions(chunk):
            rows = [r[:-1] for r in page if include is None or include(r[-1])]
            if not rows:
                continue
            batch = list(zip(*rows, strict=True))
            writer.write_table(pa.table(dict(zip(schema.names, batch, strict=True)), schema=schema))
            written += len(rows)
    return written


def profile_events(
    *,
    session: Session,
    workspace_id: str,
    profile_ids: Collection[str],
    before: tuple[datetime, str] | None = None,
    types: Collection[str] = (),
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> Sequence[EventRecord]:
    """Return the events attributed to any of ``profile_ids``, newest first.

    Args:
        before: a page's position: only events older than this (timestamp, message id),
            so pages stay stable while newer events arrive.
        types: only these message types (``track``, ``identify``, ...); all when empty.
        event: only this event name (a page's or screen's name counts as its event name).
        since, until: only events in [since, until).
    """
    if not profile_ids:
        return []
    query = select(EventRecord).where(
        EventRecord.workspace_id == workspace_id,
        EventRecord.profile_id.in_(sorted(profile_ids)),
    )
    if before is not None:
        at, message_id = before
        # Spelled out rather than as a row comparison, so the index range on the
        # timestamp is plain to both planners.
        query = query.where(
            EventRecord.timestamp <= at,
            or_(EventRecord.timestamp < at, EventRecord.message_id < message_id),
        )
    if types:
        query = query.where(EventRecord.type.in_(sorted(types)))
    if event is not None:
        query = query.where(EventRecord.event == event)
    if since is not None:
        query = query.where(EventRecord.timestamp >= since)
    if until is not None:
        query = query.where(EventRecord.timestamp < until)
    query = query.order_by(EventRecord.timestamp.desc(), EventRecord.message_id.desc())
    return session.execute(query.limit(limit)).scalars().all()


def messages_of_profiles(
    *, session: Session, workspace_id: str, profile_ids: Collection[str], chunk: int = 1000
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Yield the events attributed to any of ``profile_ids`` as (profile id, message), oldest
    first by (timestamp, message id), ``chunk`` at a time: a replay's input, in flat
    memory however long the history."""
    if not profile_ids:
        return
    query = (
        select(_EVENTS.c.profile_id, _EVENTS.c.payload)
        .where(
            _EVENTS.c.workspace_id == workspace_id,
            _EVENTS.c.profile_id.in_(sorted(profile_ids)),
        )
        .order_by(_EVENTS.c.timestamp, _EVENTS.c.message_id)
    )
    # Keyset pages rather than one streaming cursor: the replay writes between chunks.
    after: tuple[Any, str] | None = None
    while True:
        page = query
        if after is not None:
            page = page.where(
                or_(
                    _EVENTS.c.timestamp > after[0],
                    and_(_EVENTS.c.timestamp == after[0], _EVENTS.c.message_id > after[1]),
                )
            )
        rows = session.execute(
            page.add_columns(_EVENTS.c.timestamp, _EVENTS.c.message_id).limit(chunk)
        ).all()
        if not rows:
            return
        yield [
            (str(r.profile_id), open_message(session, workspace_id, str(r.profile_id), r.payload))
            for r in rows
        ]
        if len(rows) < chunk:
            return
        after = (rows[-1].timestamp, str(rows[-1].message_id))


def reattribute_events(
    *, session: Session, workspace_id: str, moves: Mapping[str, Collection[str]]
) -> int:
    """Attribute events to other profiles: ``{profile id: message ids}``; return how many."""
    moved = 0
    for profile_id, message_ids in moves.items():
        ids = sorted(message_ids)
        for start in range(0, len(ids), 500):
            _reseal(session, workspace_id, profile_id, ids[start : start + 500])
            result = session.execute(
                update(_EVENTS)
                .where(
                    _EVENTS.c.workspace_id == workspace_id,
                    _EVENTS.c.message_id.in_(ids[start : start + 500]),
                )
                .values(profile_id=profile_id)
            )
            moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


def _reseal(session: Session, workspace_id: str, profile_id: str, message_ids: list[str]) -> None:
    """Events sealed with their former person's key, sealed again with the new one's."""
    sealed = session.execute(
        select(_EVENTS.c.message_id, _EVENTS.c.profile_id, _EVENTS.c.payload).where(
            _EVENTS.c.workspace_id == workspace_id,
            _EVENTS.c.message_id.in_(message_ids),
            _EVENTS.c.profile_id != profile_id,
            _EVENTS.c.payload.contains(SEALED_PREFIX),
        )
    ).all()
    for message_id, owner, payload in sealed:
        message = open_message(session, workspace_id, owner, payload)
        again = seal_message(session, workspace_id, profile_id, message)
        session.execute(
            update(_EVENTS)
            .where(_EVENTS.c.workspace_id == workspace_id, _EVENTS.c.message_id == message_id)
            .values(payload=orjson.dumps(again).decode())
        )
