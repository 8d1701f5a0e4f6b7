"""The audit hash chain: appends, verification, tampering, concurrency, API access."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, event, select, update

from coreo.audit import service as audit_service
from coreo.audit.models import AuditChain, AuditEntry
from coreo.db import Database
from coreo.errors import InvalidInputError
from tests.conftest import Tenant
from tests.helpers import assert_problem


def _append(database: Database, chain: str, count: int) -> None:
    for i in range(count):
        with database.transaction() as session:
            audit_service.record(
                session=session,
                chain=chain,
                actor="test",
                action="thing.done",
                target=f"thing:{i}",
                details={"n": i, "nested": {"ok": True, "ratio": 0.25}},
            )


def _verify(database: Database, chain: str | None = None) -> audit_service.VerifyReport:
    with database.transaction(write=False) as session:
        return audit_service.verify(session=session, chain=chain)


def test_chain_links_every_entry(database: Database) -> None:
    _append(database, "ws_chain", 5)
    with database.transaction(write=False) as session:
        entries = audit_service.list_entries(session=session, chain="ws_chain")
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit_service.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    report = _verify(database)
    assert report.ok and report.checked == 5 and report.chains == 1


def test_reads_of_many_profiles_extend_the_chain_in_one_transaction(database: Database) -> None:
    _append(database, "ws_reads", 2)
    statements: list[str] = []

    def capture(_c: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        audit_service.record_reads(
            database, "ws_reads", actor="key:crm", action="profile.found",
            profile_ids=["prf_a", "prf_b", "prf_a", "prf_c"], details={"purpose": "support"},
        )  # fmt: skip
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    written = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(written) == 2  # the entries and the chain's head, however many profiles
    with database.transaction(write=False) as session:
        entries = audit_service.list_entries(session=session, chain="ws_reads")
        head = session.get(AuditChain, "ws_reads")
    assert [(e.seq, e.target) for e in entries[2:]] == [
        (3, "profile:prf_a"), (4, "profile:prf_b"), (5, "profile:prf_c"),
    ]  # fmt: skip
    assert head is not None and (head.last_seq, head.last_hash) == (5, entries[-1].hash)
    assert _verify(database, "ws_reads").ok
    _append(database, "ws_reads", 1)  # an ordinary entry follows on
    assert _verify(database, "ws_reads").checked == 6


def test_an_entry_of_a_rolled_back_savepoint_gives_way_to_the_next(database: Database) -> None:
    """The worker retries a failed batch event by event under savepoints: an entry whose
    savepoint rolled back is gone, and the next one takes its place in the chain."""
    with database.transaction() as session:
        savepoint = session.begin_nested()
        dropped = audit_service.record(
            session=session, chain="ws_sp", actor="test", action="thing.tried", target="t:1"
        )
        savepoint.rollback()
        kept = audit_service.record(
            session=session, chain="ws_sp", actor="test", action="thing.done", target="t:2"
        )
        assert dropped.seq == kept.seq == 1
    with database.transaction(write=False) as session:
        entries = audit_service.list_entries(session=session, chain="ws_sp")
    assert [(e.seq, e.action) for e in entries] == [(1, "thing.done")]
    assert _verify(database, "ws_sp").ok


def test_altered_entry_is_named(database: Database) -> None:
    _append(database, "ws_chain", 4)
    with database.engine.begin() as connection:
        connection.execute(
            update(AuditEntry.__table__)
            .where(AuditEntry.__table__.c.seq == 3)
            .values(details={"n": 99})
        )
    report = _verify(database)
    assert not report.ok
    assert [(b.chain, b.seq) for b in report.breaks] == [("ws_chain", 3)]
    assert "altered" in report.breaks[0].reason


def test_altered_actor_or_time_is_named(database: Database) -> None:
    _append(database, "ws_chain", 3)
    table = AuditEntry.__table__
    with database.engine.begin() as connection:
        connection.execute(update(table).where(table.c.seq == 1).values(actor="someone-else"))
    assert [b.seq for b in _verify(database).breaks] == [1]
    with database.engine.begin() as connection:
        connection.execute(update(table).where(table.c.seq == 1).values(actor="test"))
        connection.execute(
            update(table)
            .where(table.c.seq == 2)
            .values(occurred_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=1))
        )
    assert [b.seq for b in _verify(database).breaks] == [2]


def test_deleted_entry_is_a_gap(database: Database) -> None:
    _append(database, "ws_chain", 5)
    with database.engine.begin() as connection:
        connection.execute(delete(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 2))
    report = _verify(database)
    assert report.breaks[0].seq == 2 and "missing" in report.breaks[0].reason


def test_removed_tail_is_detected(database: Database) -> None:
    _append(database, "ws_chain", 5)
    with database.engine.begin() as connection:
        connection.execute(delete(AuditEntry.__table__).where(AuditEntry.__table__.c.seq >= 4))
    report = _verify(database)
    assert report.breaks[0].seq == 4 and "head records entry 5" in report.breaks[0].reason


def test_recomputed_forgery_without_head_update_is_detected(database: Database) -> None:
    """Rewriting the last entry and its hash consistently still disagrees with the head."""
    _append(database, "ws_chain", 3)
    with database.transaction() as session:
        last = session.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
        last.details = {"n": "forged"}
        last.hash = audit_service.entry_hash(
            chain=last.chain,
            seq=last.seq,
            occurred_at=last.occurred_at,
            actor=last.actor,
            action=last.action,
            target=last.target,
            details=last.details,
            prev_hash=last.prev_hash,
        )
    report = _verify(database)
    assert [b.seq for b in report.breaks] == [4]


def test_chains_are_independent(database: Database) -> None:
    _append(database, "ws_a", 3)
    _append(database, "ws_b", 2)
    with database.engine.begin() as connection:
        connection.execute(
            update(AuditEntry.__table__)
            .where(AuditEntry.__table__.c.chain == "ws_b", AuditEntry.__table__.c.seq == 1)
            .values(target="thing:forged")
        )
    assert _verify(database, "ws_a").ok
    assert [(b.chain, b.seq) for b in _verify(database).breaks] == [("ws_b", 1)]


def test_missing_head_is_detected(database: Database) -> None:
    _append(database, "ws_chain", 2)
    with database.engine.begin() as connection:
        connection.execute(delete(AuditChain.__table__))
    report = _verify(database)
    assert [(b.chain, b.seq) for b in report.breaks] == [("ws_chain", 1)]


def test_concurrent_appends_keep_one_chain(database: Database) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(database, "ws_busy", 15)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = _verify(database)
    assert report.ok and report.checked == 90


def test_verification_pages_through_long_chains(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_service, "_VERIFY_BATCH", 3)
    _append(database, "ws_chain", 10)
    assert _verify(database).checked == 10
    with database.engine.begin() as connection:
        connection.execute(
            update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 8).values(action="x")
        )
    assert [b.seq for b in _verify(database).breaks] == [8]


_FIELD = st.sampled_from(
    ["chain", "seq", "occurred_at", "actor", "action", "target", "details", "prev_hash"]
)


@given(
    details=st.dictionaries(
        st.text(max_size=5),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=5), st.booleans()),
        max_size=4,
    ),
    field=_FIELD,
)
def test_any_change_changes_the_hash(details: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "chain": "ws",
        "seq": 7,
        "occurred_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "actor": "cli",
        "action": "a.b",
        "target": "t:1",
        "details": details,
        "prev_hash": "0" * 64,
    }
    changed = dict(base)
    changed[field] = {
        "chain": "ws2",
        "seq": 8,
        "occurred_at": base["occurred_at"] + timedelta(microseconds=1),  # type: ignore[operator]
        "actor": "cli2",
        "action": "a.c",
        "target": "t:2",
        "details": {**details, "\x00extra": 1},
        "prev_hash": "1" * 64,
    }[field]
    assert audit_service.entry_hash(**base) != audit_service.entry_hash(**changed)  # type: ignore[arg-type]
    assert audit_service.entry_hash(**base) == audit_service.entry_hash(**dict(base))  # type: ignore[arg-type]


def test_details_must_be_plain_json(database: Database) -> None:
    with database.transaction() as session, pytest.raises(InvalidInputError, match="plain JSON"):
        audit_service.record(
            session=session, chain="ws", actor="t", action="a", target="t", details={"n": 2**70}
        )
    assert _verify(database).chains == 0


def test_api_reads_and_verifies_own_chain(client: TestClient, tenant: Tenant) -> None:
    for i in range(3):
        client.post("/v1/keys", headers=tenant.admin, json={"name": f"k{i}", "scopes": ["admin"]})
    page = client.get("/v1/audit?limit=2", headers=tenant.admin).json()
    assert [e["seq"] for e in page["items"]] == [1, 2] and page["next_after"] == 2
    rest = client.get(f"/v1/audit?after={page['next_after']}", headers=tenant.admin).json()
    assert [e["action"] for e in rest["items"]][-3:] == ["api_key.created"] * 3
    assert rest["next_after"] is None
    verified = client.get("/v1/audit/verify", headers=tenant.admin).json()
    assert verified == {"ok": True, "checked": 6, "breaks": []}
    assert_problem(client.get("/v1/audit", auth=(tenant.write_token, "")), 403, "forbidden")


def _record_config(database: Database, **changes: str) -> AuditEntry | None:
    snapshot = {"port": "8000", "workers": "1", "redis_url": "", **changes}
    with database.transaction() as session:
        entry = audit_service.record_config(session=session, snapshot=snapshot, actor="cli:ops")
        if entry is not None:
            session.expunge(entry)
        return entry


def test_config_changes_are_recorded_once_per_change(database: Database) -> None:
    first = _record_config(database)
    assert first is not None and first.chain == audit_service.SYSTEM_CHAIN
    assert first.action == "config.changed" and first.details["changed"] == {}
    assert _record_config(database) is None  # same settings: nothing new
    second = _record_config(database, port="9000", redis_url="********")
    assert second is not None
    assert second.details["changed"] == {
        "port": {"from": "8000", "to": "9000"},
        "redis_url": {"from": "", "to": "********"},
    }
    assert second.details["settings"]["port"] == "9000"
    assert _verify(database, audit_service.SYSTEM_CHAIN).ok
