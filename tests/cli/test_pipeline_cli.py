"""`coreo worker` and `coreo dlq` as an operator uses them."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from coreo.app import create_app
from coreo.config import get_settings
from coreo.db import Database
from tests.cli.test_cli import TOKEN, _env, assert_one_line_error, coreo, invoke


def _send(home: Path, write_key: str) -> None:
    settings = get_settings(home=home, worker_enabled=False)
    database = Database.from_settings(settings)
    with TestClient(create_app(settings, database=database)) as client:
        batch = {
            "batch": [
                {"type": "track", "userId": "u1", "event": "Order Completed"},
                {"type": "identify", "userId": "u1", "traits": {"email": "A@B.CH"}},
                {"type": "track", "event": "No Identity"},
            ]
        }
        result = client.post("/v1/batch", json=batch, auth=(write_key, "")).json()
        assert result["accepted"] == 2 and len(result["rejected"]) == 1
    database.dispose()


def test_worker_processes_and_stops_on_sigterm_and_dlq_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tokens = [m.group(0) for m in TOKEN.finditer(invoke(home, "init"))]
    _send(home, tokens[1])

    listed = coreo(home, "dlq", "list")
    assert (
        listed.returncode == 0 and "No Identity" in listed.stdout and "validation" in listed.stdout
    )
    letter_id = next(w for w in listed.stdout.split() if w.startswith("dl_"))
    shown = coreo(home, "dlq", "show", letter_id)
    assert shown.returncode == 0 and "No Identity" in shown.stdout

    process = subprocess.Popen(
        [sys.executable, "-m", "coreo", "worker"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sqlite3.connect(home / "coreo.db") as connection:
                if connection.execute("SELECT count(*) FROM events").fetchone()[0] == 2:
                    break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped after 2 events" in out

    out = str(tmp_path / "events.parquet")
    nobody = coreo(home, "events", "export", "--out", out)  # for analytics: nobody consented
    assert nobody.returncode == 0 and "Exported 0 events" in nobody.stdout
    exported = coreo(home, "events", "export", "--out", out, "--purpose", "necessary")
    assert exported.returncode == 0 and "Exported 2 events" in exported.stdout
    refused = coreo(home, "events", "export", "--out", out, "--purpose", "gossip")
    assert_one_line_error(refused, "unknown purpose")

    replay = coreo(home, "dlq", "replay")
    assert replay.returncode == 1 and "1 failed again" in replay.stdout
    purge = coreo(home, "dlq", "purge", "--status", "open")
    assert purge.returncode == 0 and "Purged 1" in purge.stdout
    assert "dead_letters.purged" in coreo(home, "audit", "show").stdout
    empty = coreo(home, "dlq", "list")
    assert empty.returncode == 0 and "No open dead letters in workspace default." in empty.stdout
    bad = coreo(home, "dlq", "list", "--status", "sometimes")
    assert bad.returncode == 1 and "--status must be" in bad.stderr
