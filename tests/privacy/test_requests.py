"""Data subject requests: deadlines (GDPR Art. 12(3)), identity verification (Art. 12(6)),
access and portability (Art. 15, 20), rectification (Art. 16), restriction (Art. 18) and
objection (Art. 21) respected by the policy check; every step audited."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from coreo.audit.models import AuditEntry
from coreo.consent import service as consent
from coreo.db import Database
from coreo.errors import ConflictError, InvalidInputError
from coreo.identity.models import Profile
from coreo.privacy import requests
from coreo.profiles.models import ProfileTrait
from tests.conftest import Tenant
from tests.helpers import assert_problem
from tests.identity.conftest import Feed, feed, message

__all__ = ["feed"]

KEY = b"t" * 32


@pytest.fixture
def api(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2090, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_the_deadline_is_one_calendar_month_later(received: datetime) -> None:
    due = requests.add_months(received, 1)
    assert (due.year * 12 + due.month) - (received.year * 12 + received.month) == 1
    month_end = (due + timedelta(days=1)).day == 1
    assert due.day == received.day or (due.day < received.day and month_end)
    assert due.time() == received.time()


def test_month_ends_are_kept() -> None:
    assert requests.add_months(datetime(2025, 1, 31, tzinfo=UTC), 1).day == 28
    assert requests.add_months(datetime(2024, 1, 31, tzinfo=UTC), 1).day == 29
    assert requests.add_months(datetime(2025, 11, 15, tzinfo=UTC), 2) == datetime(
        2026, 1, 15, tzinfo=UTC
    )


def _create(database: Database, ws: str, profile: str, type_: str, **kw: Any) -> str:
    with database.transaction() as session:
        return requests.create(session, ws, type_=type_, profile_id=profile, actor="test", **kw).id


def _step(database: Database, ws: str, request_id: str, step: str, **kw: Any) -> Any:
    with database.transaction() as session:
        row = requests.get(session, ws, request_id)
        if step == "execute":
            kw |= {"tombstone_key": KEY, "proof_key": KEY}
        result = getattr(requests, step)(session, row, actor="dpo", **kw)
        return result[0].evidence if step == "execute" else None


def test_deadlines_extensions_and_the_overdue_list(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed(message("identify", userId="anna"))
    old = datetime.now(UTC) - timedelta(days=40)
    late = _create(database, ws, str(anna), "access", received_at=old)
    fresh = _create(database, ws, str(anna), "access")
    with database.transaction(write=False) as session:
        overdue = requests.listing(session, ws, overdue=True)
        assert [r.id for r in overdue] == [late]
        assert requests.get(session, ws, fresh).due_at == requests.add_months(
            requests.get(session, ws, fresh).received_at, 1
        )
    with pytest.raises(ConflictError, match="deadline has passed"):
        _step(database, ws, late, "extend", months=2, reason="many systems")
    _step(database, ws, fresh, "extend", months=2, reason="many systems")
    with database.transaction(write=False) as session:
        row = requests.get(session, ws, fresh)
        assert row.extended and row.due_at == requests.add_months(row.received_at, 3)
    with pytest.raises(ConflictError, match="at most once"):
        _step(database, ws, fresh, "extend", months=1, reason="again")
    with pytest.raises(InvalidInputError, match="unknown request type"):
        _create(database, ws, str(anna), "deletion")
    with pytest.raises(InvalidInputError, match="future"):
        _create(database, ws, str(anna), "access", received_at=datetime.now(UTC) + timedelta(1))
    _step(database, ws, late, "reject", reason="identity not established")
    with pytest.raises(ConflictError, match="rejected"):
        _step(database, ws, late, "verify", verified=True, method="too late")
    with database.transaction(write=False) as session:
        steps = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.chain == ws, AuditEntry.action.like("privacy.request.%"))
            .order_by(AuditEntry.seq)
        ).all()
    assert steps == [
        "privacy.request.received",
        "privacy.request.received",
        "privacy.request.extended",
        "privacy.request.rejected",
    ]


def test_access_package_holds_everything_and_its_explanations(
    api: TestClient, database: Database, tenant: Tenant, feed: Feed
) -> None:
    ws = tenant.workspace_id
    cookie, anna = feed(
        message("page", anonymousId="c-1"),
        message("identify", at=1, anonymousId="c-1", userId="anna", traits={"email": "a@x.ch"}),
    )
    assert cookie == anna
    consent_row = {"profile_id": anna, "purpose": "analytics", "status": "granted"}
    assert api.post("/v1/consents", headers=tenant.admin, json=consent_row).status_code == 201
    created = api.post(
        "/v1/privacy/requests",
        headers=tenant.admin,
        json={"type": "access", "identifier": {"type": "user_id", "value": "anna"}},
    ).json()
    package_url = f"/v1/privacy/requests/{created['id']}/package"
    assert_problem(api.get(package_url, headers=tenant.admin), 409, "conflict")
    api.post(
        f"/v1/privacy/requests/{created['id']}/verify",
        headers=tenant.admin,
        json={"verified": True, "method": "logged-in account"},
    )
    download = api.get(package_url, headers=tenant.admin)
    download_body = download.content
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    files = "README.txt data.json about.json identities.csv traits.csv computed.csv events.csv"
    assert {*files.split(), "consents.csv", "audit.csv"} <= set(archive.namelist())
    data = orjson.loads(archive.read("data.json"))
    assert data["profile_id"] == anna
    assert {(i["type"], i["value"]) for i in data["identities"]} == {
        ("anonymous_id", "c-1"),
        ("user_id", "anna"),
        ("email", "a@x.ch"),
    }
    assert [c["purpose"] for c in data["consents"]["records"]] == ["analytics"]
    assert {"segments", "scores", "decisions"} <= data.keys()
    about = data["about"]
    assert {p["purpose"] for p in about["purposes"]} >= {"marketing", "analytics"}
    assert all(p["retention_days"] > 0 and p["legal_bases"] for p in about["purposes"])
    assert "contact" in about["categories_of_data"]
    identities = list(csv.DictReader(io.StringIO(archive.read("identities.csv").decode())))
    assert len(identities) == 3
    assert any(a["action"] == "consent.recorded" for a in data["audit"])
    # The download itself is audited; executing completes the request with the hash.
    executed = api.post(f"/v1/privacy/requests/{created['id']}/execute", headers=tenant.admin)
    assert executed.json()["status"] == "completed"
    evidence = executed.json()["evidence"]
    assert len(evidence["sha256"]) == 64
    (download,) = evidence["downloads"]  # what the person received, by its hash
    assert download["sha256"] == hashlib.sha256(download_body).hexdigest()
    with database.transaction(write=False) as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.chain == ws)).all()
    assert "privacy.package.exported" in actions


def test_rectification_restriction_and_objection_take_effect(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed(message("identify", userId="anna"))
    anna = str(anna)
    with database.transaction() as session:
        for purpose, channel in (("analytics", None), ("marketing", "email")):
            consent.record(
                session,
                ws,
                anna,
                consent.ConsentInput(purpose=purpose, status="granted", channel=channel),
                actor="test",
                proof_key=KEY,
            )
        consent.record(
            session,
            ws,
            anna,
            consent.ConsentInput(
                purpose="marketing",
                status="granted",
                channel="post",
                legal_basis="legitimate_interest",
            ),
            actor="test",
            proof_key=KEY,
        )

    def allowed(purpose: str, channel: str | None = None) -> bool:
        with database.transaction(write=False) as session:
            return consent.check(session, ws, anna, purpose, channel).allowed

    rectify = _create(
        database, ws, anna, "rectification", details={"traits": {"lastName": "Meier"}}
    )
    with pytest.raises(ConflictError, match="not verified"):
        _step(database, ws, rectify, "execute")
    _step(database, ws, rectify, "verify", verified=True, method="id card")
    assert _step(database, ws, rectify, "execute") == {"traits": ["lastName"]}
    with database.transaction(write=False) as session:
        trait = session.get(ProfileTrait, (ws, anna, "lastName"))
        assert trait is not None and (trait.value, trait.source) == ("Meier", "privacy-request")

    # Objection (Art. 21): legitimate interest and direct marketing stop, analytics goes on.
    assert allowed("marketing", "post") and allowed("necessary")
    objection = _create(database, ws, anna, "objection")
    _step(database, ws, objection, "verify", verified=True, method="account")
    _step(database, ws, objection, "execute")
    assert not allowed("marketing", "post") and not allowed("marketing", "email")
    assert allowed("analytics") and allowed("necessary")

    # Restriction (Art. 18): nothing but storage, until lifted.
    restriction = _create(database, ws, anna, "restriction")
    _step(database, ws, restriction, "verify", verified=True, method="account")
    _step(database, ws, restriction, "execute")
    with database.transaction(write=False) as session:
        decision = consent.check(session, ws, anna, "analytics")
    assert not decision.allowed and "Art. 18" in decision.reason
    assert not allowed("necessary")
    lift = _create(database, ws, anna, "restriction", details={"lift": True})
    _step(database, ws, lift, "verify", verified=True, method="account")
    assert _step(database, ws, lift, "execute")["lifted"]
    assert allowed("analytics")
    with database.transaction(write=False) as session:
        export = consent.checker(session, ws, "analytics")
        assert export(anna).allowed and not export(None).allowed


def test_a_request_follows_its_person_into_a_merge(
    database: Database, tenant: Any, feed: Feed
) -> None:
    """Received for a visitor's profile that merged into a customer before it was carried
    out: the erasure takes the customer's whole profile (Art. 17 is about the person)."""
    ws = tenant.workspace_id
    anna, cookie = feed(
        message("identify", userId="anna"), message("page", at=1, anonymousId="c-7")
    )
    assert anna != cookie
    request = _create(database, ws, str(cookie), "erasure")
    (merged,) = feed(message("identify", at=2, anonymousId="c-7", userId="anna"))
    assert merged == anna  # the visitor's profile merged into the customer's
    _step(database, ws, request, "verify", verified=True, method="account")
    evidence = _step(database, ws, request, "execute")
    assert evidence["profiles"] == 2
    with database.transaction(write=False) as session:
        assert session.get(Profile, str(anna)) is None and session.get(Profile, str(cookie)) is None
