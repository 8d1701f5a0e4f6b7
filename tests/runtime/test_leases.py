"""Partition leases: workers of one group split the partitions, take over those of a worker
that stopped renewing, and give theirs back when they stop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreo.app import create_app
from coreo.db import Database
from coreo.eventlog.base import NewRecord
from coreo.eventlog.models import LogLease, LogMember
from coreo.eventlog.sql import SqlEventLog
from coreo.runtime.leases import PartitionLeases
from coreo.runtime.worker import Event, Worker
from tests.conftest import Tenant
from tests.runtime.conftest import Deployment


class Recorder:
    """A stage that remembers what it was given."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []

    def process(self, session: Session, events: Sequence[Event]) -> None:
        self.seen.extend((e.partition, str(e.message["messageId"])) for e in events)


def _append(log: SqlEventLog, workspace_id: str, ids: Sequence[str]) -> None:
    log.append([NewRecord(m, workspace_id, orjson.dumps({"messageId": m})) for m in ids])


def _rows(database: Database, model: type[LogLease] | type[LogMember]) -> int:
    with database.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_two_workers_split_the_partitions_disjointly_and_cover_all(
    database: Database, tenant: Tenant
) -> None:
    log = SqlEventLog(database, 8)
    a_seen, b_seen = Recorder(), Recorder()
    a = Worker(database, log, [a_seen], lease_ttl=60, lease_renew_interval=30)
    b = Worker(database, log, [b_seen], lease_ttl=60, lease_renew_interval=30)
    assert a.leases is not None and b.leases is not None
    a.run_once()
    assert a.partitions == tuple(range(8))  # the only member takes everything
    b.run_once()
    assert b.partitions == ()  # a member now, but every partition is still held
    a.leases.refresh()  # two members: a gives back its excess
    b.leases.refresh()  # and b claims it
    assert len(a.partitions) == len(b.partitions) == 4
    assert set(a.partitions).isdisjoint(b.partitions)
    assert set(a.partitions) | set(b.partitions) == set(range(8))

    ids = [f"m-{i}" for i in range(200)]
    _append(log, tenant.workspace_id, ids)
    while a.run_once() + b.run_once() > 0:
        pass
    assert a_seen.seen and b_seen.seen
    assert {p for p, _ in a_seen.seen} <= set(a.partitions)
    assert {p for p, _ in b_seen.seen} <= set(b.partitions)
    assert sorted(m for _, m in a_seen.seen + b_seen.seen) == sorted(ids)  # each once

    b.release()  # a graceful stop: a takes the rest at its next renewal
    a.leases.refresh()
    assert a.partitions == tuple(range(8))


def test_concurrent_claims_never_give_a_partition_to_two_workers(database: Database) -> None:
    leases = [
        PartitionLeases(database, group="g", partitions=8, ttl=60, renew_interval=30)
        for _ in range(4)
    ]
    views: list[set[int]] = []
    errors: list[BaseException] = []

    def renew(lease: PartitionLeases, barrier: threading.Barrier) -> None:
        barrier.wait()  # all at once: the claims race
        try:
            lease.refresh()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    for _ in range(10):
        barrier = threading.Barrier(len(leases))
        threads = [threading.Thread(target=renew, args=(lease, barrier)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        views = [set(lease.held()) for lease in leases]
        assert sum(map(len, views)) == len(set().union(*views))  # disjoint, every round
        if sorted(map(len, views)) == [2, 2, 2, 2]:
            break
    assert sorted(map(len, views)) == [2, 2, 2, 2]  # balanced across the live workers
    assert set().union(*views) == set(range(8))


def test_a_claim_never_takes_a_live_lease_even_from_a_stale_view(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = PartitionLeases(database, group="g", partitions=8, ttl=60, renew_interval=30)
    holder.refresh()
    late = PartitionLeases(database, group="g", partitions=8, ttl=60, renew_interval=30)
    # As if it had read the lease table before `holder` claimed everything.
    monkeypatch.setattr(late, "_free_partitions", lambda *_: (list(range(8)), False))
    change = late.refresh()
    assert change.held == change.claimed == frozenset()
    assert holder.refresh().held == frozenset(range(4))  # two members now: half each
    assert late.refresh().held == frozenset(range(4, 8))  # the half given back, no more


def test_a_worker_that_stops_renewing_loses_its_partitions(
    database: Database, tenant: Tenant
) -> None:
    log = SqlEventLog(database, 8)
    stalled_seen, taker_seen = Recorder(), Recorder()
    stalled = Worker(database, log, [stalled_seen], lease_ttl=0.3, lease_renew_interval=0.1)
    taker = Worker(database, log, [taker_seen], lease_ttl=60, lease_renew_interval=30)
    assert stalled.leases is not None
    assert stalled.leases.refresh().held == frozenset(range(8))
    time.sleep(0.35)  # stalled (a long GC pause, a frozen VM): its leases expire
    assert stalled.partitions == ()  # it stops trusting them as they expire, unrenewed
    taker.run_once()  # the stalled worker no longer counts as live: take everything
    assert taker.partitions == tuple(range(8))

    _append(log, tenant.workspace_id, [f"m-{i}" for i in range(50)])
    assert stalled.run_once() == 0  # its renewal finds the leases gone and nothing free
    assert stalled.partitions == () and stalled_seen.seen == []
    taker.drain()
    assert len(taker_seen.seen) == 50


def test_a_stopping_worker_gives_its_leases_back(database: Database) -> None:
    worker = Worker(database, SqlEventLog(database, 8), [Recorder()])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while worker.partitions != tuple(range(8)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert _rows(database, LogLease) == 8 and _rows(database, LogMember) == 1
    finally:
        stop.set()
        thread.join(timeout=10)
    assert _rows(database, LogLease) == 0 and _rows(database, LogMember) == 0


def test_explicit_partitions_take_no_leases(database: Database, tenant: Tenant) -> None:
    log = SqlEventLog(database, 8)
    seen = Recorder()
    ids = [f"m-{i}" for i in range(100)]
    _append(log, tenant.workspace_id, ids)
    worker = Worker(database, log, [seen], partitions=[1, 2])
    assert worker.leases is None
    worker.drain()
    expected = {m for m in ids if log.partition_of(m) in (1, 2)}
    assert {m for _, m in seen.seen} == expected and len(seen.seen) == len(expected)
    assert _rows(database, LogLease) == 0 and _rows(database, LogMember) == 0


# `coreo worker` as shipped, plus a stage recording which process applied which event in a
# table without a unique key (a NATS record processed by both workers would show twice).
# Leases live 2.5 s (COREO_WORKER_LEASE_SECONDS below) and renew every 0.5 s instead of
# 2 s, so that the workers rebalance sooner.
_COREO_WORKER = """
import os, sys
from sqlalchemy import text
import coreo.runtime.pipeline as pipeline

class Applications:
    name = "applications"
    def process(self, session, events):
        session.execute(
            text("INSERT INTO applications (message_id, pid) VALUES (:m, :p)"),
            [{"m": e.message["messageId"], "p": os.getpid()} for e in events],
        )

_shipped = pipeline.default_stages
pipeline.default_stages = lambda *args: [Applications(), *_shipped(*args)]
sys.argv = ["coreo", "worker", "--batch-size", "100"]
from coreo.cli import main
main()
"""


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.nats
def test_two_worker_processes_on_nats_process_every_event_once(
    nats_deployment: Deployment, tmp_path: Path
) -> None:
    """Two `coreo worker` processes on PostgreSQL + NATS start on a backlog; whichever
    registers first takes every partition and hands half of them over at its next renewal,
    while it works through the backlog; then more events arrive for both. No event is
    processed by both workers (NATS alone would deliver every record to each of them): the
    table without a unique key holds each once, and the workers' own counts add up."""
    deployment = nats_deployment
    write_key = deployment.init()
    deployment.execute(
        "CREATE TABLE applications (message_id VARCHAR(100) NOT NULL, pid INTEGER NOT NULL)"
    )
    settings = deployment.settings(worker_enabled=False, log_level="WARNING")
    total = 3000

    def send(client: TestClient, numbers: range) -> None:
        for start in range(numbers.start, numbers.stop, 500):
            batch = [
                {"type": "track", "userId": f"u{i % 89}", "event": "E", "messageId": f"w-{i}"}
                for i in range(start, min(numbers.stop, start + 500))
            ]
            response = client.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
            assert response.json()["accepted"] == len(batch)

    def owners() -> list[int]:
        with deployment.database.transaction(write=False) as session:
            counts = session.execute(
                select(func.count()).select_from(LogLease).group_by(LogLease.owner)
            ).scalars()
            return sorted(counts)

    errors = [tmp_path / "a.err", tmp_path / "b.err"]
    processes: list[subprocess.Popen[str]] = []
    outputs: list[str] = []
    with TestClient(create_app(settings, database=deployment.database)) as client:
        send(client, range(total // 2))
        try:
            for err in errors:
                with err.open("wb") as stderr:
                    processes.append(
                        subprocess.Popen(
                            [sys.executable, "-c", _COREO_WORKER],
                            env=deployment.env(
                                COREO_LOG_LEVEL="WARNING", COREO_WORKER_LEASE_SECONDS="2.5"
                            ),
                            stdout=subprocess.PIPE,
                            stderr=stderr,
                            text=True,
                        )
                    )
            deadline = time.monotonic() + 30
            while owners() != [4, 4]:  # balanced: each holds half of the partitions
                assert time.monotonic() < deadline, [e.read_text() for e in errors]
                time.sleep(0.05)
            send(client, range(total // 2, total))
            deadline = time.monotonic() + 60
            while deployment.count("SELECT count(*) FROM events") < total:
                assert time.monotonic() < deadline, [e.read_text() for e in errors]
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                outputs.append(process.communicate(timeout=30)[0])
    assert [p.returncode for p in processes] == [0, 0], [e.read_text() for e in errors]
    assert deployment.count("SELECT count(*) FROM applications") == total
    assert deployment.count("SELECT count(DISTINCT message_id) FROM applications") == total
    assert deployment.count("SELECT count(DISTINCT pid) FROM applications") == 2  # both worked
    processed = [
        int(re.search(r"Stopped after ([\d,]+) events", out).group(1).replace(",", ""))  # type: ignore[union-attr]
        for out in outputs
    ]
    assert sum(processed) == total and min(processed) > 0
    assert _rows(deployment.database, LogLease) == 0  # both gave their leases back
    assert _rows(deployment.database, LogMember) == 0
