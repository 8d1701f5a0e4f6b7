"""Ingestion below the API: de-duplication window, prepare/store split, the plan cache."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest import plans
from coreo.ingest import service as ingest_service
from coreo.ingest.models import SeenMessage
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.service import PLAN_CACHE, PlanCache, ingest_messages
from tests.conftest import Tenant
from tests.helpers import logged_messages

WINDOW = timedelta(hours=24)
START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def _track(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u", "event": "Viewed", "messageId": message_id} | extra


def _ingest(database: Database, tenant: Tenant, messages: list[Any], at: datetime) -> Any:
    with database.transaction(workspace_id=tenant.workspace_id) as session:
        return ingest_messages(
            session=session,
            log=SqlEventLog(database, 4),
            workspace_id=tenant.workspace_id,
            messages=messages,
            received_at=at,
            options=NormaliseOptions(),
            dedupe_window=WINDOW,
        )


def test_a_message_id_is_new_again_after_the_window(database: Database, tenant: Tenant) -> None:
    first = _ingest(database, tenant, [_track("a"), _track("b")], START)
    assert [a.message_id for a in first.accepted] == ["a", "b"]
    within = _ingest(database, tenant, [_track("b"), _track("c")], START + WINDOW / 2)
    assert [a.message_id for a in within.accepted] == ["c"]
    assert [(d.index, d.message_id) for d in within.duplicates] == [(0, "b")]
    # A repeat inside the window is acknowledged but does not renew the id: "b" stays at
    # START, like "a"; "c" was first seen half a window later.
    later = START + WINDOW + timedelta(hours=1)
    again = _ingest(database, tenant, [_track("a"), _track("c")], later)
    assert [a.message_id for a in again.accepted] == ["a"]
    assert [d.message_id for d in again.duplicates] == ["c"]
    with database.transaction(write=False) as session:
        seen = dict(session.execute(select(SeenMessage.message_id, SeenMessage.received_at)).all())
    assert seen == {"a": later, "b": START, "c": START + WINDOW / 2}


def test_finding_repeats_looks_up_each_id_instead_of_walking_the_window(
    database: Database, tenant: Tenant
) -> None:
    """The repeat check must cost the same with a million recent ids as with ten: SQLite
    is told to look each claimed id up by the primary key; its planner preferred the
    received_at index, which walks every row of the window, for every request."""
    if not database.is_sqlite:
        pytest.skip("the statement in question is SQLite's")
    # Statistics gathered early in a store's life, when one request's ids (sharing one
    # received_at) were all there was: the received_at index then looks as selective as
    # the primary key.
    _ingest(database, tenant, [_track(f"m{n}") for n in range(100)], START)
    with database.transaction(workspace_id=tenant.workspace_id) as session:
        session.connection().exec_driver_sql("ANALYZE")
    with database.transaction(write=False) as session:
        plan = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + ingest_service._REPEATS_SQLITE,
            ('["m1", "m2"]', tenant.workspace_id, "2025-03-13 09:00:00"),
        )
        details = " | ".join(str(row[-1]) for row in plan)
    assert "received_at" not in details, details
    assert "SEARCH seen USING INDEX sqlite_autoindex_ingest_seen_messages_1" in details, details


def test_results_keep_the_order_of_the_request(database: Database, tenant: Tenant) -> None:
    _ingest(database, tenant, [_track("old")], START)
    messages: list[Any] = [
        _track("n1"),
        {"type": "track", "event": "No Identity"},
        _track("old"),
        _track("n1"),
        "not an object",
        _track("n2"),
    ]
    result = _ingest(database, tenant, messages, START + timedelta(minutes=1))
    assert [(a.index, a.message_id) for a in result.accepted] == [(0, "n1"), (5, "n2")]
    # Repeats inside the request come first, then those seen before (as ever).
    assert [(d.index, d.message_id) for d in result.duplicates] == [(3, "n1"), (2, "old")]
    assert [r.index for r in result.rejected] == [1, 4]
    records = SqlEventLog(database, 4)
    payloads = [m["messageId"] for _, m in logged_messages(database, records)]
    assert sorted(payloads) == ["n1", "n2", "old"]


def test_prepared_messages_are_stored_later_in_any_transaction(
    database: Database, tenant: Tenant
) -> None:
    prepared = ingest_service.prepare_messages(
        workspace_id=tenant.workspace_id,
        messages=[_track("p1"), _track("p1"), {"type": "track"}],
        received_at=START,
        options=NormaliseOptions(),
        dedupe_window=WINDOW,
    )
    assert [r.message_id for r in prepared.ready] == ["p1"]
    with database.transaction(workspace_id=tenant.workspace_id) as session:
        result = ingest_service.store_prepared(
            session=session, log=SqlEventLog(database, 4), prepared=prepared
        )
    assert [a.index for a in result.accepted] == [0]
    assert [d.index for d in result.duplicates] == [1]
    assert [r.index for r in result.rejected] == [2]


def _key_id(database: Database, tenant: Tenant) -> str:
    with database.transaction(write=False) as session:
        return str(
            session.execute(
                text("SELECT id FROM api_keys WHERE workspace_id = :w AND name LIKE '%write%'"),
                {"w": tenant.workspace_id},
            ).scalar_one()
        )


def _put(database: Database, tenant: Tenant, key_id: str, mode: plans.PlanMode) -> None:
    with database.transaction(workspace_id=tenant.workspace_id) as session:
        plans.put_plan(
            session=session,
            workspace_id=tenant.workspace_id,
            key_id=key_id,
            mode=mode,
            events={"Viewed": {"type": "object"}},
            traits=None,
            allow_unplanned=False,
            actor="test",
        )


def test_plan_changes_in_this_process_reach_the_cache_at_once(
    database: Database, tenant: Tenant
) -> None:
    key_id = _key_id(database, tenant)
    assert PLAN_CACHE.get(database, tenant.workspace_id, key_id) is None
    _put(database, tenant, key_id, "warn")
    cached = PLAN_CACHE.get(database, tenant.workspace_id, key_id)
    assert cached is not None and (cached.mode, cached.version) == ("warn", 1)
    _put(database, tenant, key_id, "block")
    cached = PLAN_CACHE.get(database, tenant.workspace_id, key_id)
    assert cached is not None and (cached.mode, cached.version) == ("block", 2)
    with database.transaction(workspace_id=tenant.workspace_id) as session:
        plans.delete_plan(
            session=session, workspace_id=tenant.workspace_id, key_id=key_id, actor="test"
        )
    assert PLAN_CACHE.get(database, tenant.workspace_id, key_id) is None


def test_a_lookup_racing_a_plan_change_does_not_cache_the_old_plan(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = _key_id(database, tenant)
    cache = PlanCache(ttl=60)
    original = plans.compiled_plan

    def racing_lookup(**kwargs: Any) -> Any:
        plan = original(**kwargs)  # reads "no plan" ...
        cache.invalidate()  # ... while another request changes the plan
        return plan

    monkeypatch.setattr(ingest_service, "compiled_plan", racing_lookup)
    assert cache.get(database, tenant.workspace_id, key_id) is None
    monkeypatch.undo()
    _put(database, tenant, key_id, "warn")
    cached = cache.get(database, tenant.workspace_id, key_id)
    assert cached is not None and cached.mode == "warn"


def test_changes_from_other_processes_show_after_the_ttl(
    database: Database, tenant: Tenant
) -> None:
    key_id = _key_id(database, tenant)
    cache = PlanCache(ttl=0.3)
    _put(database, tenant, key_id, "warn")
    assert cache.get(database, tenant.workspace_id, key_id) is not None
    with database.transaction() as session:  # as another process would: no ORM events
        session.execute(text("UPDATE tracking_plans SET mode = 'off'"))
    assert cache.get(database, tenant.workspace_id, key_id) is not None  # still cached
    time.sleep(0.35)
    assert cache.get(database, tenant.workspace_id, key_id) is None
