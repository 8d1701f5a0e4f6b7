"""Who runs a back-fill: one runner at a time; a stopped runner's back-fill is taken over,
and a server that starts runs the back-fills a stopped server left."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.traits.test_api import REVENUE, wait_for
from tests.traits.test_pipeline import Feed, feed, order

from coreo.db import Database, utcnow
from coreo.errors import ConflictError, NotFoundError
from coreo.runtime.owners import new_owner
from coreo.traits import backfill, jobs, service
from coreo.traits.definitions import parse
from coreo.traits.models import TraitBackfill

__all__ = ["feed"]


def _dead_owner() -> str:
    """The owner string of a process of this host that has exited (as after kill -9)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{socket.gethostname()[:60]}/{done.stdout.strip()}/own_gone"


def _job(database: Database, workspace_id: str, **values: Any) -> str:
    """A back-fill of the ``revenue`` trait, with its row set to ``values``."""
    with database.transaction() as session:
        change = service.put_definitions(
            session, workspace_id, [parse({"name": "revenue", **REVENUE})], actor="test"
        )
        job = backfill.start_backfill(session, workspace_id, change.backfill)
        job_id = job.id
    _set(database, job_id, **values)
    return job_id


def _set(database: Database, job_id: str, **values: Any) -> None:
    if values:
        with database.transaction() as session:
            session.execute(update(TraitBackfill).where(TraitBackfill.id == job_id).values(values))


def test_one_runner_at_a_time_and_a_stopped_one_is_taken_over(
    database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    job_id = _job(database, ws)
    first, second = new_owner(), new_owner()
    jobs.claim(database, ws, job_id, first)
    jobs.claim(database, ws, job_id, first)  # its own again: fine
    with pytest.raises(ConflictError, match="running in another process"):
        jobs.claim(database, ws, job_id, second)
    assert jobs.orphans(database) == []
    _set(database, job_id, heartbeat_at=utcnow() - jobs.TIMEOUT - timedelta(seconds=1))
    assert jobs.orphans(database) == [(ws, job_id)]  # the heartbeat stopped
    jobs.claim(database, ws, job_id, second)
    with pytest.raises(ConflictError):
        jobs.claim(database, ws, job_id, first)  # the first one is late: it lost it
    with pytest.raises(NotFoundError):
        jobs.claim(database, ws, "tbf_nope", first)
    _set(database, job_id, status="completed")
    with pytest.raises(ConflictError, match="already complete"):
        jobs.claim(database, ws, job_id, second)
    assert jobs.orphans(database) == []


def test_a_runner_killed_on_this_host_is_taken_over_at_once(
    database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    job_id = _job(database, ws, status="running", owner=_dead_owner(), heartbeat_at=utcnow())
    assert jobs.orphans(database) == [(ws, job_id)]
    jobs.claim(database, ws, job_id, new_owner())


def test_an_unclaimed_back_fill_waits_for_its_creator_before_it_is_an_orphan(
    database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    job_id = _job(database, ws)
    assert jobs.orphans(database) == []
    _set(database, job_id, created_at=utcnow() - jobs.TIMEOUT - timedelta(seconds=1))
    assert jobs.orphans(database) == [(ws, job_id)]


def test_the_heartbeat_is_renewed_while_it_runs(
    database: Database, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tenant.workspace_id
    job_id = _job(database, ws)
    owner = new_owner()
    jobs.claim(database, ws, job_id, owner)
    stale = utcnow() - timedelta(minutes=5)
    _set(database, job_id, heartbeat_at=stale)
    monkeypatch.setattr(jobs, "BEAT", timedelta(seconds=0.05))
    with jobs.running(database, ws, job_id, owner):
        time.sleep(0.5)
    with database.transaction(write=False) as session:
        job = session.get(TraitBackfill, job_id)
        assert job is not None and job.heartbeat_at is not None
        assert job.heartbeat_at > stale + timedelta(minutes=4)


def test_a_starting_server_runs_the_back_fill_a_killed_server_left(
    database: Database,
    tenant: Any,
    feed: Feed,
    app_factory: Callable[..., TestClient],
) -> None:
    ws = tenant.workspace_id
    feed(order("anna", 3, 40, "web"), order("anna", 1, 2.5, "app"))
    job_id = _job(
        database,
        ws,
        status="running",
        phase="computing",
        owner=_dead_owner(),
        heartbeat_at=utcnow() - timedelta(seconds=2),
    )
    with app_factory() as client:
        job = wait_for(client, tenant, job_id)
        traits = client.get("/v1/computed-traits/revenue", headers=tenant.admin).json()
    assert (job["status"], job["events_read"], job["profiles_written"]) == ("completed", 2, 1)
    assert traits["status"] == "ready"
    with database.transaction(write=False) as session:
        done = session.get(TraitBackfill, job_id)
        assert done is not None and done.owner is not None and "own_gone" not in done.owner


def test_a_runner_that_lost_its_back_fill_stops_without_writing(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    feed(order("anna", 3, 40, "web"))
    job_id = _job(database, ws)
    stalled, taker = new_owner(), new_owner()
    jobs.claim(database, ws, job_id, stalled)
    _set(database, job_id, heartbeat_at=utcnow() - jobs.TIMEOUT - timedelta(seconds=1))
    jobs.claim(database, ws, job_id, taker)  # the stalled runner's heartbeat had stopped
    with pytest.raises(backfill.LostBackfill):
        backfill.run_backfill(database, ws, job_id, owner=stalled)
    with database.transaction(write=False) as session:
        job = session.get(TraitBackfill, job_id)
        assert job is not None and (job.owner, job.status) == (taker, "running")
        assert service.definitions_of(session, ws).backfilling == {"revenue"}
    done = backfill.run_backfill(database, ws, job_id, owner=taker)
    assert (done.status, done.profiles_written) == ("completed", 1)


def test_a_running_server_takes_over_a_back_fill_whose_runner_stopped(
    database: Database,
    tenant: Any,
    feed: Feed,
    app_factory: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "TIMEOUT", timedelta(seconds=0.3))  # look again soon
    ws = tenant.workspace_id
    feed(order("anna", 3, 40, "web"))
    with app_factory() as client:
        time.sleep(0.1)  # the server has started and found nothing to resume
        job_id = _job(database, ws, status="running", owner=new_owner(), heartbeat_at=utcnow())
        job = wait_for(client, tenant, job_id)  # its heartbeat stops: the server takes over
    assert job["status"] == "completed"
