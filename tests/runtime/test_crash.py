"""Crash safety with real processes: `kill -9` of a worker mid-batch and of the API while it
accepts batches, on every deployment (embedded SQLite, PostgreSQL with the SQL log,
PostgreSQL with the NATS log). After a restart every accepted event is present once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from coreo.app import create_app
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import DEFAULT_GROUP, Worker
from tests.cli.test_cli import free_port
from tests.helpers import logged_messages
from tests.runtime.conftest import Deployment

# A worker process whose pipeline also records every application of an event in
# `applications`. With the SQL log that table has no unique key: a record applied twice
# would show up there twice. With NATS (at-least-once) the stage is what a real stage must
# be, idempotent: it applies an event once per message id, and counts every delivery in
# `deliveries` (no key) to show redeliveries. Leases live 1 s so that a restarted worker
# takes over the partitions of the killed one quickly.
_WORKER = """
import signal, sys, threading
from sqlalchemy import text
from coreo.config import get_settings
from coreo.db import Database
from coreo.eventlog import build_event_log
from coreo.history.stage import HistoryStage
from coreo.runtime.worker import Worker

GUARDED = sys.argv[2] == "guarded"

class Applications:
    name = "applications"
    def process(self, session, events):
        rows = [{"m": e.message["messageId"]} for e in events]
        if GUARDED:
            session.execute(text("INSERT INTO deliveries (message_id) VALUES (:m)"), rows)
            session.execute(
                text("INSERT INTO applications (message_id) VALUES (:m) "
                     "ON CONFLICT (message_id) DO NOTHING"),
                rows,
            )
        else:
            session.execute(text("INSERT INTO applications (message_id) VALUES (:m)"), rows)

settings = get_settings()
database = Database.from_settings(settings)
worker = Worker(database, build_event_log(settings, database),
                [Applications(), HistoryStage()], batch_size=int(sys.argv[1]),
                lease_ttl=1.0, lease_renew_interval=0.2)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
worker.run(stop, idle_sleep=0.01)
"""


def _ingest(deployment: Deployment, write_key: str, count: int) -> None:
    settings = deployment.settings(worker_enabled=False, log_level="WARNING")
    with TestClient(create_app(settings, database=deployment.database)) as client:
        for start in range(0, count, 500):
            batch = [
                {"type": "track", "userId": f"u{i % 97}", "event": "E", "messageId": f"m-{i}"}
                for i in range(start, min(count, start + 500))
            ]
            assert (
                client.post("/v1/batch", json={"batch": batch}, auth=(write_key, "")).status_code
                == 200
            )


def _committed_total(deployment: Deployment) -> int:
    log = deployment.event_log()
    try:
        return sum(log.committed(DEFAULT_GROUP, p) for p in range(log.partitions))
    finally:
        log.close()


def _logged_message_ids(deployment: Deployment) -> list[str]:
    log = deployment.event_log()
    try:
        return [m["messageId"] for _, m in logged_messages(deployment.database, log)]
    finally:
        log.close()


@pytest.mark.slow
def test_worker_killed_mid_batch_applies_every_event_exactly_once(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`kill -9` of a worker three times while it works, then a restarted worker finishes.

    SQL log: the batch's effects and its offset commit share one transaction, so every event
    is applied exactly once: `applications` (no unique key) holds each message id once.

    NATS log: the offset is committed after the database transaction. A kill inside the
    transaction rolls the batch back (it is delivered again, applied for the first time); a
    kill between the commit and the offset commit redelivers an applied batch. That window
    is short, so whether a redelivery happens is up to timing and is not asserted either
    way. What must hold: the guarded stage and the history apply every event exactly once,
    and redeliveries (deliveries beyond one per event) are at most one batch per kill.
    """
    write_key = deployment.init()
    total, batch_size = 6000, 50
    _ingest(deployment, write_key, total)
    unique = " UNIQUE" if deployment.nats else ""
    deployment.execute(f"CREATE TABLE applications (message_id VARCHAR(100) NOT NULL{unique})")
    deployment.execute("CREATE TABLE deliveries (message_id VARCHAR(100) NOT NULL)")

    errors = tmp_path / "worker.err"
    mode = "guarded" if deployment.nats else "plain"

    def start_worker() -> subprocess.Popen[bytes]:
        with errors.open("ab") as err:
            return subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(batch_size), mode],
                env=deployment.env(),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def history() -> int:
        return deployment.count("SELECT count(*) FROM events")

    kills = 0
    worker = start_worker()
    try:
        for threshold in (800, 2500, 4000):  # kill -9 three times while it works
            deadline = time.monotonic() + 60
            while history() < threshold:
                assert time.monotonic() < deadline, errors.read_text()
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            worker = start_worker()
        deadline = time.monotonic() + 120
        while history() < total:
            assert time.monotonic() < deadline, errors.read_text()
            time.sleep(0.05)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert kills == 3
    assert worker.returncode == 0, errors.read_text()
    assert history() == total
    assert deployment.count("SELECT count(*) FROM applications") == total
    assert deployment.count("SELECT count(DISTINCT message_id) FROM applications") == total
    assert _committed_total(deployment) == total
    # The graceful stop gave the leases back; the killed workers' leases had expired.
    assert deployment.count("SELECT count(*) FROM event_log_leases") == 0
    if deployment.nats:
        deliveries = deployment.count("SELECT count(*) FROM deliveries")
        assert total <= deliveries <= total + kills * batch_size, deliveries


@pytest.mark.slow
def test_api_killed_while_accepting_loses_nothing_it_acknowledged(
    deployment: Deployment,
) -> None:
    """`kill -9` of `coreo serve` three times while a client sends batches; the client
    resends a batch that got no answer (as SDKs do).

    SQL log: the de-duplication rows and the log records commit in one transaction, so the
    log holds every acknowledged event exactly once. NATS log: records are published before
    the database transaction commits; a kill in between leaves records in the log whose
    request was never acknowledged, and the resent batch appends them again. So the log may
    hold a message id twice, but only one of a resent batch, and at most twice; after the
    pipeline has run, the history holds every logged event exactly once (its message-id
    guard absorbs the second copy).
    """
    write_key = deployment.init()
    port = free_port()
    env = deployment.env(COREO_WORKER_ENABLED="false", COREO_LOG_LEVEL="WARNING")

    def start_server() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "coreo", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return process
            except httpx2.TransportError:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    acknowledged: list[str] = []
    resent: set[str] = set()
    stop = threading.Event()

    def client() -> None:
        number = 0
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set():
                ids = [f"k-{number}-{i}" for i in range(50)]
                batch = [
                    {"type": "track", "userId": f"u{i % 7}", "event": "E", "messageId": m}
                    for i, m in enumerate(ids)
                ]
                try:
                    response = http.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
                except httpx2.TransportError:
                    resent.update(ids)
                    time.sleep(0.05)
                    continue  # unacknowledged: sent again
                if response.status_code == 200:
                    acknowledged.extend(ids)
                number += 1

    server = start_server()
    sender = threading.Thread(target=client)
    sender.start()
    try:
        for _ in range(3):
            time.sleep(0.5)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            server = start_server()
        time.sleep(0.5)
    finally:
        stop.set()
        sender.join(timeout=30)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert len(acknowledged) > 500
    logged = Counter(_logged_message_ids(deployment))
    assert set(acknowledged) <= logged.keys()  # nothing acknowledged is lost
    twice = {m for m, n in logged.items() if n > 1}
    if not deployment.nats:
        assert not twice  # nothing is kept twice
        return
    assert twice <= resent and max(logged.values()) <= 2  # only resent records, once more
    log = deployment.event_log()
    try:
        Worker(deployment.database, log, default_stages()).drain(timeout=60)
    finally:
        log.close()
    assert deployment.count("SELECT count(*) FROM events") == len(logged)
