"""The whole path on the cluster backend: HTTP → NATS JetStream log → worker → history."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from coreo.config import Settings
from coreo.db import Database
from coreo.errors import ServiceUnavailableError
from coreo.eventlog import build_event_log
from coreo.eventlog.nats import NatsEventLog
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from tests.conftest import Tenant, service_unavailable
from tests.ingest.conftest import stored_events

NATS_URL = os.environ.get("COREO_TEST_NATS_URL", "nats://127.0.0.1:4222")
pytestmark = pytest.mark.nats


@pytest.fixture
def nats_settings(settings: Settings) -> Iterator[Settings]:
    configured = settings.model_copy(
        update={
            "event_log": "nats",
            "nats_url": SecretStr(NATS_URL),
            "nats_stream": f"T{uuid.uuid4().hex[:12].upper()}",
            "worker_enabled": False,
        }
    )
    probe = NatsEventLog(NATS_URL, 1, name=configured.nats_stream, timeout=3)
    try:
        probe.ping()
    except ServiceUnavailableError as error:
        probe.close()
        service_unavailable("nats", error)
    yield configured
    cleanup = NatsEventLog(NATS_URL, configured.event_log_partitions, name=configured.nats_stream)
    cleanup.delete_all()
    cleanup.close()
    probe.close()


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
