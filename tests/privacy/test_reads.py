"""Profile reads are audited (GDPR Art. 5(2), 30, 32): which API key read whose data, and
for what purpose; nothing personal goes into the entry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coreo.audit.models import AuditEntry
from coreo.audit.service import verify
from coreo.db import Database
from tests.conftest import Tenant
from tests.identity.conftest import feed_profiles, message

__all__ = ["feed_profiles"]


@pytest.fixture
def api(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


def test_who_read_whose_profile_is_in_the_audit_chain(
    api: TestClient,
    database: Database,
    tenant: Tenant,
    feed_profiles: Callable[..., list[str | None]],
) -> None:
    ws = tenant.workspace_id
    reader = api.post(
        "/v1/keys",
        headers=tenant.admin,
        json={"kind": "secret", "name": "crm", "scopes": ["profiles:read"]},
    ).json()
    headers = tenant.bearer(reader["token"])
    anna, bea = feed_profiles(
        message("identify", userId="anna", traits={"email": "anna@example.ch"}),
        message("identify", userId="bea", traits={"email": "bea@example.ch"}),
    )
    assert api.get(f"/v1/profiles/{anna}", headers=headers).status_code == 200
    assert api.get("/v1/profiles/lookup", params={"user_id": "bea"}, headers=headers).is_success
    assert api.get(f"/v1/profiles/{anna}/timeline", headers=headers).is_success
    found = api.get(
        "/v1/profiles", params={"trait": "email", "value": "bea@example.ch"}, headers=headers
    )
    assert [h["id"] for h in found.json()["items"]] == [bea]
    refused = api.get(
        f"/v1/profiles/{anna}", params={"purpose": "marketing", "channel": "sms"}, headers=headers
    )
    assert refused.status_code == 403  # refused: nothing was read, nothing is recorded
    with database.transaction(write=False) as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == ws, AuditEntry.action.like("profile.%"))
            .order_by(AuditEntry.seq)
        ).all()
        assert verify(session=session, chain=ws).ok
    assert [(e.action, e.target) for e in entries] == [
        ("profile.read", f"profile:{anna}"),
        ("profile.read", f"profile:{bea}"),
        ("profile.timeline_read", f"profile:{anna}"),
        ("profile.found", f"profile:{bea}"),
    ]
    assert {e.actor for e in entries} == {f"key:{reader['prefix']}"}
    text = " ".join(str(e.details) for e in entries)
    assert "@example.ch" not in text and "anna" not in text
