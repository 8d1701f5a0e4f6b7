"""The event log in SQL tables: SQLite for embedded mode, PostgreSQL for one server.

Appends and consumer commits can join a caller's transaction (``session=``): ingestion
writes its de-duplication rows, dead letters and log records in one transaction, and a
worker commits its offset in the same transaction as the batch's effects, which makes
processing effectively-once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from coreo.db import Database, conflict_insert, utcnow
from coreo.errors import ServiceUnavailableError
from coreo.eventlog.base import EventLog, NewRecord, Record
from coreo.eventlog.models import LogConsumer, LogHead, LogRecord

__all__ = ["SqlEventLog"]

_RECORDS = cast(Table, LogRecord.__table__)
_HEADS = cast(Table, LogHead.__table__)
_CONSUMERS = cast(Table, LogConsumer.__table__)


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

    def _advance_heads(self, session: Session, counts: dict[int, int]) -> dict[int, int]:
        """Reserve ``counts[p]`` offsets in each partition ``p`` with one statement; return
        the last offset reserved per partition.

        The head rows stay locked until the caller's transaction ends, so appenders of a
        partition commit in offset order (one UPDATE locks its rows in a fixed order, which
        keeps concurrent appenders free of deadlocks). Missing head rows are created first;
        a concurrent creator makes the insert wait, then the update sees its row.
        """
        connection = session.connection()
        partitions = sorted(counts)

        def advance(which: list[int]) -> dict[int, int]:
            statement = (
                update(_HEADS)
                .where(_HEADS.c.partition_no.in_(which))
                .values(
                    last_offset=_HEADS.c.last_offset
                    + case({p: counts[p] for p in which}, value=_HEADS.c.partition_no)
                )
                .returning(_HEADS.c.partition_no, _HEADS.c.last_offset)
            )
            return {int(p): int(last) for p, last in connection.execute(statement)}

        reserved = advance(partitions)
        missing = [p for p in partitions if p not in reserved]
        if missing:
            connection.execute(
                conflict_insert(session, _HEADS)
                .values([{"partition_no": p, "last_offset": 0} for p in missing])
                .on_conflict_do_nothing(index_elements=["partition_no"])
            )
            reserved |= advance(missing)
        return reserved

    def append(
        self, records: Sequence[NewRecord], *, session: Session | None = None
    ) -> list[tuple[int, int]]:
        if not records:
            return []
        by_partition: dict[int, list[int]] = {}
        for index, record in enumerate(records):
            by_partition.setdefault(self.partition_of(record.key), []).append(index)
        positions: list[tuple[int, int]] = [(0, 0)] * len(records)
        now = utcnow()
        with self._session(session, write=True) as s:
            rows = []
            last_offsets = self._advance_heads(s, {p: len(i) for p, i in by_partition.items()})
            for partition in sorted(by_partition):
                indexes = by_partition[partition]
                last = last_offsets[partition]
                first = last - len(indexes) + 1
                for offset, index in enumerate(indexes, start=first):
                    record = records[index]
                    positions[index] = (partition, offset)
                    rows.append(
                        {
                            "partition_no": partition,
                            "log_offset": offset,
                            "key": record.key,
                            "workspace_id": record.workspace_id,
                            "payload": record.payload,
                            "appended_at": now,
                        }
                    )
            s.connection().execute(insert(_RECORDS), rows)
        return positions

    def read(self, partition: int, after: int, limit: int) -> list[Record]:
        with self._session(None, write=False) as s:
            rows = s.execute(
                select(
                    _RECORDS.c.log_offset,
                    _RECORDS.c.key,
                    _RECORDS.c.workspace_id,
                    _RECORDS.c.payload,
                )
                .where(_RECORDS.c.partition_no == partition, _RECORDS.c.log_offset > after)
                .order_by(_RECORDS.c.log_offset)
                .limit(limit)
            ).all()
        return [Record(partition, row[0], row[1], row[2], bytes(row[3])) for row in rows]

    def end_offset(self, partition: int) -> int:
        with self._session(None, write=False) as s:
            value = s.execute(
                select(func.max(_RECORDS.c.log_offset)).where(_RECORDS.c.partition_no == partition)
            ).scalar_one_or_none()
        return int(value or 0)

    def committed(
        self, group: str, partition: int, *, session: Session | None = None, lock: bool = False
    ) -> int:
        """The group's committed offset; with ``lock`` (inside a caller's transaction) the
        group's row stays locked until that transaction ends, serialising its workers."""
        with self._session(session, write=lock) as s:
            query = select(_CONSUMERS.c.log_offset).where(
                _CONSUMERS.c.consumer_group == group, _CONSUMERS.c.partition_no == partition
            )
            if lock:
                s.execute(
                    conflict_insert(s, _CONSUMERS)
                    .values(
                        consumer_group=group,
                        partition_no=partition,
                        log_offset=0,
                        updated_at=utcnow(),
                    )
                    .on_conflict_do_nothing(index_elements=["consumer_group", "partition_no"])
                )
                query = query.with_for_update()
            value = s.execute(query).scalar_one_or_none()
        return int(value or 0)

    def commit(
        self, group: str, partition: int, offset: int, *, session: Session | None = None
    ) -> None:
        with self._session(session, write=True) as s:
            statement = conflict_insert(s, _CONSUMERS).values(
                consumer_group=group, partition_no=partition, log_offset=offset, updated_at=utcnow()
            )
            newer = statement.excluded.log_offset > _CONSUMERS.c.log_offset
            s.execute(
                statement.on_conflict_do_update(
                    index_elements=["consumer_group", "partition_no"],
                    set_={
                        "log_offset": case(
                            (newer, statement.excluded.log_offset), else_=_CONSUMERS.c.log_offset
                        ),
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )

    def ping(self) -> None:
        self.database.ping()
