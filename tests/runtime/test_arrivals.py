"""A caught-up worker is woken by ingestion in its process and lingers a moment, so that
events arriving one by one are processed together (coreo.runtime.worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.orm import Session

from coreo.db import Database
from coreo.eventlog.base import NewRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.runtime.worker import Event, Worker
from tests.conftest import Tenant

IDLE = 30.0  # a poll this long never happens within a test: only a wake-up explains a batch


class _Batches:
    """A stage that records the size of every batch it sees."""

    name = "count"

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.seen = threading.Event()

    def process(self, session: Session, events: Sequence[Event]) -> None:
        self.sizes.append(len(events))
        self.seen.set()


class _Arrivals(threading.Event):
    """The wake-up event, telling when the worker waits on it (caught up, idle)."""

    def __init__(self) -> None:
        super().__init__()
        self.awaited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.awaited.set()
        return super().wait(timeout)


@contextmanager
def _running(worker: Worker) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"idle_sleep": IDLE})
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        if worker.arrivals is not None:
            worker.arrivals.set()  # out of its wait at once
        thread.join(10)
        assert not thread.is_alive()


def _append(log: SqlEventLog, tenant: Tenant, n: int) -> None:
    log.append([NewRecord(f"k{i}", tenant.workspace_id, b"{}") for i in range(n)])


def test_an_arrival_wakes_a_caught_up_worker_at_once(database: Database, tenant: Tenant) -> None:
    log = SqlEventLog(database, 2)
    stage, arrivals = _Batches(), _Arrivals()
    worker = Worker(database, log, [stage], partitions=[0, 1], arrivals=arrivals)
    with _running(worker):
        assert arrivals.awaited.wait(5)  # caught up (nothing there), now waiting
        _append(log, tenant, 3)
        started = time.monotonic()
        arrivals.set()
        assert stage.seen.wait(5)
        assert time.monotonic() - started < IDLE / 10
        assert sum(stage.sizes) == 3


def test_a_woken_worker_lingers_and_takes_what_arrives_meanwhile_in_one_batch(
    database: Database, tenant: Tenant
) -> None:
    log = SqlEventLog(database, 1)
    stage, arrivals = _Batches(), _Arrivals()
    worker = Worker(database, log, [stage], partitions=[0], arrivals=arrivals, linger=3.0)
    with _running(worker):
        assert arrivals.awaited.wait(5)  # idle
        for _ in range(5):  # one by one, well within the linger
            _append(log, tenant, 1)
            arrivals.set()
        assert stage.seen.wait(10)
        assert stage.sizes == [5]


def test_without_a_linger_every_arrival_is_read_at_once(database: Database, tenant: Tenant) -> None:
    log = SqlEventLog(database, 1)
    stage, arrivals = _Batches(), _Arrivals()
    worker = Worker(database, log, [stage], partitions=[0], arrivals=arrivals)
    with _running(worker):
        assert arrivals.awaited.wait(5)
        for n in range(3):
            stage.seen.clear()
            _append(log, tenant, 1)
            arrivals.set()
            assert stage.seen.wait(5)
            assert stage.sizes == [1] * (n + 1)


def test_a_full_batch_is_followed_by_the_next_without_waiting(
    database: Database, tenant: Tenant
) -> None:
    """Only a caught-up worker waits: a backlog is worked off batch after batch."""
    log = SqlEventLog(database, 1)
    _append(log, tenant, 50)
    stage = _Batches()
    worker = Worker(
        database, log, [stage], batch_size=10, partitions=[0], arrivals=threading.Event()
    )
    with _running(worker):
        deadline = time.monotonic() + 10
        while sum(stage.sizes) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert stage.sizes == [10] * 5
