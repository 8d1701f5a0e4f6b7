"""A worker: reads batches per partition from the event log and runs the stage pipeline.

With the SQL log, a batch's effects and its offset commit share one transaction, and the
committed offset is re-read under lock inside it, so two workers racing for a partition
cannot apply a record twice (effectively-once). A stage that fails on a batch is retried
record by record (each in a savepoint); records that still fail become dead letters with
the stage's name, and the rest of the batch goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy.orm import Session

from coreo.db import Database, utcnow
from coreo.eventlog.base import EventLog, Record
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.service import dead_letter
from coreo.observability.metrics import PipelineMetrics

__all__ = ["Event", "Stage", "Worker"]

_log = logging.getLogger("coreo.worker")
DEFAULT_GROUP = "coreo-pipeline"


@dataclass(frozen=True, slots=True)
class Event:
    """A log record decoded for the stages."""

    partition: int
    offset: int
    workspace_id: str
    message: dict[str, Any]


def _received_at(event: Event) -> datetime | None:
    value = event.message.get("receivedAt")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class Stage(Protocol):
    """One step of the pipeline. It must be idempotent per message id (NATS redelivers)."""

    name: str

    def process(self, session: Session, events: Sequence[Event]) -> None: ...


class Worker:
    """Processes every partition of ``log`` through ``stages``."""

    def __init__(
        self,
        database: Database,
        log: EventLog,
        stages: Sequence[Stage],
        *,
        group: str = DEFAULT_GROUP,
        batch_size: int = 500,
        partitions: Sequence[int] | None = None,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.database = database
        self.log = log
        self.stages = tuple(stages)
        self.group = group
        self.batch_size = batch_size
        self.partitions = tuple(partitions if partitions is not None else range(log.partitions))
        self.processed = 0
        self.dead_letters = 0
        self._cursor: dict[int, int] = {}
        self.metrics = metrics

    def _decode(self, record: Record) -> Event | None:
        try:
            message = orjson.loads(record.payload)
        except orjson.JSONDecodeError:
            return None
        return Event(record.partition, record.offset, record.workspace_id, message)

    def run_once(self) -> int:
        """Process at most one batch per partition; return how many records were handled."""
        handled = 0
        for partition in self.partitions:
            handled += self._process_partition(partition)
        return handled

    def _process_partition(self, partition: int) -> int:
        # Where this worker is: remembered between batches, read from the log only at start.
        start = self._cursor.get(partition)
        if start is None:
            start = self.log.committed(self.group, partition)
        records = self.log.read(partition, start, self.batch_size)
        if not records:
            self._cursor[partition] = start
            return 0
        caught_up = len(records) < self.batch_size
        sql_log = self.log if isinstance(self.log, SqlEventLog) else None
        with self.database.transaction() as session:
            if sql_log is not None:  # effectively-once: offset re-read under lock
                committed = sql_log.committed(self.group, partition, session=session, lock=True)
                records = [r for r in records if r.offset > committed]
                if not records:  # another worker got there first
                    self._cursor[partition] = committed
                    return 0
            events = []
            for record in records:
                event = self._decode(record)
                if event is None:
                    self._dead_letter(session, record, "decode", "the record is not valid JSON")
                else:
                    events.append(event)
            for stage in self.stages:
                started = time.perf_counter()
                before = len(events)
                events = self._run_stage(session, stage, events)
                if self.metrics is not None:
                    self.metrics.latency.labels(stage.name).observe(time.perf_counter() - started)
                    self.metrics.events.labels(stage.name, "ok").inc(len(events))
                    self.metrics.events.labels(stage.name, "dead_letter").inc(before - len(events))
            if sql_log is not None:
                sql_log.commit(self.group, partition, records[-1].offset, session=session)
        if sql_log is None:
            # At-least-once logs: commit after the transaction; a crash in between means a
            # redelivery, which the idempotent stages (message-id guards) absorb.
            self.log.commit(self.group, partition, records[-1].offset)
        self._cursor[partition] = records[-1].offset
        self.processed += len(records)
        if self.metrics is not None:
            self._observe_done(self.metrics, partition, records[-1].offset, events, caught_up)
        return len(records)

    def _observe_done(
        self,
        metrics: PipelineMetrics,
        partition: int,
        offset: int,
        events: list[Event],
        caught_up: bool,
    ) -> None:
        now = utcnow()
        for event in events:
            at = _received_at(event)
            if at is not None:
                metrics.end_to_end.observe(max(0.0, (now - at).total_seconds()))
        # A short read means the partition was drained: no need to ask the log for its end.
        lag = 0 if caught_up else max(0, self.log.end_offset(partition) - offset)
        metrics.lag.labels(str(partition)).set(lag)

    def _run_stage(self, session: Session, stage: Stage, events: list[Event]) -> list[Event]:
        if not events:
            return events
        try:
            with session.begin_nested():
                stage.process(session, events)
            return events
        except Exception:
            _log.warning("stage %s failed on a batch; retrying record by record", stage.name)
        survivors = []
        for event in events:
            try:
                with session.begin_nested():
                    stage.process(session, [event])
                survivors.append(event)
            except Exception as error:
                reason = f"{type(error).__name__}: {str(error)[:500]}"
                self._dead_letter(session, event, stage.name, reason)
        return survivors

    def _dead_letter(self, session: Session, item: Event | Record, stage: str, reason: str) -> None:
        payload: Any = (
            item.message if isinstance(item, Event) else item.payload.decode("utf-8", "replace")
        )
        now = utcnow()
        dead_letter(
            session,
            workspace_id=item.workspace_id,
            stage=stage,
            reason=reason,
            payload=payload,
            received_at=(_received_at(item) if isinstance(item, Event) else None) or now,
            now=now,
        )
        self.dead_letters += 1

    def run(self, stop: threading.Event, *, idle_sleep: float = 0.05) -> None:
        """Loop until ``stop`` is set; sleep briefly when there is nothing to do."""
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(idle_sleep)
            except Exception:
                _log.exception("worker batch failed; retrying in 1 s")
                stop.wait(1.0)

    def drain(self, timeout: float = 30.0) -> None:
        """Process until every partition is caught up (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while self.run_once() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not catch up in time")
