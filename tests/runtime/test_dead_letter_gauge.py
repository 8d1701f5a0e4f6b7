"""The worker publishes how many dead letters wait, per workspace and stage, on /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from tests.conftest import Tenant


def test_open_dead_letters_are_a_gauge_on_metrics(
    app_factory: Callable[..., TestClient], tenant: Tenant, database: Database
) -> None:
    auth = (tenant.write_token, "")
    without_identity = {"batch": [{"type": "track", "event": "No Identity"}] * 2}
    with app_factory(worker_enabled=False) as client:
        assert (
            len(client.post("/v1/batch", json=without_identity, auth=auth).json()["rejected"]) == 2
        )
    line = f'coreo_dead_letters_open{{stage="validation",workspace="{tenant.workspace_id}"}}'
    # The app's own worker counts them as it starts, then every few seconds.
    with app_factory(worker_enabled=True) as client:
        deadline = time.monotonic() + 10
        while f"{line} 2.0" not in (text := client.get("/metrics").text):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
        purged = client.post(
            "/v1/dead-letters/purge", headers=tenant.admin, json={"status": "open"}
        )
        assert purged.json() == {"purged": 2}
        metrics = client.app.state.runtime.metrics.pipeline  # type: ignore[attr-defined]
        worker = Worker(
            database,
            SqlEventLog(database, 8),
            default_stages(),
            metrics=metrics,
            partitions=[],
            dead_letter_interval=0,
        )
        worker.run_once()  # a purged (stage, workspace) drops to zero rather than vanish
        assert f"{line} 0.0" in client.get("/metrics").text
