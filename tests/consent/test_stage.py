"""Consent signals carried by events become ledger records: Segment's categoryPreferences
and the Global Privacy Control (GDPR Art. 7, 21; the CCPA-style opt-out of sharing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from coreo.consent import service
from coreo.consent.models import ConsentRecord
from coreo.consent.purposes import DEFAULT_TAXONOMY
from coreo.consent.stage import Signal, signals_of
from coreo.db import Database
from tests.consent.test_tcf import LIVERAMP_POLICY_4, PERL_POLICY_5, POLICY_2_STRINGS
from tests.helpers import identity_row
from tests.ingest.conftest import drain, ingest_client

__all__ = ["drain", "ingest_client"]


def _signals(message: Any) -> list[Signal]:
    """What an event signals under the default taxonomy."""
    return signals_of(message, DEFAULT_TAXONOMY)


def _send(client: TestClient, tenant: Any, *calls: dict[str, Any], **headers: str) -> None:
    response = client.post(
        "/v1/batch", json={"batch": list(calls)}, auth=(tenant.write_token, ""), headers=headers
    )
    assert response.status_code == 200 and response.json()["accepted"] == len(calls), response.text


START = datetime.now(UTC) - timedelta(hours=1)


def _page(n: int, preferences: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
    """A page view ``n`` minutes after START with the banner's state."""
    consent = {"categoryPreferences": preferences} if preferences is not None else {}
    return {
        "type": "page",
        "anonymousId": "cookie-1",
        "messageId": f"page-{n}",
        "timestamp": (START + timedelta(minutes=n)).isoformat(),
        "context": {"consent": consent, "ip": "203.0.113.9", "userAgent": "Firefox", **context},
    }


def _profile(database: Database, workspace_id: str) -> str:
    with database.transaction(write=False) as session:
        row = identity_row(session, workspace_id, "anonymous_id", "cookie-1")
        return str(row.profile_id)


def _ledger(database: Database, workspace_id: str, profile: str) -> list[tuple[str, str, str]]:
    with database.transaction(write=False) as session:
        return [
            (r.purpose, r.status, r.source) for r in service.ledger(session, workspace_id, profile)
        ]


def test_signals_are_read_from_the_consent_context() -> None:
    page = _page(0, {"Analytics": True, "Advertising": False, "Necessary": True, "C0009": True})
    assert _signals(page) == [("analytics", "granted"), ("third_party_sharing", "denied")]
    both = _page(0, {"Marketing": True, "Targeting": False})  # one purpose: a refusal wins
    assert _signals(both) == [("third_party_sharing", "denied")]
    assert _signals(_page(0, {"Analytics": "yes"})) == []  # not a yes or no
    assert _signals({"type": "page", "context": {"consent": {"gpc": True}}}) == [
        ("third_party_sharing", "withdrawn")
    ]
    assert _signals({"type": "page", "context": "x"}) == []


def test_a_tc_string_grants_or_denies_what_its_purposes_cover() -> None:
    def with_tc(tc: str, **consent: Any) -> dict[str, Any]:
        return {"type": "page", "context": {"consent": {"tcString": tc, **consent}}}

    everything = with_tc(PERL_POLICY_5)  # purposes 1-11 consented (CPAN GDPR::IAB::TCFv2)
    assert _signals(everything) == [("analytics", "granted"), ("personalisation", "granted")]
    only_storage = with_tc(LIVERAMP_POLICY_4)  # purpose 1 alone
    assert _signals(only_storage) == [("analytics", "denied"), ("personalisation", "denied")]
    banner_says_no = with_tc(PERL_POLICY_5, categoryPreferences={"Analytics": False})
    assert ("analytics", "denied") in _signals(banner_says_no)  # a refusal wins
    _source, old_policy, _fields = POLICY_2_STRINGS[0]
    assert _signals(with_tc(old_policy)) == []  # policy version 2: not TCF v2.2
    assert _signals(with_tc("not a tc string")) == []


def test_a_banner_records_changes_only_and_does_not_override_a_later_withdrawal(
    ingest_client: TestClient, drain: Callable[[], None], database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    _send(ingest_client, tenant, _page(0, {"Analytics": True}), _page(1, {"Analytics": True}))
    drain()
    anna = _profile(database, ws)
    assert _ledger(database, ws, anna) == [("analytics", "granted", "event")]
    with database.transaction(write=False) as session:
        (row,) = session.scalars(select(ConsentRecord)).all()
    assert row.ip_hash and row.ip_hash != "203.0.113.9" and row.collection_point == "event:page"
    with database.transaction() as session:  # withdrawn in the preference centre
        service.record(
            session,
            ws,
            anna,
            service.ConsentInput(
                purpose="analytics", status="withdrawn", at=START + timedelta(minutes=2)
            ),
            actor="test",
            proof_key=b"k" * 32,
        )
    _send(ingest_client, tenant, _page(3, {"Analytics": True}))  # the banner still says yes
    drain()
    with database.transaction(write=False) as session:
        assert not service.check(session, ws, anna, "analytics").allowed
    _send(ingest_client, tenant, _page(4, {"Analytics": False}), _page(5, {"Analytics": True}))
    drain()  # the person changed the banner: both changes count, the newest decides
    assert [s for p, s, _ in _ledger(database, ws, anna)] == [
        "granted",
        "withdrawn",
        "denied",
        "granted",
    ]
    with database.transaction(write=False) as session:
        assert service.check(session, ws, anna, "analytics").allowed


def test_the_global_privacy_control_header_withdraws_sharing(
    ingest_client: TestClient, drain: Callable[[], None], database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    _send(ingest_client, tenant, _page(0, {"Advertising": True}))
    _send(ingest_client, tenant, _page(1), **{"Sec-GPC": "1"})
    drain()
    anna = _profile(database, ws)
    assert _ledger(database, ws, anna) == [
        ("third_party_sharing", "granted", "event"),
        ("third_party_sharing", "withdrawn", "event"),
    ]
    with database.transaction(write=False) as session:
        decision = service.check(session, ws, anna, "third_party_sharing")
    assert not decision.allowed and decision.reason.startswith("withdrawn")
