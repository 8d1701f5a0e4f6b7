"""The whole path on the cluster backend: HTTP → NATS JetStream log → worker → history."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from coreo.config import Settings
from coreo.db import Database
from coreo.eventlog import build_event_log
from coreo.eventlog.nats import NatsEventLog
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from tests.conftest import NATS_URL, Tenant
from tests.ingest.conftest import stored_events

pytestmark = pytest.mark.nats


@pytest.fixture
def nats_settings(settings: Settings, make_nats_log: Callable[[int], NatsEventLog]) -> Settings:
    log = make_nats_log(settings.event_log_partitions)  # checks NATS, removed afterwards
    return settings.model_copy(
        update={
            "event_log": "nats",
            "nats_url": SecretStr(NATS_URL),
            "nats_stream": log.name,
            "worker_enabled": False,
        }
    )


def test_events_flow_through_jetstream_exactly_once(
    nats_settings: Settings,
    database: Database,
    tenant: Tenant,
    app_factory: Callable[..., TestClient],
) -> None:
    from coreo.app import create_app

    auth = (tenant.write_token, "")
    batch = {
        "batch": [
            {"type": "track", "userId": f"u{i % 3}", "event": "Viewed", "messageId": f"n-{i}"}
            for i in range(30)
        ]
    }
    with TestClient(create_app(nats_settings, database=database)) as client:
        assert client.get("/readyz").json()["checks"]["event_log"] == "ok"
        assert client.post("/v1/batch", json=batch, auth=auth).json()["accepted"] == 30
        assert client.post("/v1/batch", json=batch, auth=auth).json()["duplicates"] == 30
    log = build_event_log(nats_settings, database)
    try:
        assert isinstance(log, NatsEventLog)
        worker = Worker(database, log, default_stages())
        worker.drain()
        assert worker.processed == 30
        events = stored_events(database, tenant.workspace_id)
        assert sorted(e["messageId"] for e in events) == sorted(f"n-{i}" for i in range(30))
        # A redelivery (offsets lost, e.g. a crash before the commit) changes nothing.
        for partition in range(log.partitions):
            assert log.lag("coreo-pipeline", partition) == 0
        Worker(database, log, default_stages(), group="replayed-group").drain()
        assert len(stored_events(database, tenant.workspace_id)) == 30
    finally:
        log.close()
