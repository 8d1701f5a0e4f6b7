"""The consent ledger and the policy check: GDPR Art. 6 (a legal basis for every purpose),
Art. 7(3) (withdrawal as easy as consent, effective at once), Art. 21 (objection to direct
marketing stops it, profiling included), proof kept as keyed hashes."""

from __future__ import annotations

import base64
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from coreo.audit.models import AuditEntry
from coreo.config import get_settings
from coreo.consent import service
from coreo.consent.models import ConsentRecord
from coreo.consent.service import ConsentInput
from coreo.db import Database
from coreo.errors import ConfigurationError, InvalidInputError, NotFoundError
from coreo.privacy.keys import derived_key, master_key, proof_hash
from tests.helpers import assert_problem
from tests.identity.conftest import Feed, feed, message

__all__ = ["feed"]

KEY = b"k" * 32


def _record(database: Database, ws: str, profile: str, **fields: Any) -> str:
    with database.transaction() as session:
        row = service.record(
            session, ws, profile, ConsentInput(**fields), actor="test", proof_key=KEY
        )
        return row.id


def _check(database: Database, ws: str, profile: str, purpose: str, channel: str | None = None):  # type: ignore[no-untyped-def]
    with database.transaction(write=False) as session:
        return service.check(session, ws, profile, purpose, channel)


def test_a_purpose_needs_its_basis_and_withdrawal_counts_at_once(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed(message("identify", userId="anna"))
    assert _check(database, ws, anna, "necessary").legal_basis == "contract"
    nothing = _check(database, ws, anna, "marketing", "email")
    assert (nothing.allowed, nothing.reason) == (False, "no consent on record")
    granted = _record(database, ws, anna, purpose="marketing", channel="email", status="granted")
    decision = _check(database, ws, anna, "marketing", "email")
    assert decision.allowed and decision.legal_basis == "consent" and decision.entry_id == granted
    assert not _check(database, ws, anna, "marketing", "sms").allowed  # per channel
    started = time.monotonic()
    _record(database, ws, anna, purpose="marketing", channel="email", status="withdrawn")
    withdrawn = _check(database, ws, anna, "marketing", "email")
    assert time.monotonic() - started < 1.0
    assert not withdrawn.allowed and withdrawn.reason.startswith("withdrawn for email")
    with database.transaction(write=False) as session:
        kept = service.ledger(session, ws, anna)
    assert [(r.status, r.channel) for r in kept] == [("granted", "email"), ("withdrawn", "email")]


def test_an_objection_stops_all_direct_marketing_until_consent_is_given_again(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    (anna,) = feed(message("identify", userId="anna"))
    for purpose, channel in [("marketing", "email"), ("marketing", "sms"), ("analytics", None)]:
        _record(database, ws, anna, purpose=purpose, channel=channel, status="granted")
    _record(database, ws, anna, purpose="personalisation", status="granted")
    objection = _record(database, ws, anna, purpose="marketing", status="withdrawn", objection=True)
    stopped = [("marketing", "email"), ("marketing", "post"), ("personalisation", None)]
    for purpose, channel in stopped:
        decision = _check(database, ws, anna, purpose, channel)
        assert not decision.allowed and "Art. 21" in decision.reason
        assert decision.entry_id == objection
    assert _check(database, ws, anna, "analytics").allowed  # not direct marketing
    _record(database, ws, anna, purpose="marketing", channel="email", status="granted")
    assert _check(database, ws, anna, "marketing", "email").allowed  # consent given again
    assert not _check(database, ws, anna, "marketing", "sms").allowed


def test_a_merged_profiles_consents_count_for_the_survivor(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    older, newer = feed(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    _record(database, ws, newer, purpose="marketing", channel="email", status="granted")
    feed(message("identify", 2, userId="u", anonymousId="a1"))
    feed(message("identify", 3, userId="u", anonymousId="a2"))  # newer merges into older
    assert _check(database, ws, older, "marketing", "email").allowed
    later = _record(database, ws, newer, purpose="analytics", status="denied")
    with database.transaction(write=False) as session:
        assert session.get(ConsentRecord, later).profile_id == older  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "message_part"),
    [
        ({"purpose": "spying", "status": "granted"}, "unknown purpose"),
        ({"purpose": "marketing", "channel": "fax", "status": "granted"}, "no channel 'fax'"),
        ({"purpose": "analytics", "channel": "email", "status": "granted"}, "not given per"),
        (
            {"purpose": "personalisation", "status": "granted", "legal_basis": "contract"},
            "cannot rest on contract",
        ),
        ({"purpose": "analytics", "status": "withdrawn", "objection": True}, "Art. 21"),
        ({"purpose": "marketing", "status": "granted", "objection": True}, "status withdrawn"),
        (
            {
                "purpose": "analytics",
                "status": "granted",
                "at": datetime.now(UTC) + timedelta(hours=1),
            },
            "future",
        ),
    ],
)
def test_bad_decisions_are_refused(
    database: Database, tenant: Any, feed: Feed, fields: dict[str, Any], message_part: str
) -> None:
    (anna,) = feed(message("identify", userId="anna"))
    with pytest.raises(InvalidInputError, match=message_part):
        _record(database, tenant.workspace_id, anna, **fields)


def test_checks_need_a_known_profile_and_a_channel_for_marketing(
    database: Database, tenant: Any, feed: Feed
) -> None:
    (anna,) = feed(message("identify", userId="anna"))
    with pytest.raises(NotFoundError):
        _check(database, tenant.workspace_id, "prf_nobody", "analytics")
    with pytest.raises(InvalidInputError, match="given per channel"):
        _check(database, tenant.workspace_id, anna, "marketing")


_DECISIONS = st.lists(
    st.tuples(
        st.sampled_from(["marketing", "personalisation", "analytics"]),
        st.sampled_from(["granted", "denied", "withdrawn", "objection"]),
        st.sampled_from(["email", "sms", None]),
    ),
    max_size=12,
)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=_DECISIONS, channel=st.sampled_from(["email", "sms"]))
def test_the_newest_word_of_the_person_decides(
    database: Database, tenant: Any, feed: Feed, history: list[Any], channel: str
) -> None:
    """Whatever came before, a withdrawal ends marketing on the channel and a consent
    given then allows it again; an objection ends it on every channel."""
    ws = tenant.workspace_id
    (person,) = feed(message("identify", userId=f"p{time.monotonic_ns()}"))
    for purpose, status, on in history:
        if status == "objection":
            against = purpose if purpose != "analytics" else "marketing"
            _record(database, ws, person, purpose=against, status="withdrawn", objection=True)
        else:
            _record(database, ws, person, purpose=purpose, status=status,
                    channel=on if purpose == "marketing" else None)  # fmt: skip
    _record(database, ws, person, purpose="marketing", channel=channel, status="withdrawn")
    assert not _check(database, ws, person, "marketing", channel).allowed
    _record(database, ws, person, purpose="marketing", channel=channel, status="granted")
    assert _check(database, ws, person, "marketing", channel).allowed
    _record(database, ws, person, purpose="marketing", status="withdrawn", objection=True)
    assert not any(
        _check(database, ws, person, "marketing", c).allowed for c in ("email", "sms", "post")
    )


# -- API ----------------------------------------------------------------------------------------


def test_the_api_records_proof_as_keyed_hashes_and_answers_checks(
    client: TestClient, tenant: Any, feed: Feed, database: Database
) -> None:
    (anna,) = feed(message("identify", userId="anna"))
    body = {
        "profile_id": anna,
        "purpose": "marketing",
        "channel": "email",
        "status": "granted",
        "collection_point": "checkout/newsletter",
        "notice_version": "2026-03",
        "notice_text": "Wir senden Ihnen Angebote per E-Mail.",
        "proof": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    }
    created = client.post("/v1/consents", json=body, headers=tenant.admin)
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["notice_hash"] == service.notice_hash(body["notice_text"])
    assert row["ip_hash"] and "203.0.113.7" not in created.text
    again = client.post("/v1/consents", json=body, headers=tenant.admin).json()
    assert again["ip_hash"] == row["ip_hash"] and again["id"] != row["id"]  # same proof, new row
    check = client.get(
        "/v1/consents/check",
        params={"profile_id": anna, "purpose": "marketing", "channel": "email"},
        headers=tenant.admin,
    )
    assert check.status_code == 200 and check.json()["allowed"] is True
    state = client.get(f"/v1/profiles/{anna}/consents", headers=tenant.admin).json()
    current = {(d["purpose"], d["channel"]): d["allowed"] for d in state["current"]}
    assert current[("marketing", "email")] and not current[("marketing", "sms")]
    assert current[("necessary", None)] and not current[("analytics", None)]
    assert len(state["records"]) == 2
    with database.transaction(write=False) as session:
        stored = session.scalars(select(ConsentRecord)).all()
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "consent.recorded")
        ).all()
    assert all("203.0.113.7" not in str(vars(r)) for r in stored)
    assert len(audited) == 2


def test_the_api_refuses_bad_decisions_and_keys_without_the_scope(
    client: TestClient, tenant: Any, feed: Feed
) -> None:
    (anna,) = feed(message("identify", userId="anna"))
    good = {"profile_id": anna, "purpose": "analytics", "status": "granted"}
    refused = client.post("/v1/consents", json=good, auth=(tenant.write_token, ""))
    assert refused.status_code in (401, 403)
    reader = client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "crm", "scopes": ["profiles:read"]}
    ).json()["token"]
    assert_problem(
        client.post("/v1/consents", json=good, headers=tenant.bearer(reader)), 403, "forbidden"
    )
    assert_problem(
        client.post("/v1/consents", json={**good, "legal_basis": "contract"}, headers=tenant.admin),
        422,
        "validation-failed",
    )
    assert_problem(
        client.post("/v1/consents", json={**good, "profile_id": "prf_x"}, headers=tenant.admin),
        404,
        "not-found",
    )
    assert_problem(
        client.get(
            "/v1/consents/check",
            params={"profile_id": anna, "purpose": "marketing"},
            headers=tenant.admin,
        ),
        422,
        "validation-failed",
    )


# -- keys ---------------------------------------------------------------------------------------


def test_the_master_key_comes_from_the_environment_or_a_private_key_file(tmp_path: Path) -> None:
    from_file = get_settings(home=tmp_path / "home")
    key = master_key(from_file)
    path = tmp_path / "home" / "master.key"
    assert len(key) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert master_key(from_file) == key  # stable
    given_key = base64.b64encode(b"x" * 32).decode()
    assert master_key(get_settings(home=tmp_path, master_key=given_key)) == b"x" * 32
    with pytest.raises(ConfigurationError, match="32 bytes"):
        master_key(get_settings(home=tmp_path, master_key=base64.b64encode(b"short").decode()))
    with pytest.raises(ConfigurationError, match="not base64"):
        master_key(get_settings(home=tmp_path, master_key="%%%"))
    one, other = derived_key(key, "consent-proof"), derived_key(b"y" * 32, "consent-proof")
    assert one != derived_key(key, "encryption") and one != other
    assert proof_hash(one, "203.0.113.7") != proof_hash(other, "203.0.113.7")


def test_a_profile_read_for_a_purpose_is_checked_against_the_persons_consents(
    client: TestClient, tenant: Any, feed: Feed, database: Database
) -> None:
    older, newer = feed(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    feed(message("identify", 2, userId="u", anonymousId="a1"))
    feed(message("identify", 3, userId="u", anonymousId="a2"))  # newer merged into older
    url = f"/v1/profiles/{older}"
    email = {"purpose": "marketing", "channel": "email"}
    refused = client.get(url, params=email, headers=tenant.admin)
    body = assert_problem(refused, 403, "forbidden")
    assert "marketing is not allowed for this profile: no consent on record" in body["detail"]
    _record(database, tenant.workspace_id, older, **email, status="granted")
    allowed = client.get(url, params=email, headers=tenant.admin)
    assert allowed.status_code == 200 and allowed.headers["coreo-legal-basis"] == "consent"
    service_use = client.get(url, params={"purpose": "necessary"}, headers=tenant.admin)
    assert service_use.headers["coreo-legal-basis"] == "contract"
    assert "coreo-legal-basis" not in client.get(url, headers=tenant.admin).headers
    moved = client.get(
        f"/v1/profiles/{newer}",
        params={"purpose": "marketing", "channel": "sms"},
        headers=tenant.admin,
        follow_redirects=False,
    )
    assert moved.status_code == 308
    assert moved.headers["location"] == f"{url}?purpose=marketing&channel=sms"
    assert_problem(
        client.get(url, params={"purpose": "marketing"}, headers=tenant.admin),
        422,
        "validation-failed",
    )
