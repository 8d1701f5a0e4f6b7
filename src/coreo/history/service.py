"""Read the event history: counts and events of an identity in a time range."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreo.history.models import EventRecord

__all__ = ["count_events", "events_of", "export_parquet"]


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
    """Return an identity's events in time order, optionally within [since, until)."""
    if user_id is None and anonymous_id is None:
        raise ValueError("give a user id or an anonymous id")
    query = select(EventRecord).where(EventRecord.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(EventRecord.user_id == user_id)
    if anonymous_id is not None:
        query = query.where(EventRecord.anonymous_id == anonymous_id)
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
) -> int:
    """Write the workspace's events (oldest first) to a Parquet file; return how many.

    Columns: timestamp (UTC), received_at, message_id, type, event, user_id, anonymous_id
    and the full normalised message as JSON text, so DuckDB can query it directly
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
        for rows in result.partitions(chunk):
            batch = list(zip(*rows, strict=True))
            writer.write_table(pa.table(dict(zip(schema.names, batch, strict=True)), schema=schema))
            written += len(rows)
    return written
