"""On SQLite the pipeline cuts its transactions short while ingestion queues behind it for
the one write lock (coreo.runtime.worker, coreo.db)."""

from __future__ import annotations

import threading
import time

from coreo.db import Database
from coreo.eventlog.base import NewRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.runtime.worker import YIELDING_DIVISOR, Worker
from tests.conftest import Tenant

BATCH = 80


def _make_ingestion_wait(database: Database) -> None:
    """An urgent writer (ingestion) finds the write lock taken by another (the pipeline)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.transaction():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=_urgent_write, args=(database,))
    waiter.start()
    time.sleep(0.1)
    release.set()
    holder.join(10)
    waiter.join(10)


def _urgent_write(database: Database) -> None:
    with database.transaction(urgent=True):
        pass


def test_batches_shrink_while_ingestion_waits_for_sqlite(
    database: Database, tenant: Tenant
) -> None:
    log = SqlEventLog(database, 1)
    log.append([NewRecord(f"k{n}", tenant.workspace_id, b"{}") for n in range(3 * BATCH)])
    worker = Worker(database, log, [], batch_size=BATCH, partitions=[0])
    assert worker.run_once() == BATCH  # nobody waiting: a whole batch
    _make_ingestion_wait(database)
    yielding = BATCH // YIELDING_DIVISOR if database.is_sqlite else BATCH
    assert worker.run_once() == yielding  # PostgreSQL's writers never queue for the lock
    assert log.committed(worker.group, 0) == BATCH + yielding
