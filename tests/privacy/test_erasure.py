"""Erasure (GDPR Art. 17): after a request is executed, no table and no data file holds a
trace of the person; later events from their identifiers are suppressed until they bring
new consent. The tables are enumerated from the models, the files from the disk, so a
table or file kind added later is checked without changing this test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from coreo.audit.service import verify
from coreo.config import Settings
from coreo.db import Base, Database
from coreo.eventlog.base import NewRecord
from coreo.privacy import erasure, requests, transit
from coreo.privacy.datamap import DATA_MAP
from coreo.privacy.erasure import ERASED, Person, erase_from_log
from tests.conftest import Tenant
from tests.helpers import assert_problem, identity_graph, key_prefix

NOW = datetime.now(UTC) - timedelta(hours=2)
ANNA = {
    "email": "anna.sample@example.org",
    "phone": "+41791234567",
    "user": "erp-4711",
    "cookie": "cookie-anna-1",
    "first": "Annabelle",
    "last": "Quuxwell",
}
# Tables that keep the (random, now meaningless) profile id as the accountability record.
KEEPS_PROFILE_ID = {"audit_entries", "privacy_requests", "privacy_suppressions"}


def _at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def _anna_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "page",
            "anonymousId": ANNA["cookie"],
            "messageId": "anna-page-1",
            "timestamp": _at(0),
            "name": "Home",
            "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
        },
        {
            "type": "identify",
            "anonymousId": ANNA["cookie"],
            "userId": ANNA["user"],
            "messageId": "anna-identify",
            "timestamp": _at(1),
            "traits": {
                "email": ANNA["email"],
                "phone": ANNA["phone"],
                "firstName": ANNA["first"],
                "lastName": ANNA["last"],
            },
        },
        {
            "type": "track",
            "userId": ANNA["user"],
            "messageId": "anna-order",
            "event": "Order Completed",
            "timestamp": _at(2),
            "properties": {"order_id": "O-1", "revenue": 99.5, "email": ANNA["email"]},
        },
    ]


def _bob_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "identify",
            "userId": "erp-4712",
            "messageId": "bob-identify",
            "timestamp": _at(3),
            "traits": {"email": "bob.other@example.org", "firstName": "Bob"},
            "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
        },
        {  # Bob quotes Anna's address: his event stays, her address goes
            "type": "track",
            "userId": "erp-4712",
            "messageId": "bob-referral",
            "event": "Referral Sent",
            "timestamp": _at(4),
            "properties": {"friend": ANNA["email"], "note": "ticket 14711"},
        },
    ]


@pytest.fixture
def api(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


def _send(api: TestClient, tenant: Tenant, events: list[dict[str, Any]]) -> None:
    response = api.post("/v1/batch", json={"batch": events}, auth=(tenant.write_token, ""))
    assert response.status_code == 200 and response.json()["accepted"] == len(events), response.text


def _upload_master(api: TestClient, tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_text(
        f"Kundennr;E_Mail;Umsatz\n4711;{ANNA['email']};120.50\n4712;bob.other@example.org;7\n"
    )
    mapping = (
        'type: identify\nuser_id: {template: "erp-{Kundennr}"}\n'
        "external_ids: {erp_customer_no: Kundennr}\n"
        "traits:\n  email: E_Mail\n  lifetime_value: {column: Umsatz, type: number}\n"
    )
    with path.open("rb") as handle:
        response = api.post(
            "/v1/imports",
            headers=tenant.bearer(tenant.write_token),
            files={"file": (path.name, handle, "text/csv")},
            data={"source": "erp", "mapping": mapping},
        )
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = api.get(f"/v1/imports/{job}", headers=tenant.admin).json()["status"]
        if status == "completed":
            return
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def _profile_of(database: Database, workspace_id: str, value: str) -> str:
    (profile_id,) = {
        p for i, p in identity_graph(database, workspace_id).items() if i.endswith(f":{value}")
    }
    return profile_id


def _traces(
    database: Database, files: list[Path], needles: list[str], profile_ids: list[str]
) -> list[str]:
    """Every place (table.column or file) where a needle or one of the profile ids is left."""
    found: list[str] = []
    lowered = [n.lower() for n in needles]
    whole = [re.compile(rf"(?<![\w.-]){re.escape(n)}(?![\w-])") for n in lowered]
    with database.engine.connect() as connection, database.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    # The log and the dead letters are sealed with a key erasure keeps (the
                    # day's transit key): what they hold is searched opened.
                    workspace_id = row.get("workspace_id")
                    if isinstance(value, bytes | memoryview) and workspace_id is not None:
                        value = transit.open_record(session, workspace_id, bytes(value))
                    elif isinstance(value, str) and workspace_id is not None:
                        value = transit.open_text(session, workspace_id, value)
                    if isinstance(value, bytes | memoryview):
                        shown = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        shown = orjson.dumps(value).decode()
                    else:
                        shown = str(value)
                    shown = shown.lower()
                    hits = [n for n, w in zip(lowered, whole, strict=True) if w.search(shown)]
                    if table.name not in KEEPS_PROFILE_ID:
                        hits += [p for p in profile_ids if p.lower() in shown]
                    found += [f"{table.name}.{column}: {h}" for h in hits]
    for path in files:
        if path.suffix == ".parquet":
            shown = str(pq.read_table(path).to_pylist()).lower()
        else:
            shown = path.read_bytes().decode("utf-8", "replace").lower()
        found += [
            f"{path.name}: {n}" for n, w in zip(lowered, whole, strict=True) if w.search(shown)
        ]
    return found


def _data_files(*roots: Path) -> list[Path]:
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".csv", ".jsonl", ".json", ".txt", ".zip")
    )


def test_every_table_and_column_has_data_categories() -> None:
    """The data map lists every column, so erasure and the records know every table."""
    modelled = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    mapped = {table: set(columns) for table, columns in DATA_MAP.items()}
    unmapped = {t: sorted(c - mapped.get(t, set())) for t, c in modelled.items()}
    stale = {t: sorted(c - modelled.get(t, set())) for t, c in mapped.items()}
    assert {t: c for t, c in unmapped.items() if c} == {}
    assert {t: c for t, c in stale.items() if c} == {}


def test_an_erasure_leaves_no_trace_and_suppresses_later_events(
    api: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    drain: Callable[[], None],
    tmp_path: Path,
) -> None:
    ws = tenant.workspace_id
    source = key_prefix(tenant.write_token)
    plan = {"mode": "warn", "events": {"Order Completed": {"required": ["coupon"]}}}
    assert api.put(f"/v1/tracking-plans/{source}", headers=tenant.admin, json=plan).is_success
    _upload_master(api, tenant, tmp_path)
    johanna = {"type": "identify", "userId": "erp-4713", "messageId": "johanna-identify",
               "timestamp": _at(5), "traits": {"email": "jo" + ANNA["email"]}}  # fmt: skip
    _send(api, tenant, [*_anna_events(), *_bob_events(), johanna])
    invalid = {"type": "track", "userId": ANNA["user"], "messageId": "anna-invalid"}  # no event
    quoting = {"type": "track", "userId": "erp-4712", "messageId": "bob-invalid",
               "properties": {"friend": ANNA["email"]}}  # fmt: skip
    _refuse(api, tenant, [invalid, quoting])  # hers, and Bob's quoting her
    drain()
    anna = _profile_of(database, ws, ANNA["user"])
    bob = _profile_of(database, ws, "erp-4712")
    other = _profile_of(database, ws, "jo" + ANNA["email"])
    assert _profile_of(database, ws, ANNA["cookie"]) == anna  # one person
    consent = {"profile_id": anna, "purpose": "marketing", "channel": "email", "status": "granted"}
    assert api.post("/v1/consents", headers=tenant.admin, json=consent).status_code == 201
    assert api.get(f"/v1/profiles/{anna}", headers=tenant.admin).status_code == 200
    export = tmp_path / "exports" / "events.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "coreo", "events", "export", "--workspace", tenant.slug, "--out",
         str(export)],
        env=_cli_env(settings, database),
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Exported 7 events" in done.stdout  # each person's import row and events
    files = _data_files(settings.home, tmp_path / "exports")
    needles = [*ANNA.values(), "4711"]
    assert _traces(database, files, needles, [anna])  # the person is everywhere before

    created = api.post(
        "/v1/privacy/requests",
        headers=tenant.admin,
        json={"type": "erasure", "identifier": {"type": "email", "value": ANNA["email"]}},
    )
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["profile_id"] == anna and request["status"] == "received"
    early = api.post(f"/v1/privacy/requests/{request['id']}/execute", headers=tenant.admin)
    assert "not verified" in assert_problem(early, 409, "conflict")["detail"]
    verified = api.post(
        f"/v1/privacy/requests/{request['id']}/verify",
        headers=tenant.admin,
        json={"verified": True, "method": "reply from the address on file"},
    )
    assert verified.json()["verification"] == "verified"
    executed = api.post(f"/v1/privacy/requests/{request['id']}/execute", headers=tenant.admin)
    assert executed.status_code == 200, executed.text
    evidence = executed.json()["evidence"]
    assert executed.json()["status"] == "completed"
    assert evidence["removed"]["events"] == 4 and evidence["tombstones"] >= 5
    assert evidence["removed"]["dead_letters"] == 1

    files = _data_files(settings.home, tmp_path / "exports")
    assert any(p.suffix == ".parquet" for p in files) and any(p.suffix == ".csv" for p in files)
    left = _traces(database, files, needles, [anna])
    assert left == []
    # Bob is intact, his event with Anna's address redacted in place.
    with database.transaction(write=False) as session:
        payload = session.execute(
            text("SELECT payload FROM events WHERE message_id = 'bob-referral'")
        ).scalar_one()
    properties = orjson.loads(payload)["properties"]
    assert properties == {"friend": ERASED, "note": "ticket 14711"}
    letters = api.get("/v1/dead-letters", headers=tenant.admin).json()["items"]
    assert [letter["message_id"] for letter in letters] == ["bob-invalid"]
    letter = api.get(f"/v1/dead-letters/{letters[0]['id']}", headers=tenant.admin).json()
    assert letter["payload"]["properties"] == {"friend": ERASED}
    assert api.get(f"/v1/profiles/{bob}", headers=tenant.admin).status_code == 200
    assert _profile_of(database, ws, "jo" + ANNA["email"]) == other  # only whole values go
    assert api.get(f"/v1/profiles/{anna}", headers=tenant.admin).status_code == 404
    # Bob's import row and identify; his referral quoted her and left the export
    kept = pq.read_table(export).column("message_id").to_pylist()
    assert len(kept) == 2 and "bob-identify" in kept and "bob-referral" not in kept
    with database.transaction(write=False) as session:
        assert verify(session=session, chain=ws).ok

    # Her cookie comes back: suppressed, nothing is stored ...
    back = {"type": "page", "anonymousId": ANNA["cookie"], "messageId": "anna-back",
            "timestamp": _at(10), "name": "Home"}  # fmt: skip
    _send(api, tenant, [back])
    drain()
    assert _traces(database, [], [ANNA["cookie"]], []) == []
    # ... "necessary" (every banner sends it) is no new consent ...
    necessary = {**back, "messageId": "anna-necessary", "timestamp": _at(10.5),
                 "context": {"consent": {"categoryPreferences": {"Necessary": True}}}}  # fmt: skip
    _send(api, tenant, [necessary])
    drain()
    assert _traces(database, [], [ANNA["cookie"]], []) == []
    # ... until she consents again: then she starts afresh.
    consenting = {**back, "messageId": "anna-consents", "timestamp": _at(11),
                  "context": {"consent": {"categoryPreferences": {"Analytics": True}}}}  # fmt: skip
    _send(api, tenant, [consenting])
    drain()
    fresh = _profile_of(database, ws, ANNA["cookie"])
    assert fresh != anna


def _log_messages(database: Database, workspace_id: str) -> list[dict[str, Any]]:
    with database.transaction(write=False) as session:
        payloads = session.execute(text("SELECT payload FROM event_log")).scalars().all()
        return [
            orjson.loads(transit.open_record(session, workspace_id, bytes(p))) for p in payloads
        ]


def test_the_log_is_searched_before_the_erasures_transaction_and_only_what_quotes_them_opened(
    api: TestClient,
    tenant: Tenant,
    database: Database,
    drain: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Searching a log of millions takes seconds; it runs before the write transaction (no
    write lock held, tested by holding one meanwhile), which then opens only the records
    the search found and those appended after it."""
    ws = tenant.workspace_id
    others = [
        {"type": "track", "userId": f"erp-9{n:03}", "messageId": f"other-{n}",
         "event": "Viewed", "timestamp": _at(5), "properties": {"page": n}}
        for n in range(30)
    ]  # fmt: skip
    _send(api, tenant, [*_anna_events(), *_bob_events(), *others])
    drain()
    anna = _profile_of(database, ws, ANNA["user"])
    created = api.post(
        "/v1/privacy/requests",
        headers=tenant.admin,
        json={"type": "erasure", "profile_id": anna},
    ).json()
    # Not verified yet: execute will refuse it, so nothing is searched for it.
    assert requests.scan_before_erasure(database, ws, created["id"], None) is None
    api.post(
        f"/v1/privacy/requests/{created['id']}/verify",
        headers=tenant.admin,
        json={"verified": True, "method": "signed letter"},
    )
    writer = database.transaction(workspace_id=ws)  # another writer holds the database
    session = writer.__enter__()
    session.execute(text("UPDATE workspaces SET slug = slug"))
    try:
        scan = requests.scan_before_erasure(database, ws, created["id"], None)
    finally:
        writer.__exit__(None, None, None)
    assert scan is not None
    with database.transaction(write=False) as session:
        places = session.execute(
            text("SELECT partition_no, log_offset, payload FROM event_log")
        ).all()
        ids = {
            (p, o): orjson.loads(transit.open_record(session, ws, bytes(b)))["messageId"]
            for p, o, b in places
        }
    assert sorted(ids[place] for place in scan.found) == [
        "anna-identify", "anna-order", "anna-page-1", "bob-referral"
    ]  # fmt: skip
    late = {"type": "track", "userId": "erp-4799", "messageId": "carol-late", "event": "Called",
            "timestamp": _at(6), "properties": {"number": ANNA["phone"]}}  # fmt: skip
    _send(api, tenant, [late])  # after the search: found by the erasure itself
    opened: list[bytes] = []
    real = erasure._opened

    def counting(session: Any, workspace_id: str, payload: bytes) -> bytes | None:
        opened.append(payload)
        return real(session, workspace_id, payload)

    monkeypatch.setattr(erasure, "_opened", counting)
    with database.transaction(workspace_id=ws) as session:
        row = requests.get(session, ws, created["id"])
        requests.execute(
            session, row, actor="test", tombstone_key=b"k" * 32, proof_key=b"p" * 32, scan=scan
        )
    # Her own records went by their keys (no index: found by the search); Bob's referral
    # and the late call were opened.
    assert len(opened) == 2
    left = orjson.dumps(_log_messages(database, ws)).decode().lower()
    assert ANNA["email"] not in left and ANNA["phone"] not in left
    assert ANNA["user"] not in left and ANNA["cookie"] not in left
    assert left.count(ERASED.lower()) == 2  # the referral and the call, redacted in place


def test_an_erasure_without_a_search_that_covers_the_person_searches_the_whole_log(
    api: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    ws = tenant.workspace_id
    _send(api, tenant, [*_anna_events(), *_bob_events()])
    drain()
    anna = _profile_of(database, ws, ANNA["user"])
    with database.transaction(write=False) as session:
        bob = erasure.find_person(session, ws, _profile_of(database, ws, "erp-4712"))
    stale = erasure.scan_log(database, [bob])  # not her values
    with database.transaction(workspace_id=ws) as session:
        erasure.erase(session, ws, anna, tombstone_key=None, actor="test", scan=stale)
    left = orjson.dumps(_log_messages(database, ws)).decode().lower()
    assert ANNA["email"] not in left and ERASED.lower() in left  # Bob's referral redacted


def _refuse(api: TestClient, tenant: Tenant, events: list[dict[str, Any]]) -> None:
    """Send events that are all invalid (no event name): each becomes a dead letter."""
    refused = api.post("/v1/batch", json={"batch": events}, auth=(tenant.write_token, ""))
    assert len(refused.json()["rejected"]) == len(events), refused.text


def test_dead_letters_are_searched_before_the_erasures_transaction_too(
    api: TestClient,
    tenant: Tenant,
    database: Database,
    drain: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The search ahead covers the dead letters: the erasure's write transaction opens
    only the letters it found quoting the person and those dead-lettered after it."""
    ws = tenant.workspace_id
    _send(api, tenant, [*_anna_events(), *_bob_events()])
    others = [
        {"type": "track", "userId": f"erp-9{n:03}", "messageId": f"other-bad-{n}",
         "properties": {"page": n}}
        for n in range(20)
    ]  # fmt: skip
    hers = {"type": "track", "userId": ANNA["user"], "messageId": "anna-bad"}
    quoting = {"type": "track", "userId": "erp-4712", "messageId": "bob-bad",
               "properties": {"friend": ANNA["email"]}}  # fmt: skip
    _refuse(api, tenant, [hers, quoting, *others])
    drain()
    anna = _profile_of(database, ws, ANNA["user"])
    with database.transaction(write=False) as session:
        person = erasure.find_person(session, ws, anna)
    scan = erasure.scan_log(database, [person])
    assert scan is not None and len(scan.letters) == 22
    with database.transaction(write=False) as session:
        ids = dict(session.execute(text("SELECT id, message_id FROM dead_letters")).all())
    assert sorted(ids[i] for i in scan.letters_of(person)) == ["anna-bad", "bob-bad"]
    late = {"type": "track", "userId": "erp-4799", "messageId": "carol-bad",
            "properties": {"number": ANNA["phone"]}}  # fmt: skip
    _refuse(api, tenant, [late])  # after the search: found by the erasure itself
    opened: list[str] = []
    real = transit.open_text

    def counting(session: Any, workspace_id: str, stored: str) -> str:
        opened.append(stored)
        return real(session, workspace_id, stored)

    monkeypatch.setattr(transit, "open_text", counting)
    with database.transaction(workspace_id=ws) as session:
        counts = erasure.erase(session, ws, anna, tombstone_key=None, actor="test", scan=scan)
    assert len(opened) == 3  # hers, Bob's and the late one; not the 20 others
    assert counts["removed"]["dead_letters"] == 1  # hers; the two quoting her are redacted
    letters = api.get("/v1/dead-letters?limit=100", headers=tenant.admin).json()["items"]
    assert len(letters) == 22
    text_left = orjson.dumps(
        [api.get(f"/v1/dead-letters/{x['id']}", headers=tenant.admin).json() for x in letters]
    ).decode()
    assert ANNA["email"] not in text_left and ANNA["phone"] not in text_left
    assert text_left.count(ERASED) == 2


def _cli_env(settings: Settings, database: Database) -> dict[str, str]:
    return {
        **os.environ,
        "COREO_HOME": str(settings.home),
        "COREO_DATABASE_URL": database.url.render_as_string(hide_password=False),
    }


def test_a_nats_log_is_cleaned_of_the_person_too(make_nats_log: Any) -> None:
    """The NATS streams are read through: the person's records go, another person's record
    that quotes them comes back redacted; other workspaces are not touched."""
    log = make_nats_log(2)

    def record(ws: str, message: dict[str, Any]) -> NewRecord:
        key = str(message.get("anonymousId") or message.get("userId"))
        return NewRecord(key, ws, orjson.dumps(message))

    anna = {"type": "identify", "userId": ANNA["user"], "messageId": "a-1",
            "traits": {"email": ANNA["email"]}}  # fmt: skip
    quoting = {"type": "track", "userId": "erp-4712", "messageId": "b-1",
               "properties": {"friend": ANNA["email"]}}  # fmt: skip
    unrelated = {"type": "track", "userId": "erp-4712", "messageId": "b-2"}
    elsewhere = {**anna, "messageId": "other-ws"}
    mine = [record("ws_a", m) for m in (anna, quoting, unrelated)]
    log.append([*mine, record("ws_b", elsewhere)])
    identifiers = [("user_id", ANNA["user"]), ("email", ANNA["email"])]
    person = Person("ws_a", "prf_x", ["prf_x"], identifiers, message_ids={"a-1"})
    assert erase_from_log(log, person) == (1, 1)
    left = [
        (r.workspace_id, orjson.loads(r.payload))
        for p in range(log.partitions)
        for r in log.read(p, 0, 100)
    ]
    by_id = {(ws, m["messageId"]): m for ws, m in left}
    assert set(by_id) == {("ws_a", "b-1"), ("ws_a", "b-2"), ("ws_b", "other-ws")}
    assert by_id[("ws_a", "b-1")]["properties"] == {"friend": ERASED}
