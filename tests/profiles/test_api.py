"""GET /v1/profiles: a profile with identities and merges; lookup; merged ids redirect."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from coreo.auth import service as auth_service
from coreo.db import Database
from tests.identity.conftest import message


def test_a_profile_shows_its_identities_and_merges(
    client: TestClient, feed_profiles: Any, tenant: Any
) -> None:
    older, newer = feed_profiles(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    feed_profiles(
        message("identify", 2, userId="u1", anonymousId="a1", traits={"email": "Anna@X.ch"})
    )
    feed_profiles(message("identify", 3, userId="u1", anonymousId="a2"))
    response = client.get(f"/v1/profiles/{older}", headers=tenant.admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == older
    assert [(i["type"], i["value"]) for i in body["identities"]] == [
        ("anonymous_id", "a1"),
        ("anonymous_id", "a2"),
        ("email", "anna@x.ch"),  # the identifier is keyed by mailbox
        ("user_id", "u1"),
    ]
    assert body["traits"]["email"]["value"] == "Anna@X.ch"  # the trait is what it was given
    assert body["traits"]["email"]["personal"] is True
    (merge,) = body["merges"]
    assert (merge["survivor_id"], merge["merged_id"]) == (older, newer)
    assert merge["identities"] == [{"type": "anonymous_id", "value": "a2"}]
    redirected = client.get(f"/v1/profiles/{newer}", headers=tenant.admin, follow_redirects=False)
    assert redirected.status_code == 308
    assert redirected.headers["location"] == f"/v1/profiles/{older}"


def test_lookup_by_any_identifier(client: TestClient, feed_profiles: Any, tenant: Any) -> None:
    (profile,) = feed_profiles(
        message(
            "identify",
            userId="u7",
            context={"externalIds": [{"type": "erp_customer_no", "id": "1001"}]},
        )
    )
    for query in ("user_id=u7", "type=erp_customer_no&value=1001"):
        found = client.get(f"/v1/profiles/lookup?{query}", headers=tenant.admin)
        assert found.status_code == 200 and found.json()["id"] == profile, query
    missing = client.get("/v1/profiles/lookup?email=nobody@x.ch", headers=tenant.admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    for bad in ("", "?email=a@b.ch&user_id=u7", "?type=erp_customer_no"):
        refused = client.get(f"/v1/profiles/lookup{bad}", headers=tenant.admin)
        assert refused.status_code == 422, bad


def test_profiles_need_the_read_scope_and_stay_in_their_workspace(
    client: TestClient, feed_profiles: Any, tenant: Any, make_tenant: Any, database: Database
) -> None:
    (profile,) = feed_profiles(message(userId="u1"))
    other = make_tenant("other")
    assert client.get(f"/v1/profiles/{profile}", headers=other.admin).status_code == 404
    write_only = client.get(f"/v1/profiles/{profile}", headers=tenant.bearer(tenant.write_token))
    assert write_only.status_code == 403
    with database.transaction() as session:
        reader = auth_service.create_api_key(
            session=session,
            workspace_id=tenant.workspace_id,
            name="reader",
            kind=auth_service.KeyKind.SECRET,
            scopes=["profiles:read"],
            actor="test",
        )
    allowed = client.get(f"/v1/profiles/{profile}", headers=tenant.bearer(reader.token))
    assert allowed.status_code == 200
    assert client.get("/v1/profiles/prof_nope", headers=tenant.admin).status_code == 404
