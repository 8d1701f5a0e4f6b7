"""Crash safety with real processes: `kill -9` of a worker mid-batch and of the API while it
accepts batches. After a restart every accepted event is present and applied exactly once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import orjson
import pytest
from fastapi.testclient import TestClient

from coreo.app import create_app
from coreo.config import get_settings
from coreo.db import Database
from tests.cli.test_cli import TOKEN, _env, free_port, invoke

# A worker process whose pipeline also records every application of an event in a table
# without a unique key: a record applied twice would show up there twice.
_WORKER = """
import signal, sys, threading
from sqlalchemy import text
from coreo.config import get_settings
from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.history.stage import HistoryStage
from coreo.runtime.worker import Worker

class Applications:
    name = "applications"
    def process(self, session, events):
        session.execute(
            text("INSERT INTO applications (message_id) VALUES (:m)"),
            [{"m": e.message["messageId"]} for e in events],
        )

settings = get_settings()
database = Database.from_settings(settings)
worker = Worker(database, SqlEventLog(database, settings.event_log_partitions),
                [Applications(), HistoryStage()], batch_size=int(sys.argv[1]))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
worker.run(stop, idle_sleep=0.01)
"""


def _count(home: Path, sql: str) -> int:
    with sqlite3.connect(home / "coreo.db", timeout=30) as connection:
        return int(connection.execute(sql).fetchone()[0])


def _ingest(home: Path, write_key: str, count: int) -> None:
    settings = get_settings(home=home, worker_enabled=False, log_level="WARNING")
    database = Database.from_settings(settings)
    with TestClient(create_app(settings, database=database)) as client:
        for start in range(0, count, 500):
            batch = [
                {"type": "track", "userId": f"u{i % 97}", "event": "E", "messageId": f"m-{i}"}
                for i in range(start, min(count, start + 500))
            ]
            assert (
                client.post("/v1/batch", json={"batch": batch}, auth=(write_key, "")).status_code
                == 200
            )
    database.dispose()


@pytest.mark.slow
def test_worker_killed_mid_batch_applies_every_event_exactly_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_key = (
        TOKEN.findall(invoke(home, "init"))[1]
        if False
        else [m.group(0) for m in TOKEN.finditer(invoke(home, "init"))][1]
    )
    total = 6000
    _ingest(home, write_key, total)
    with sqlite3.connect(home / "coreo.db") as connection:
        connection.execute("CREATE TABLE applications (message_id TEXT NOT NULL)")

    errors = tmp_path / "worker.err"

    def start_worker() -> subprocess.Popen[bytes]:
        with errors.open("ab") as err:
            return subprocess.Popen(
                [sys.executable, "-c", _WORKER, "50"],
                env=_env(home),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    kills = 0
    worker = start_worker()
    try:
        for threshold in (800, 2500, 4000):  # kill -9 three times while it works
            deadline = time.monotonic() + 60
            while _count(home, "SELECT count(*) FROM events") < threshold:
                assert time.monotonic() < deadline, errors.read_text()
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            worker = start_worker()
        deadline = time.monotonic() + 120
        while _count(home, "SELECT count(*) FROM events") < total:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert kills == 3
    assert _count(home, "SELECT count(*) FROM events") == total
    assert _count(home, "SELECT count(*) FROM applications") == total
    assert _count(home, "SELECT count(DISTINCT message_id) FROM applications") == total
    assert _count(home, "SELECT sum(log_offset) FROM event_log_consumers") == total


@pytest.mark.slow
def test_api_killed_while_accepting_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_key = [m.group(0) for m in TOKEN.finditer(invoke(home, "init"))][1]
    port = free_port()
    env = _env(home, COREO_WORKER_ENABLED="false", COREO_LOG_LEVEL="WARNING")

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
    stop = threading.Event()

    def client() -> None:
        number = 0
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set():
                ids = [f"k-{number}-{i}" for i in range(50)]
                batch = [
                    {"type": "track", "userId": "u", "event": "E", "messageId": m} for m in ids
                ]
                try:
                    response = http.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
                except httpx2.TransportError:
                    time.sleep(0.05)
                    continue  # unacknowledged: the client would retry it later
                if response.status_code == 200:
                    acknowledged.extend(ids)
                number += 1

    server = start_server()
    sender = threading.Thread(target=client)
    sender.start()
    try:
        for _ in range(3):
            time.sleep(1.0)
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
    with sqlite3.connect(home / "coreo.db") as connection:
        stored = [row[0] for row in connection.execute("SELECT payload FROM event_log")]
    message_ids = [orjson.loads(p)["messageId"] for p in stored]
    assert set(acknowledged) <= set(message_ids)  # nothing acknowledged is lost
    assert len(message_ids) == len(set(message_ids))  # and nothing is kept twice
