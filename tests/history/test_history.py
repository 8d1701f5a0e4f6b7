"""The event history: queries by identity and time, and the Parquet export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from coreo.db import Database
from coreo.history import service as history_service
from tests.conftest import Tenant


def _send(client: TestClient, tenant: Tenant) -> None:
    batch = [
        {
            "type": "track",
            "userId": f"u{i % 2}",
            "anonymousId": f"a{i % 3}",
            "event": "Viewed" if i % 2 else "Ordered",
            "timestamp": f"2025-03-{10 + i:02d}T12:00:00Z",
            "messageId": f"h-{i}",
        }
        for i in range(8)
    ]
    assert (
        client.post("/v1/batch", json={"batch": batch}, auth=(tenant.write_token, "")).json()[
            "accepted"
        ]
        == 8
    )


def test_events_by_identity_and_time(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    _send(ingest_client, tenant)
    drain()
    with database.transaction(write=False) as session:
        assert history_service.count_events(session=session, workspace_id=tenant.workspace_id) == 8
        mine = history_service.events_of(
            session=session, workspace_id=tenant.workspace_id, user_id="u1"
        )
        assert [e.message_id for e in mine] == ["h-1", "h-3", "h-5", "h-7"]
        window = history_service.events_of(
            session=session,
            workspace_id=tenant.workspace_id,
            anonymous_id="a0",
            since=datetime(2025, 3, 11, tzinfo=UTC),
            until=datetime(2025, 3, 17, tzinfo=UTC),
        )
        assert [e.message_id for e in window] == ["h-3", "h-6"]


def test_parquet_export_streams_in_order_with_filters(
    ingest_client: TestClient,
    tenant: Tenant,
    database: Database,
    drain: Callable[[], None],
    tmp_path: Path,
) -> None:
    _send(ingest_client, tenant)
    drain()
    with database.transaction(write=False) as session:
        count = history_service.export_parquet(
            session=session,
            workspace_id=tenant.workspace_id,
            path=tmp_path / "all.parquet",
            chunk=3,
        )
        later = history_service.export_parquet(
            session=session,
            workspace_id=tenant.workspace_id,
            path=tmp_path / "later.parquet",
            since=datetime(2025, 3, 15, tzinfo=UTC),
        )
    assert (count, later) == (8, 3)
    table = pq.read_table(tmp_path / "all.parquet")
    assert table.column("message_id").to_pylist() == [f"h-{i}" for i in range(8)]
    assert table.schema.field("timestamp").type.tz == "UTC"
    first = orjson.loads(table.column("message").to_pylist()[0])
    assert first["event"] == "Ordered" and first["receivedAt"]
    assert pq.read_table(tmp_path / "later.parquet").num_rows == 3
