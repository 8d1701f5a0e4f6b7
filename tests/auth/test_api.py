"""The auth API: keys, scopes, the caller's workspace, and isolation between workspaces."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.helpers import assert_problem


def test_whoami_with_bearer_and_basic(client: TestClient, tenant: Tenant) -> None:
    admin = client.get("/v1/whoami", headers=tenant.admin).json()
    writer = client.get("/v1/whoami", auth=(tenant.write_token, "")).json()
    assert admin["workspace"]["slug"] == writer["workspace"]["slug"] == "acme"
    assert admin["scopes"] == ["admin"] and admin["kind"] == "secret"
    assert writer["scopes"] == ["ingest"] and writer["kind"] == "write"
    assert tenant.admin_token.startswith(admin["key_prefix"] + "_")


def test_created_key_is_shown_once_and_works(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "crm-sync", "scopes": ["profiles:read"]}
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    token = created.json()["token"]
    assert token.startswith(created.json()["prefix"] + "_")
    who = client.get("/v1/whoami", headers=tenant.bearer(token)).json()
    assert who["scopes"] == ["profiles:read"]
    listed = client.get("/v1/keys", headers=tenant.admin).json()["items"]
    assert {k["name"] for k in listed} == {"test admin key", "test write key", "crm-sync"}
    assert all("token" not in k and "secret_hash" not in k for k in listed)
    one = client.get(f"/v1/keys/{created.json()['prefix']}", headers=tenant.admin).json()
    assert one["id"] == created.json()["id"] and "token" not in one
    assert_problem(client.get("/v1/keys", headers=tenant.bearer(token)), 403, "forbidden")


def test_write_keys_only_ingest(client: TestClient, tenant: Tenant) -> None:
    ok = client.post("/v1/keys", headers=tenant.admin, json={"name": "app", "kind": "write"})
    assert ok.status_code == 201 and ok.json()["scopes"] == ["ingest"]
    assert ok.json()["token"].startswith("coreo_wk_")
    refused = client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "app", "kind": "write", "scopes": ["admin"]}
    )
    body = assert_problem(refused, 422, "validation-failed")
    assert body["errors"][0]["field"] == "body.write.scopes"
    no_scope = client.post("/v1/keys", headers=tenant.admin, json={"name": "app"})
    assert assert_problem(no_scope, 422, "validation-failed")["errors"][0]["type"] == "missing"


def test_api_scopes_match_the_service() -> None:
    from typing import get_args

    from coreo.auth.schemas import ScopeName
    from coreo.auth.service import SCOPES

    assert set(get_args(ScopeName)) == set(SCOPES)


def test_revoked_key_is_refused_at_once(client: TestClient, tenant: Tenant) -> None:
    token = client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "temp", "scopes": ["admin"]}
    ).json()["token"]
    key_id = client.get("/v1/whoami", headers=tenant.bearer(token)).json()["key_id"]  # now cached
    revoked = client.delete(f"/v1/keys/{key_id}", headers=tenant.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_by"].startswith("key:coreo_sk_")
    body = assert_problem(
        client.get("/v1/whoami", headers=tenant.bearer(token)), 401, "unauthenticated"
    )
    assert "revoked" in body["detail"]
    assert_problem(client.delete(f"/v1/keys/{key_id}", headers=tenant.admin), 409, "conflict")
    active = client.get("/v1/keys", headers=tenant.admin).json()["items"]
    assert key_id not in {k["id"] for k in active}
    everything = client.get("/v1/keys?include_revoked=true", headers=tenant.admin).json()["items"]
    assert key_id in {k["id"] for k in everything}


def test_last_used_is_recorded(client: TestClient, tenant: Tenant) -> None:
    client.get("/v1/whoami", auth=(tenant.write_token, ""))
    keys = client.get("/v1/keys", headers=tenant.admin).json()["items"]
    assert all(k["last_used_at"] is not None for k in keys) and len(keys) == 2


def test_rename_workspace_is_audited(client: TestClient, tenant: Tenant) -> None:
    renamed = client.patch("/v1/workspace", headers=tenant.admin, json={"display_name": "ACME AG"})
    assert renamed.json()["display_name"] == "ACME AG" and renamed.json()["slug"] == "acme"
    assert client.get("/v1/workspace", headers=tenant.admin).json()["display_name"] == "ACME AG"
    audit = client.get("/v1/audit?action=workspace.updated", headers=tenant.admin).json()["items"]
    assert audit[-1]["details"] == {"display_name": {"from": "acme", "to": "ACME AG"}}
    assert_problem(
        client.patch("/v1/workspace", auth=(tenant.write_token, ""), json={"display_name": "x"}),
        403,
        "forbidden",
    )


def test_workspaces_cannot_see_each_other(
    client: TestClient, make_tenant: Callable[[str], Tenant]
) -> None:
    a, b = make_tenant("alpha"), make_tenant("beta")
    b_keys = client.get("/v1/keys", headers=b.admin).json()["items"]
    b_key = b_keys[0]
    # Listing shows only one's own keys.
    a_keys = client.get("/v1/keys", headers=a.admin).json()["items"]
    assert {k["id"] for k in a_keys}.isdisjoint({k["id"] for k in b_keys})
    # Reading or revoking another workspace's key by id or prefix looks like it does not exist.
    for ref in (b_key["id"], b_key["prefix"]):
        assert_problem(client.get(f"/v1/keys/{ref}", headers=a.admin), 404, "not-found")
        assert_problem(client.delete(f"/v1/keys/{ref}", headers=a.admin), 404, "not-found")
    assert client.get("/v1/whoami", headers=b.admin).status_code == 200
    # The audit trail and workspace are per workspace.
    a_audit = client.get("/v1/audit", headers=a.admin).json()["items"]
    assert all(b.workspace_id not in entry["target"] for entry in a_audit)
    assert all(b_key["id"] not in entry["target"] for entry in a_audit)
    assert client.get("/v1/workspace", headers=a.admin).json()["slug"] == "alpha"
    # Renaming one's workspace does not touch the other.
    client.patch("/v1/workspace", headers=a.admin, json={"display_name": "Alpha"})
    assert client.get("/v1/workspace", headers=b.admin).json()["display_name"] == "beta"
