"""The event log in SQL tables: SQLite for embedded mode, PostgreSQL for one server.

Appends and consumer commits can join a caller's transaction (``session=``): ingestion
writes its de-duplication rows, dead letters and log records in one transaction, and a
worker commits its offset in the same transaction as the batch's effects, which makes
processing effectively-once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from coreo.db import Database, driver_connection, driver_datetime, insert_rows_sqlite, utcnow
from coreo.errors import ServiceUnavailableError
from coreo.eventlog.base import EventLog, NewRecord, Record
from coreo.eventlog.models import LogConsumer, LogRecord

__all__ = ["SqlEventLog", "trim_records"]

# Every statement runs on the driver, without SQLAlchemy's compilation and per-row
# parameter processing: on ingestion's and the worker's hot paths that overhead cost more
# than the statements. Written for SQLite's ``?``; ``_run`` hands PostgreSQL ``%s``.
# The tables are ``coreo.eventlog.models``.
_ADVANCE_HEADS_SQLITE = """
INSERT INTO event_log_heads (partition_no, last_offset) VALUES {values}
ON CONFLICT (partition_no) DO UPDATE SET last_offset = last_offset + excluded.last_offset
RETURNING partition_no, last_offset
"""
_ADVANCE_HEADS_POSTGRES = """
INSERT INTO event_log_heads (partition_no, last_offset)
SELECT * FROM unnest(%b::integer[], %b::bigint[])
ON CONFLICT (partition_no)
DO UPDATE SET last_offset = event_log_heads.last_offset + EXCLUDED.last_offset
RETURNING partition_no, last_offset
"""
_INSERT_RECORDS_SQLITE = """
INSERT INTO event_log (partition_no, log_offset, key, workspace_id, payload, appended_at)
VALUES {values}
"""
_INSERT_RECORDS_POSTGRES = """
INSERT INTO event_log (partition_no, log_offset, key, workspace_id, payload, appended_at)
SELECT p, o, k, w, d, %s FROM unnest(%b::integer[], %b::bigint[], %b::varchar[], %b::varchar[],
                                     %b::bytea[]) AS r(p, o, k, w, d)
"""
_RECORDS: Table = LogRecord.__table__  # type: ignore[assignment]
_CONSUMERS: Table = LogConsumer.__table__  # type: ignore[assignment]
_READ = """
SELECT log_offset, key, workspace_id, payload FROM event_log
WHERE partition_no = ? AND log_offset > ? ORDER BY log_offset LIMIT ?
"""
# One partition's slice, as a subquery so that UNION ALL can join several (one round trip);
# each still walks the primary key from its offset.
_READ_SLICE = """
SELECT * FROM (SELECT partition_no, log_offset, key, workspace_id, payload FROM event_log
WHERE partition_no = ? AND log_offset > ? ORDER BY log_offset LIMIT ?) AS s{n}
"""
_SLICES_A_STATEMENT = 100
_END_OFFSET = "SELECT max(log_offset) FROM event_log WHERE partition_no = ?"
_CONSUMER_OFFSET = """
SELECT log_offset FROM event_log_consumers WHERE consumer_group = ? AND partition_no = ?
"""
_CREATE_CONSUMERS = """
INSERT INTO event_log_consumers (consumer_group, partition_no, log_offset, updated_at)
VALUES {values} ON CONFLICT (consumer_group, partition_no) DO NOTHING
"""
_LOCK_CONSUMERS = """
SELECT partition_no, log_offset FROM event_log_consumers
WHERE consumer_group = ? AND partition_no IN ({marks}) ORDER BY partition_no FOR UPDATE
"""
_COMMIT_CONSUMER = """
INSERT INTO event_log_consumers (consumer_group, partition_no, log_offset, updated_at)
VALUES {values} ON CONFLICT (consumer_group, partition_no) DO UPDATE SET
log_offset = CASE WHEN excluded.log_offset > event_log_consumers.log_offset
             THEN excluded.log_offset ELSE event_log_consumers.log_offset END,
updated_at = excluded.updated_at
"""


def _run(connection: Connection, statement: str, parameters: Any) -> CursorResult[*tuple[Any, ...]]:
    """Run ``statement`` with the driver's placeholders (SQLite has no ``FOR UPDATE``: its
    writer holds the whole database already)."""
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql(statement.replace("?", "%s"), parameters)
    return connection.exec_driver_sql(statement.replace(" FOR UPDATE", ""), parameters)


def trim_records(
    session: Session,
    before: datetime,
    *,
    workspace_id: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> int:
    """Delete (or, dry, count) the log records appended before ``before`` that every
    consumer group has committed (the slowest group decides), of one workspace or all;
    ``limit``: at most that many a partition (the oldest)."""
    processed = session.execute(
        select(_CONSUMERS.c.partition_no, func.min(_CONSUMERS.c.log_offset)).group_by(
            _CONSUMERS.c.partition_no
        )
    ).all()
    total = 0
    for partition, offset in sorted(processed):
        where = [
            _RECORDS.c.partition_no == partition,
            _RECORDS.c.log_offset <= offset,
            _RECORDS.c.appended_at < before,
        ]
        if workspace_id is not None:
            where.append(_RECORDS.c.workspace_id == workspace_id)
        if dry_run:
            total += int(
                session.scalar(select(func.count()).select_from(_RECORDS).where(*where)) or 0
            )
        else:
            if limit is not None:
                oldest = select(_RECORDS.c.log_offset).where(*where)
                oldest = oldest.order_by(_RECORDS.c.log_offset).limit(limit)
                where = [_RECORDS.c.partition_no == partition, _RECORDS.c.log_offset.in_(oldest)]
            result = session.execute(delete(_RECORDS).where(*where))
            total += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return total


def _bytes(value: bytes | memoryview) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)


class SqlEventLog(EventLog):
    def __init__(self, database: Database, partitions: int) -> None:
        super().__init__(partitions)
        self.database = database

    @contextmanager
    def _session(self, session: Session | None, *, write: bool) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        try:
            with self.database.transaction(write=write) as own:
                yield own
        except OperationalError as error:
            raise ServiceUnavailableError(f"the event log is unavailable: {error.orig}") from None

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for one read: lighter than a session, which the worker would
        otherwise open for every partition it polls."""
        try:
            with self.database.engine.connect() as connection:
                yield connection
        except OperationalError as error:
            raise ServiceUnavailableError(f"the event log is unavailable: {error.orig}") from None

    def _advance_heads(self, session: Session, counts: dict[int, int]) -> dict[int, int]:
        """Reserve ``counts[p]`` offsets in each partition ``p`` with one statement; return
        the last offset reserved per partition.

        The head rows stay locked until the caller's transaction ends, so appenders of a
        partition commit in offset order. The upsert creates missing head rows and locks
        the existing ones in ascending partition order, which keeps concurrent appenders
        free of deadlocks (a concurrent creator of a head row makes it wait, then update).
        """
        connection = session.connection()
        partitions = sorted(counts)
        if connection.dialect.name == "postgresql":
            rows = connection.exec_driver_sql(
                _ADVANCE_HEADS_POSTGRES, (partitions, [counts[p] for p in partitions])
            )
        else:
            values = ", ".join(["(?, ?)"] * len(partitions))
            cursor = driver_connection(connection).execute(
                _ADVANCE_HEADS_SQLITE.format(values=values),
                tuple(n for p in partitions for n in (p, counts[p])),
            )
            rows = cursor.fetchall()
            cursor.close()
        return {int(p): int(last) for p, last in rows}

    def append(
        self, records: Sequence[NewRecord], *, session: Session | None = None
    ) -> list[tuple[int, int]]:
        if not records:
            return []
        by_partition: dict[int, list[int]] = {}
        for index, record in enumerate(records):
            by_partition.setdefault(self.partition_of(record.key), []).append(index)
        positions: list[tuple[int, int]] = [(0, 0)] * len(records)
        with self._session(session, write=True) as s:
            last_offsets = self._advance_heads(s, {p: len(i) for p, i in by_partition.items()})
            order: list[int] = []
            for partition in sorted(by_partition):
                indexes = by_partition[partition]
                first = last_offsets[partition] - len(indexes) + 1
                for offset, index in enumerate(indexes, start=first):
                    positions[index] = (partition, offset)
                order.extend(indexes)
            connection = s.connection()
            dialect = connection.dialect.name
            now = driver_datetime(utcnow(), dialect)
            if dialect == "postgresql":
                connection.exec_driver_sql(
                    _INSERT_RECORDS_POSTGRES,
                    (
                        now,
                        [positions[i][0] for i in order],
                        [positions[i][1] for i in order],
                        [records[i].key for i in order],
                        [records[i].workspace_id for i in order],
                        [records[i].payload for i in order],
                    ),
                )
            else:
                insert_rows_sqlite(
                    connection,
                    _INSERT_RECORDS_SQLITE,
                    [
                        (
                            *positions[i],
                            records[i].key,
                            records[i].workspace_id,
                            records[i].payload,
                            now,
                        )
                        for i in order
                    ],
                )
        return positions

    def read(self, partition: int, after: int, limit: int) -> list[Record]:
        with self._reading() as connection:
            rows = _run(connection, _READ, (partition, after, limit)).all()
        return [Record(partition, row[0], row[1], row[2], _bytes(row[3])) for row in rows]

    def read_many(self, starts: Mapping[int, int], limit: int) -> dict[int, list[Record]]:
        """All partitions' slices in one statement (a worker reads every partition it holds
        each batch: one round trip instead of one per partition)."""
        found: dict[int, list[Record]] = {partition: [] for partition in starts}
        if not starts:
            return found
        partitions = sorted(starts)
        with self._reading() as connection:
            # SQLite joins at most 500 SELECTs with UNION ALL: a worker may hold more.
            for first in range(0, len(partitions), _SLICES_A_STATEMENT):
                some = partitions[first : first + _SLICES_A_STATEMENT]
                statement = " UNION ALL ".join(_READ_SLICE.format(n=n) for n in range(len(some)))
                parameters = tuple(x for p in some for x in (p, starts[p], limit))
                for partition, offset, key, workspace_id, payload in _run(
                    connection, statement, parameters
                ):
                    found[partition].append(
                        Record(partition, offset, key, workspace_id, _bytes(payload))
                    )
        for records in found.values():
            records.sort(key=lambda record: record.offset)  # UNION ALL keeps no order
        return found

    def end_offset(self, partition: int) -> int:
        with self._reading() as connection:
            value = _run(connection, _END_OFFSET, (partition,)).scalar_one_or_none()
        return int(value or 0)

    def committed(self, group: str, partition: int) -> int:
        """The group's committed offset (a worker's batch locks them: ``lock_committed``)."""
        with self._reading() as connection:
            value = _run(connection, _CONSUMER_OFFSET, (group, partition)).scalar_one_or_none()
        return int(value or 0)

    def lock_committed(
        self, group: str, partitions: Sequence[int], *, session: Session
    ) -> dict[int, int]:
        """The group's committed offsets of ``partitions``, their rows locked (created when
        missing) until ``session``'s transaction ends, in partition order (no deadlocks
        between workers): two statements for any number of partitions."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        connection = session.connection()
        now = driver_datetime(utcnow(), connection.dialect.name)
        _run(
            connection,
            _CREATE_CONSUMERS.format(values=", ".join(["(?, ?, 0, ?)"] * len(wanted))),
            tuple(x for p in wanted for x in (group, p, now)),
        )
        rows = _run(
            connection,
            _LOCK_CONSUMERS.format(marks=", ".join(["?"] * len(wanted))),
            (group, *wanted),
        ).all()
        return {int(p): int(offset) for p, offset in rows}

    def commit(
        self, group: str, partition: int, offset: int, *, session: Session | None = None
    ) -> None:
        self.commit_many(group, {partition: offset}, session=session)

    def commit_many(
        self, group: str, offsets: Mapping[int, int], *, session: Session | None = None
    ) -> None:
        """:meth:`commit` of several partitions in one statement (never backwards)."""
        if not offsets:
            return
        with self._session(session, write=True) as s:
            connection = s.connection()
            now = driver_datetime(utcnow(), connection.dialect.name)
            partitions = sorted(offsets)
            _run(
                connection,
                _COMMIT_CONSUMER.format(values=", ".join(["(?, ?, ?, ?)"] * len(partitions))),
                tuple(x for p in partitions for x in (group, p, offsets[p], now)),
            )

    def forget(
        self, positions: Sequence[tuple[int, int]], *, session: Session | None = None
    ) -> int:
        if not positions:
            return 0
        forgotten = 0
        with self._session(session, write=True) as s:
            for partition, offset in sorted(set(positions)):
                result = s.execute(
                    delete(_RECORDS).where(
                        _RECORDS.c.partition_no == partition, _RECORDS.c.log_offset == offset
                    )
                )
                forgotten += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return forgotten

    def trim(self, before: datetime, *, dry_run: bool = False) -> int:
        with self._session(None, write=not dry_run) as session:
            return trim_records(session, before, dry_run=dry_run)

    def ping(self) -> None:
        self.database.ping()
