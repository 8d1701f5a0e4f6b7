"""Retention (GDPR Art. 5(1)(e)): each category goes when its period ends, legal holds
exempt a person or a category, a dry run deletes nothing, a real run is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update

from coreo.audit.models import AuditEntry
from coreo.config import Settings
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, InvalidInputError
from coreo.eventlog.base import NewRecord
from coreo.history.models import EventRecord
from coreo.identity.models import Profile, ProfileIdentity
from coreo.ingest.service import dead_letter
from coreo.privacy import erasure, retention
from coreo.privacy.files import record_export
from tests.identity.conftest import T0, feed_pipeline, message

__all__ = ["feed_pipeline"]

Feed = Callable[..., list[str | None]]
DAY = 24 * 60  # minutes


def _events(database: Database, ws: str) -> list[tuple[str, str | None]]:
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(EventRecord.message_id, EventRecord.event)
            .where(EventRecord.workspace_id == ws)
            .order_by(EventRecord.message_id)
        )
        return [(str(m), e) for m, e in rows]


def _run(database: Database, ws: str, settings: Settings, days: int, **kw: Any) -> dict[str, int]:
    now = T0 + timedelta(days=days)
    return retention.run(database, ws, settings, actor="test", now=now, **kw).purged


def test_each_category_goes_when_its_period_ends(
    database: Database, tenant: Any, settings: Settings, feed_pipeline: Feed, tmp_path: Path
) -> None:
    ws = tenant.workspace_id
    feed_pipeline(
        message("page", userId="anna", messageId="old-page"),
        message("track", userId="anna", messageId="old-order", event="Order Completed"),
        message("page", at=300 * DAY, userId="anna", messageId="recent-page"),
    )
    export = tmp_path / "old.parquet"
    pq.write_table(pa.table({"message": ["{}"]}), export)
    with database.transaction(workspace_id=ws) as session:
        dead_letter(
            session,
            workspace_id=ws,
            stage="identity",
            reason="test",
            payload={"type": "track"},
            received_at=T0,
            now=T0,
        )
        record_export(session, ws, export, rows=1, purpose="analytics", actor="test")
    before = _events(database, ws)
    dry = _run(database, ws, settings, 400, dry_run=True)
    assert dry == {"behavioural events": 1, "dead letters": 1}
    assert _events(database, ws) == before
    assert _run(database, ws, settings, 400) == dry
    assert export.exists()  # written today: kept for retention_file_days
    assert [m for m, _ in _events(database, ws)] == ["old-order", "recent-page"]
    later = settings.model_copy(update={"retention_operational_days": 1, "retention_file_days": 1})
    purged = _run(database, ws, later, 3700)
    assert purged["transactional events"] == 1 and purged["behavioural events"] == 1
    assert purged["inactive profiles"] == 1 and purged["event exports"] == 1
    assert not export.exists()
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.chain == ws)).all()
    assert actions.count("retention.purged") == 2
    assert "privacy.erased" in actions


def test_legal_holds_exempt_a_person_or_a_category(
    database: Database, tenant: Any, settings: Settings, feed_pipeline: Feed
) -> None:
    ws = tenant.workspace_id
    anna, bea = feed_pipeline(
        message("page", userId="anna", messageId="anna-page"),
        message("page", userId="bea", messageId="bea-page"),
    )
    with database.transaction(workspace_id=ws) as session:
        hold = retention.add_hold(
            session, ws, reason="litigation 2025-17", actor="dpo", profile_id=str(anna)
        )
        with pytest.raises(InvalidInputError, match="one of them"):
            retention.add_hold(session, ws, reason="x", actor="dpo")
        with pytest.raises(InvalidInputError, match="unknown category"):
            retention.add_hold(session, ws, reason="x", actor="dpo", category="secrets")
    # A held person is neither purged nor erasable.
    with (
        database.transaction(workspace_id=ws) as session,
        pytest.raises(ConflictError, match="legal hold"),
    ):
        erasure.erase(session, ws, str(anna), tombstone_key=None, actor="dpo")
    purged = _run(database, ws, settings, 1200)
    assert purged == {"behavioural events": 1, "inactive profiles": 1}
    assert [m for m, _ in _events(database, ws)] == ["anna-page"]
    with database.transaction(write=False) as session:
        assert session.get(Profile, str(anna)) is not None
        assert session.get(Profile, str(bea)) is None
    with database.transaction(workspace_id=ws) as session:
        retention.release_hold(session, ws, hold.id, actor="dpo")
        with pytest.raises(ConflictError, match="released already"):
            retention.release_hold(session, ws, hold.id, actor="dpo")
        retention.add_hold(session, ws, reason="audit", actor="dpo", category="behavioural")
    assert _run(database, ws, settings, 1200, dry_run=True) == {"inactive profiles": 1}


@pytest.mark.nats
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_nats_log_is_trimmed_like_the_sql_log(
    database: Database, tenant: Any, settings: Settings, make_nats_log: Callable[[int], Any]
) -> None:
    log = make_nats_log(2)
    log.append([NewRecord(f"k{n}", tenant.workspace_id, b"{}") for n in range(6)])
    for partition in range(2):
        log.commit("coreo-pipeline", partition, log.end_offset(partition))
    ws = tenant.workspace_id
    assert retention.run(database, ws, settings, actor="test", log=log).purged == {}  # too new
    future = utcnow() + timedelta(days=settings.retention_log_days + 1)
    dry = retention.run(database, ws, settings, actor="test", log=log, now=future, dry_run=True)
    assert dry.purged == {"event log records (all workspaces)": 6}
    assert sum(len(log.read(p, 0, 10)) for p in range(2)) == 6
    report = retention.run(database, ws, settings, actor="test", log=log, now=future)
    assert report.purged == {"event log records (all workspaces)": 6}
    assert all(log.read(p, 0, 10) == [] for p in range(2))


def test_a_purge_commits_in_short_transactions_and_a_failure_midway_is_audited(
    database: Database,
    tenant: Any,
    settings: Settings,
    feed_pipeline: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ingestion and the worker never wait for a whole purge: it commits a few rows at a
    time. A run that fails midway keeps (and audits) what it purged; the next one goes on."""
    ws = tenant.workspace_id
    feed_pipeline(*(message("page", userId=f"p{n}", messageId=f"old-{n}") for n in range(5)))
    monkeypatch.setattr(retention, "CHUNK", 2)
    monkeypatch.setattr(retention, "PROFILES_PER_TRANSACTION", 2)
    real, writes = database.transaction, []

    @contextmanager
    def failing_third_write(**kw: Any) -> Iterator[Any]:
        if kw.get("write", True):
            writes.append(kw)
            if len(writes) == 3:
                raise OSError("disk full")
        with real(**kw) as session:
            yield session

    monkeypatch.setattr(database, "transaction", failing_third_write)
    with pytest.raises(OSError, match="disk full"):
        _run(database, ws, settings, 400)
    monkeypatch.setattr(database, "transaction", real)
    assert len(_events(database, ws)) == 1  # two transactions of two events each committed
    with database.transaction(write=False) as session:
        failed = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "retention.failed")
        ).all()
    assert [d["purged"] for d in failed] == [{"behavioural events": 4}]
    purged = _run(database, ws, settings, 1200)
    assert purged == {"behavioural events": 1, "inactive profiles": 5}
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0


def test_each_transaction_of_a_purge_reads_holds_and_activity_again(
    database: Database,
    tenant: Any,
    settings: Settings,
    feed_pipeline: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inactive profiles are found once, before the purge; a hold placed or an event
    received while it runs must still keep the profile it concerns."""
    ws = tenant.workspace_id
    people = sorted(
        str(p) for p in feed_pipeline(*(message("page", userId=f"p{n}") for n in range(6)))
    )
    monkeypatch.setattr(retention, "PROFILES_PER_TRANSACTION", 2)
    now = T0 + timedelta(days=1200)
    real_lock, transactions = retention.lock_workspace, []

    def meanwhile(session: Any, workspace_id: str) -> None:
        real_lock(session, workspace_id)
        transactions.append(workspace_id)
        if len(transactions) == 2:  # a hold on the third person, placed after the search
            retention.add_hold(session, ws, reason="new claim", actor="dpo", profile_id=people[2])
        if len(transactions) == 3:  # the fifth came back
            session.execute(
                update(ProfileIdentity)
                .where(ProfileIdentity.profile_id == people[4])
                .values(last_seen=now)
            )

    monkeypatch.setattr(retention, "lock_workspace", meanwhile)
    purged = retention.run(database, ws, settings, actor="test", now=now).purged
    assert len(transactions) == 3
    assert purged == {"behavioural events": 6, "inactive profiles": 4}
    with database.transaction(write=False) as session:
        kept = session.scalars(select(Profile.id).where(Profile.workspace_id == ws)).all()
    assert sorted(kept) == [people[2], people[4]]
