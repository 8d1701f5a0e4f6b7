"""What passes through before it is a person's (event-log records, dead letters) is sealed
with the day's transit key; the key goes once nothing sealed with it is left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text

from coreo.config import Settings
from coreo.db import Database, utcnow
from coreo.eventlog.base import NewRecord
from coreo.eventlog.models import LogRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.models import DeadLetter
from coreo.ingest.service import dead_letter
from coreo.privacy import crypto, transit
from coreo.privacy.models import KeyringEntry
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from tests.conftest import Tenant

EMAIL = "hanna.mueller@example.ch"
USER = "crm-88123"


def _raw(database: Database) -> bytes:
    """Everything the event log and the dead-letter queue hold, as stored."""
    with database.engine.connect() as connection:
        log = connection.execute(text("SELECT key, payload FROM event_log")).all()
        letters = connection.execute(text("SELECT payload FROM dead_letters")).scalars().all()
    return b"\n".join(
        [*(k.encode() + b" " + bytes(p) for k, p in log), *(t.encode() for t in letters)]
    )


def test_the_log_and_the_dead_letters_hold_no_identifier_or_personal_value_in_clear(
    app_factory: Callable[..., TestClient],
    tenant: Tenant,
    database: Database,
    drain: Callable[[], None],
) -> None:
    auth = (tenant.write_token, "")
    identify = {"userId": USER, "traits": {"email": EMAIL, "firstName": "Hanna"}}
    broken = {"type": "track", "userId": USER, "properties": {"email": EMAIL}}  # no event name
    with app_factory(worker_enabled=False) as client:
        assert client.post("/v1/identify", json=identify, auth=auth).status_code == 200
        assert client.post("/v1/batch", json={"batch": [broken]}, auth=auth).status_code == 200
        stored = _raw(database)
        assert stored.count(b"enc:t1:") == 2  # one record, one dead letter
        for value in (EMAIL, USER, "Hanna"):
            assert value.encode() not in stored
        # The dead letter reads as it was sent; the record is processed as it was sent.
        letters = client.get("/v1/dead-letters", headers=tenant.admin).json()["items"]
        letter = client.get(f"/v1/dead-letters/{letters[0]['id']}", headers=tenant.admin).json()
        assert letter["payload"]["properties"] == {"email": EMAIL}
        drain()
        found = client.get("/v1/profiles/lookup", params={"email": EMAIL}, headers=tenant.admin)
        assert found.status_code == 200, found.text
        assert found.json()["traits"]["firstName"]["value"] == "Hanna"


def test_a_client_string_that_reads_like_a_sealed_letter_is_sealed_like_any_other(
    app_factory: Callable[..., TestClient], tenant: Tenant, database: Database
) -> None:
    """A batch may hold any JSON value; a string shaped like a sealed dead letter must not
    be stored as one (it would pass for sealed and never open)."""
    forged = "enc:t1:20261101:" + "A" * 40
    with app_factory(worker_enabled=False) as client:
        sent = client.post("/v1/batch", json={"batch": [forged]}, auth=(tenant.write_token, ""))
        assert sent.status_code == 200 and len(sent.json()["rejected"]) == 1
        with database.engine.connect() as connection:
            stored = connection.execute(text("SELECT payload FROM dead_letters")).scalar_one()
        assert stored != forged and stored.startswith("enc:t1:")
        with database.transaction() as session:
            opened = transit.open_text(session, tenant.workspace_id, stored)
        assert orjson.loads(opened) == forged  # sealed today, as the JSON string it was
        letters = client.get("/v1/dead-letters", headers=tenant.admin).json()["items"]
        letter = client.get(f"/v1/dead-letters/{letters[0]['id']}", headers=tenant.admin).json()
        assert letter["payload"] == forged


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(transit, "utcnow", lambda: when)


def test_a_days_key_goes_once_no_record_and_no_dead_letter_needs_it(
    database: Database, settings: Settings, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    crypto.enable(database, settings)
    ws = tenant.workspace_id
    log = SqlEventLog(database, 2)
    now = utcnow()
    old, older = now - timedelta(days=5), now - timedelta(days=9)
    with database.transaction() as session:
        _at(monkeypatch, older)
        payload = transit.seal_record(session, ws, b'{"userId": "u1"}')
        log.append([NewRecord(f"{ws}:k", ws, payload)], session=session)
        _at(monkeypatch, old)
        dead_letter(
            session, workspace_id=ws, stage="validation", reason="r",
            payload={"userId": "u2"}, received_at=old, now=old,
        )  # fmt: skip
        _at(monkeypatch, now)
        transit.seal_record(session, ws, b"{}")  # today's key
        assert transit.destroy_unused_keys(session, log, now=now) == []
    with database.transaction() as session:  # the record is trimmed; the letter stays
        session.execute(delete(LogRecord))
        assert transit.destroy_unused_keys(session, log, now=now) == [older.strftime("%Y%m%d")]
    with database.transaction() as session:  # a backup of the record no longer opens
        with pytest.raises(transit.TransitKeyGone):
            transit.open_record(session, ws, payload)
        session.execute(delete(DeadLetter))
        assert transit.destroy_unused_keys(session, log, now=now) == [old.strftime("%Y%m%d")]
        names = session.scalars(select(KeyringEntry.name)).all()
    assert [n for n in names if n.startswith("transit:")] == [f"transit:{now:%Y%m%d}"]


def test_a_key_destroyed_by_another_process_leaves_this_ones_memory_too(
    database: Database, settings: Settings, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process keeps the day keys it read for ``KEPT_SECONDS``, then reads them again: one
    another process destroyed opens nothing more here either, without a restart."""
    crypto.enable(database, settings)
    ws = tenant.workspace_id
    with database.transaction() as session:
        payload = transit.seal_record(session, ws, b'{"userId": "u1"}')
    other = Database(str(database.engine.url.render_as_string(hide_password=False)))
    crypto.enable(other, settings)  # another process (the retention purge's)
    clock = [1000.0]
    monkeypatch.setattr(transit.time, "monotonic", lambda: clock[0])
    try:
        with other.transaction(write=False) as session:
            assert transit.open_record(session, ws, payload) == b'{"userId": "u1"}'  # cached
        with database.transaction() as session:  # destroyed where the purge ran
            session.execute(delete(KeyringEntry).where(KeyringEntry.name.startswith("transit:")))
        clock[0] += transit.KEPT_SECONDS - 1
        with other.transaction(write=False) as session:  # still in memory, for a while
            assert transit.open_record(session, ws, payload) == b'{"userId": "u1"}'
        clock[0] += 2
        with other.transaction(write=False) as session, pytest.raises(transit.TransitKeyGone):
            transit.open_record(session, ws, payload)
        with other.transaction(write=False) as session:
            held = crypto.crypto_of(session)
        assert held is not None and held.transit == {}
    finally:
        other.dispose()


def test_a_record_whose_key_is_gone_becomes_a_dead_letter_with_the_reason(
    database: Database, settings: Settings, tenant: Tenant
) -> None:
    crypto.enable(database, settings)
    log = SqlEventLog(database, settings.event_log_partitions)
    at = "2026-11-01T10:00:00+00:00"
    message = {"type": "track", "event": "Seen", "userId": "u1", "messageId": "m-1",
               "timestamp": at, "receivedAt": at}  # fmt: skip
    with database.transaction() as session:
        payload = transit.seal_record(session, tenant.workspace_id, orjson.dumps(message))
        log.append([NewRecord("k", tenant.workspace_id, payload)], session=session)
    with database.transaction() as session:
        session.execute(delete(KeyringEntry).where(KeyringEntry.name.startswith("transit:")))
    fresh = Database(str(database.engine.url.render_as_string(hide_password=False)))
    crypto.enable(fresh, settings)  # a process that never held the key
    try:
        Worker(fresh, SqlEventLog(fresh, settings.event_log_partitions), default_stages()).drain()
        with fresh.transaction() as session:
            letter = session.scalars(select(DeadLetter)).one()
    finally:
        fresh.dispose()
    assert letter.stage == "decode" and "cannot be opened" in letter.reason
    assert letter.payload.startswith("enc:t1:")  # kept as it was: nothing else can be done


def test_a_key_made_in_a_rolled_back_savepoint_is_never_used(
    database: Database, settings: Settings, tenant: Tenant
) -> None:
    crypto.enable(database, settings)
    ws = tenant.workspace_id
    with database.transaction() as session:
        with session.begin_nested() as savepoint:  # a replay refused: its letter rolled back
            transit.seal_record(session, ws, b"{}")
            savepoint.rollback()
        kept = transit.seal_record(session, ws, b'{"kept": true}')
    fresh = Database(str(database.engine.url.render_as_string(hide_password=False)))
    crypto.enable(fresh, settings)  # another process: only what was stored
    try:
        with fresh.transaction(write=False) as session:
            assert transit.open_record(session, ws, kept) == b'{"kept": true}'
    finally:
        fresh.dispose()


def test_what_is_sealed_again_in_place_or_dead_lettered_keeps_its_days_key(
    database: Database, settings: Settings, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redacted log record keeps its day (the days of a partition stay in order); a
    record dead-lettered as it was keeps the day it was sealed on, and that key stays."""
    crypto.enable(database, settings)
    ws, now = tenant.workspace_id, utcnow()
    old = now - timedelta(days=9)
    with database.transaction() as session:
        _at(monkeypatch, old)
        record = transit.seal_record(session, ws, b'{"email": "a@b.ch"}')
        _at(monkeypatch, now)
        again = transit.seal_record(session, ws, b'{"email": "[erased]"}', like=record)
        assert again[:15] == record[:15] == f"enc:t1:{old:%Y%m%d}".encode()
        dead_letter(
            session, workspace_id=ws, stage="decode", reason="r",
            payload=None, record_text=transit.record_text(record), received_at=now, now=now,
        )  # fmt: skip
        assert transit.destroy_unused_keys(session, SqlEventLog(database, 2), now=now) == []
        (letter,) = session.scalars(select(DeadLetter)).all()
        assert letter.payload == '{"email": "a@b.ch"}'
