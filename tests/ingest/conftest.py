"""Fixtures for ingestion: an app without its background worker, and a worker to drain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.history.models import EventRecord
from coreo.ingest.models import DeadLetter
from coreo.privacy.crypto import open_message
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker


@pytest.fixture
def ingest_client(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


@pytest.fixture
def drain(database: Database, settings: Any) -> Callable[[], None]:
    def run() -> None:
        log = SqlEventLog(database, settings.event_log_partitions)
        Worker(database, log, default_stages(settings)).drain()

    return run


def stored_events(database: Database, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's processed events as received (personal fields opened)."""
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(EventRecord).where(EventRecord.workspace_id == workspace_id)
        ).scalars()
        return [open_message(session, workspace_id, r.profile_id, r.payload) for r in rows]


def dead_letters(database: Database, workspace_id: str) -> list[DeadLetter]:
    with database.transaction(write=False) as session:
        return list(
            session.execute(
                select(DeadLetter).where(DeadLetter.workspace_id == workspace_id)
            ).scalars()
        )
