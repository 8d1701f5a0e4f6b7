"""A worker: reads batches per partition from the event log and runs the stage pipeline.

With the SQL log, a batch's effects and its offset commit share one transaction, and the
committed offset is re-read under lock inside it, so two workers racing for a partition
cannot apply a record twice (effectively-once). A stage that fails on a batch is retried
record by record (each in a savepoint); records that still fail become dead letters with
the stage's name, and the rest of the batch goes on.

Unless it is given fixed ``partitions``, a worker processes only the partitions it leases
(:mod:`coreo.runtime.leases`), so several workers of one group split the partitions between
them instead of all reading every partition. With the SQL log the row lock stays as a second
line of defence; with NATS the leases are what keeps two workers off one partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreo.db import Database, utcnow
from coreo.eventlog.base import EventLog, Record
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.models import DeadLetter
from coreo.ingest.service import dead_letter
from coreo.observability.metrics import PipelineMetrics
from coreo.privacy import transit
from coreo.privacy.keystore import KeyStoreMismatch
from coreo.runtime.leases import PartitionLeases

__all__ = ["Event", "Stage", "Worker"]

_log = logging.getLogger("coreo.worker")
DEFAULT_GROUP = "coreo-pipeline"
# While ingestion waits for SQLite's write lock, batches are this many times smaller.
YIELDING_DIVISOR = 8


@dataclass(frozen=True, slots=True)
class Event:
    """A log record decoded for the stages; ``annotations`` carry what one stage tells the
    next (the identity stage's ``profile_id``)."""

    partition: int
    offset: int
    workspace_id: str
    message: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict, compare=False)


def _received_at(event: Event) -> datetime | None:
    value = event.message.get("receivedAt")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _unsuppressed(events: list[Event]) -> list[Event]:
    """The events later stages still see: a stage drops one (an erased person's) by setting
    its ``suppressed`` annotation; the event counts as processed and leaves no trace."""
    return [e for e in events if "suppressed" not in e.annotations]


class Stage(Protocol):
    """One step of the pipeline. It must be idempotent per message id (NATS redelivers)."""

    name: str

    def process(self, session: Session, events: Sequence[Event]) -> None: ...


class Worker:
    """Processes the partitions of ``log`` it leases (or is assigned) through ``stages``.

    Args:
        partitions: a fixed assignment; without it the worker leases its share of the
            partitions from the database and rebalances as workers come and go.
        lease_ttl: seconds a lease lives without renewal (how long the partitions of a
            killed worker wait before another one takes them over).
        lease_renew_interval: seconds between renewals (well below ``lease_ttl``).
        owner: this worker's identity in the lease table (default: unique per instance).
        dead_letter_interval: seconds between updates of the open dead-letter gauge.
        arrivals: set by whoever appends to the log in this process (the API's ingestion
            in ``coreo serve``): a caught-up worker waits on it instead of polling, so an
            event is picked up as soon as it is committed.
        linger: seconds a caught-up worker waits after being woken (or, without
            ``arrivals``, after a short batch) before it reads again, so that events
            arriving one by one are processed a few dozen at a time: the stages' fixed
            cost per batch (reads, preloads, a transaction) is paid once for all of them
            instead of once per event. Adds at most this much to the processing delay.
    """

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
        lease_ttl: float = 10.0,
        lease_renew_interval: float = 2.0,
        owner: str | None = None,
        dead_letter_interval: float = 5.0,
        arrivals: threading.Event | None = None,
        linger: float = 0.0,
    ) -> None:
        self.database = database
        self.log = log
        self.stages = tuple(stages)
        self.group = group
        self.batch_size = batch_size
        self.leases: PartitionLeases | None = None
        self._assigned: tuple[int, ...] = ()
        if partitions is None:
            self.leases = PartitionLeases(
                database,
                group=group,
                partitions=log.partitions,
                owner=owner,
                ttl=lease_ttl,
                renew_interval=lease_renew_interval,
            )
        else:
            self._assigned = tuple(partitions)
        self.processed = 0
        self.dead_letters = 0
        # partition -> (lease tenure, offset): where this worker is, remembered between
        # batches while it keeps the partition, read from the log when it (re)gains it.
        self._cursor: dict[int, tuple[int, int]] = {}
        self.metrics = metrics
        self.dead_letter_interval = dead_letter_interval
        self._dead_letters_counted_at = float("-inf")
        self.arrivals = arrivals
        self.linger = linger
        self.caught_up = True  # the last batch read every held partition to its end

    @property
    def partitions(self) -> tuple[int, ...]:
        """The partitions this worker processes now: its assignment or its valid leases."""
        if self.leases is None:
            return self._assigned
        return self.leases.held()

    @staticmethod
    def _decode(session: Session, record: Record) -> Event | str:
        """The record's event, or why it has none (for its dead letter)."""
        try:
            payload = transit.open_record(session, record.workspace_id, record.payload)
        except transit.TransitKeyGone as gone:
            return f"the record cannot be opened: {gone}"
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return "the record is not valid JSON"
        if not isinstance(message, dict):
            return "the record is not a JSON object"
        return Event(record.partition, record.offset, record.workspace_id, message)

    def run_once(self) -> int:
        """Process one batch over the partitions this worker holds; return how many records
        were handled."""
        if self.leases is not None and self.leases.due():
            self._renew_leases(self.leases)
        if self.metrics is not None:
            self._count_open_dead_letters(self.metrics)
        return self._process_batch()

    def _renew_leases(self, leases: PartitionLeases) -> None:
        change = leases.refresh()
        if change.claimed or change.lost:
            _log.info(
                "worker %s now holds partitions %s (claimed %s, gave up or lost %s)",
                leases.owner,
                sorted(change.held),
                sorted(change.claimed),
                sorted(change.lost),
            )

    def release(self) -> None:
        """Give back this worker's leases so that others take its partitions at once."""
        if self.leases is not None:
            self.leases.release()

    def _count_open_dead_letters(self, metrics: PipelineMetrics) -> None:
        now = time.monotonic()
        if now - self._dead_letters_counted_at < self.dead_letter_interval:
            return
        self._dead_letters_counted_at = now
        with self.database.transaction(write=False) as session:
            rows = session.execute(
                select(DeadLetter.workspace_id, DeadLetter.stage, func.count())
                .where(DeadLetter.status == "open")
                .group_by(DeadLetter.workspace_id, DeadLetter.stage)
            ).all()
        metrics.set_open_dead_letters({(ws, stage): int(n) for ws, stage, n in rows})

    def _start_offset(self, partition: int) -> tuple[int, int]:
        tenure = self.leases.tenure(partition) if self.leases is not None else 0
        cached = self._cursor.get(partition)
        if cached is not None and cached[0] == tenure:
            return tenure, cached[1]
        return tenure, self.log.committed(self.group, partition)

    def _process_batch(self) -> int:
        """Read what each held partition has (a share of ``batch_size`` each), run every
        stage once over all of it in one transaction and commit each partition's offset in
        that same transaction (SQL log: effectively-once). One batch for all partitions: the
        stages' fixed cost per batch is paid once, not once per partition."""
        held = [
            p for p in self.partitions if self.leases is None or self.leases.holds(p)
        ]  # a long batch may outlast the lease: checked again each batch
        self.caught_up = True
        if not held:
            return 0
        size = self.batch_size
        if self.database.urgent_writers_waited(within=1.0):
            # Ingestion is queueing behind this worker for SQLite's one write lock: shorter
            # transactions let accepted events in sooner (the log absorbs the burst).
            size = max(1, size // YIELDING_DIVISOR)
        share = max(1, size // len(held))
        starts = {partition: self._start_offset(partition) for partition in held}
        fetched = self.log.read_many({p: start for p, (_, start) in starts.items()}, share)
        reads: dict[int, tuple[int, list[Record]]] = {}
        for partition, (tenure, start) in starts.items():
            records = fetched.get(partition, [])
            if len(records) == share:
                self.caught_up = False
            if records:
                reads[partition] = (tenure, records)
            else:
                self._cursor[partition] = (tenure, start)
        if not reads:
            return 0
        sql_log = self.log if isinstance(self.log, SqlEventLog) else None
        with self.database.transaction() as session:
            if sql_log is not None:  # effectively-once: offsets re-read under lock, in order
                locked = sql_log.lock_committed(self.group, list(reads), session=session)
                for partition in sorted(reads):
                    tenure, records = reads[partition]
                    committed = locked[partition]
                    records = [r for r in records if r.offset > committed]
                    if records:
                        reads[partition] = (tenure, records)
                    else:  # another worker got there first
                        del reads[partition]
                        self._cursor[partition] = (tenure, committed)
                if not reads:
                    return 0
            events = []
            for partition in sorted(reads):
                for record in reads[partition][1]:
                    event = self._decode(session, record)
                    if isinstance(event, str):
                        self._dead_letter(session, record, "decode", event)
                    else:
                        events.append(event)
            events = self._run_stages(session, events)
            # An erased person's events (suppressed) must not stay in the log either.
            forgotten = [(e.partition, e.offset) for e in events if "suppressed" in e.annotations]
            if sql_log is not None:
                sql_log.forget(forgotten, session=session)
                sql_log.commit_many(
                    self.group,
                    {p: records[-1].offset for p, (_, records) in reads.items()},
                    session=session,
                )
        handled = 0
        for partition in sorted(reads):
            tenure, records = reads[partition]
            if sql_log is None:
                # At-least-once logs: commit after the transaction; a crash in between means
                # a redelivery, which the idempotent stages (message-id guards) absorb.
                self.log.commit(self.group, partition, records[-1].offset)
                if gone := [p for p in forgotten if p[0] == partition]:
                    self.log.forget(gone)
            self._cursor[partition] = (tenure, records[-1].offset)
            handled += len(records)
            if self.metrics is not None:
                mine = [e for e in events if e.partition == partition]
                caught_up = len(records) < share
                self._observe_done(self.metrics, partition, records[-1].offset, mine, caught_up)
        self.processed += handled
        return handled

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

    def _run_stages(self, session: Session, events: list[Event]) -> list[Event]:
        """Every stage over the batch under one savepoint (one round trip each way, not one
        per stage). When a stage fails, the batch is rolled back to it and each event goes
        through every stage on its own: an event that fails is dead-lettered with the name
        of the stage that refused it and leaves no partial effects; the others go on."""
        if not events:
            return events
        timings: list[tuple[str, float]] = []
        try:
            with session.begin_nested():
                live = events
                for stage in self.stages:
                    started = time.perf_counter()
                    stage.process(session, live)
                    timings.append((stage.name, time.perf_counter() - started))
                    live = _unsuppressed(live)
        except Exception:
            failed = self.stages[len(timings)].name
            _log.warning("stage %s failed on a batch; retrying event by event", failed)
        else:
            self._observe_stages(timings, len(events), {})
            return events
        survivors: list[Event] = []
        refused: dict[str, int] = {}
        for event in events:
            current = self.stages[0].name
            try:
                with session.begin_nested():
                    for stage in self.stages:
                        current = stage.name
                        stage.process(session, [event])
                        if not _unsuppressed([event]):
                            break
                survivors.append(event)
            except KeyStoreMismatch:
                raise  # the process is misconfigured, not the event: stop, dead-letter nothing
            except Exception as error:
                reason = f"{type(error).__name__}: {str(error)[:500]}"
                self._dead_letter(session, event, current, reason)
                refused[current] = refused.get(current, 0) + 1
        self._observe_stages([], len(survivors), refused)
        return survivors

    def _observe_stages(
        self, timings: list[tuple[str, float]], passed: int, refused: dict[str, int]
    ) -> None:
        if self.metrics is None:
            return
        for name, seconds in timings:
            self.metrics.latency.labels(name).observe(seconds)
        for stage in self.stages:
            self.metrics.events.labels(stage.name, "ok").inc(passed)
            if refused.get(stage.name):
                self.metrics.events.labels(stage.name, "dead_letter").inc(refused[stage.name])

    def _dead_letter(self, session: Session, item: Event | Record, stage: str, reason: str) -> None:
        now = utcnow()
        dead_letter(
            session,
            workspace_id=item.workspace_id,
            stage=stage,
            reason=reason,
            payload=item.message if isinstance(item, Event) else None,
            record_text=None if isinstance(item, Event) else transit.record_text(item.payload),
            received_at=(_received_at(item) if isinstance(item, Event) else None) or now,
            now=now,
        )
        self.dead_letters += 1

    def run(self, stop: threading.Event, *, idle_sleep: float = 0.05) -> None:
        """Loop until ``stop`` is set; sleep briefly when there is nothing to do.

        When the loop ends, the worker gives back its leases (graceful stop).
        """
        try:
            while not stop.is_set():
                try:
                    handled = self.run_once()
                    if handled == 0 or self.caught_up:
                        self._rest(stop, idle_sleep, handled)
                except Exception:
                    _log.exception("worker batch failed; retrying in 1 s")
                    stop.wait(1.0)
        finally:
            self._release_quietly()

    def _rest(self, stop: threading.Event, idle_sleep: float, handled: int) -> None:
        """Wait for more work after a batch that caught up (see ``arrivals``, ``linger``)."""
        if self.arrivals is not None:
            woken = self.arrivals.wait(idle_sleep)  # polls too: other processes append
            # Cleared after waking and before reading: an append that lands in between is
            # read by the coming batch, and one after it sets the event again.
            self.arrivals.clear()
            if woken and self.linger > 0:
                stop.wait(self.linger)
        elif handled == 0:
            stop.wait(idle_sleep)
        elif self.linger > 0:
            stop.wait(self.linger)

    def drain(self, timeout: float = 30.0) -> None:
        """Process until every partition this worker holds is caught up (tests, graceful
        shutdown), then give back its leases."""
        deadline = time.monotonic() + timeout
        try:
            while self.run_once() > 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("the worker did not catch up in time")
        finally:
            self._release_quietly()

    def _release_quietly(self) -> None:
        try:
            self.release()
        except Exception:
            # The leases then expire after their TTL and other workers take over.
            _log.exception("could not release the partition leases")
