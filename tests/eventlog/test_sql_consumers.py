"""The SQL log's consumer offsets as a worker uses them: several partitions locked and
committed with one statement each, inside the worker's transaction (coreo.eventlog.sql)."""

from __future__ import annotations

import threading
import time

import pytest

from coreo.auth import service as auth_service
from coreo.db import Database
from coreo.eventlog.base import NewRecord
from coreo.eventlog.sql import SqlEventLog


def test_locking_creates_missing_offsets_and_reports_committed_ones(database: Database) -> None:
    log = SqlEventLog(database, 8)
    log.commit("g", 3, 17)
    with database.transaction() as session:
        assert log.lock_committed("g", [5, 3, 0, 3], session=session) == {0: 0, 3: 17, 5: 0}
        assert log.lock_committed("g", [], session=session) == {}
    assert log.committed("g", 5) == 0  # the row exists now, still at 0
    assert log.committed("other", 3) == 0


def test_committing_many_partitions_never_moves_one_backwards(database: Database) -> None:
    log = SqlEventLog(database, 8)
    log.commit_many("g", {0: 5, 1: 9})
    log.commit_many("g", {0: 3, 1: 12, 2: 1})
    log.commit_many("g", {})
    assert [log.committed("g", p) for p in range(4)] == [5, 12, 1, 0]


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_second_worker_waits_for_the_partitions_another_holds(database: Database) -> None:
    """Effectively-once with several workers: the offsets stay locked until the holder's
    transaction ends, so the next one reads what it committed."""
    log = SqlEventLog(database, 8)
    log.commit_many("g", {1: 0, 2: 0, 3: 0})  # rows there: only the row lock can hold up
    locked, release = threading.Event(), threading.Event()
    seen: dict[int, int] = {}

    def holder() -> None:
        with database.transaction() as session:
            log.lock_committed("g", [1, 2], session=session)
            locked.set()
            release.wait(10)
            log.commit_many("g", {1: 40, 2: 50}, session=session)

    asking = threading.Event()

    def follower() -> None:
        with database.transaction() as session:
            asking.set()
            seen.update(log.lock_committed("g", [2, 3], session=session))

    first = threading.Thread(target=holder)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=follower)
    second.start()
    assert asking.wait(10)
    time.sleep(0.5)
    assert seen == {}  # still waiting for partition 2
    release.set()
    first.join(10)
    second.join(10)
    assert seen == {2: 50, 3: 0}


def test_a_worker_holding_hundreds_of_partitions_reads_them_all(database: Database) -> None:
    """More partitions than SQLite joins in one UNION ALL (500): read in several statements."""
    log = SqlEventLog(database, 600)
    with database.transaction() as session:
        workspace = auth_service.create_workspace(session=session, slug="many", actor="test")
    keys = [f"k{n}" for n in range(3000)]
    log.append([NewRecord(k, workspace.id, k.encode()) for k in keys])
    got = log.read_many(dict.fromkeys(range(600), 0), 1000)
    assert sorted(r.payload.decode() for records in got.values() for r in records) == sorted(keys)
    assert all(r.partition == p for p, records in got.items() for r in records)
