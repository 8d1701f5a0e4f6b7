"""Real HTTP on loopback: Segment's own Python SDK and `coreo sim replay` against a server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from coreo.app import create_app
from coreo.config import Settings
from coreo.db import Database
from coreo.sim.generate import generate
from coreo.sim.replay import read_events, replay
from coreo.sim.scenario import Scenario
from tests.conftest import Tenant
from tests.ingest.conftest import stored_events


@pytest.fixture
def live_url(settings: Settings, database: Database) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(settings.model_copy(update={"log_level": "WARNING"}), database=database)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def _wait_for(database: Database, workspace_id: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = stored_events(database, workspace_id)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_official_segment_python_sdk_works_unchanged(
    live_url: str, tenant: Tenant, database: Database
) -> None:
    from segment.analytics import Client

    errors: list[Exception] = []
    client = Client(
        write_key=tenant.write_token,
        host=live_url,
        on_error=lambda error, _batch: errors.append(error),
        gzip=True,
        max_retries=1,
    )
    client.identify("user-7", {"email": "Eva@Example.CH", "name": "Eva"})
    client.track("user-7", "Product Viewed", {"product_id": "P1", "price": 9.9})
    client.page("user-7", "Docs", "Getting started", {"url": "https://example.ch/docs"})
    client.group("user-7", "company-1", {"name": "Example AG"})
    client.alias("anon-1", "user-7")
    client.flush()
    client.join()
    assert not errors
    events = _wait_for(database, tenant.workspace_id, 5)
    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {"identify", "track", "page", "group", "alias"}
    assert by_type["identify"]["traits"]["email"] == "eva@example.ch"
    assert by_type["track"]["properties"]["product_id"] == "P1"
    assert by_type["alias"]["previousId"] == "anon-1"
    assert by_type["track"]["context"]["library"]["name"] == "analytics-python"


def test_sim_replay_delivers_every_generated_event(
    live_url: str, tenant: Tenant, database: Database, tmp_path: Path
) -> None:
    out = tmp_path / "world"
    summary = generate(Scenario(customers=120, days=14, seed=5), out)
    report = replay(
        read_events(out / "events.jsonl"),
        url=live_url,
        write_key=tenant.write_token,
        batch_size=200,
    )
    assert report.sent == summary.counts["events"]
    events = _wait_for(database, tenant.workspace_id, report.sent)
    assert len(events) == report.sent
    # A second replay of the same file is acknowledged but adds nothing.
    again = replay(read_events(out / "events.jsonl"), url=live_url, write_key=tenant.write_token)
    assert again.sent == report.sent
    time.sleep(0.5)
    assert len(stored_events(database, tenant.workspace_id)) == report.sent
