"""Every error the API gives is an RFC 9457 problem with a stable type."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from coreo.auth import service as auth_service
from coreo.auth.service import KeyKind
from coreo.db import Database
from tests.conftest import Tenant
from tests.helpers import assert_problem


def test_malformed_json_is_400(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/keys",
        content=b'{"name": "crm", "scopes": [',
        headers={**tenant.admin, "Content-Type": "application/json"},
    )
    body = assert_problem(response, 400, "malformed-request")
    assert "not valid JSON" in body["detail"]
    assert body["instance"] == "/v1/keys"


def test_missing_key_is_401_with_challenge(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/whoami")
    assert_problem(response, 401, "unauthenticated")
    assert "Bearer" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-key", "malformed"),
        ("coreo_sk_000000000000_" + "A" * 43, "not valid"),
    ],
)
def test_bad_key_is_401(client: TestClient, tenant: Tenant, token: str, reason: str) -> None:
    body = assert_problem(
        client.get("/v1/whoami", headers=tenant.bearer(token)), 401, "unauthenticated"
    )
    assert reason in body["detail"]


def test_right_prefix_wrong_secret_is_401(client: TestClient, tenant: Tenant) -> None:
    forged = tenant.admin_token[:-4] + (
        "AAAA" if not tenant.admin_token.endswith("AAAA") else "BBBB"
    )
    assert_problem(client.get("/v1/whoami", headers=tenant.bearer(forged)), 401, "unauthenticated")


def test_malformed_basic_credentials_are_401(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/whoami", headers={"Authorization": "Basic %%%not-base64"})
    assert_problem(response, 401, "unauthenticated")


def test_expired_key_is_401(client: TestClient, database: Database, tenant: Tenant) -> None:
    with database.transaction() as session:
        created = auth_service.create_api_key(
            session=session,
            workspace_id=tenant.workspace_id,
            name="short-lived",
            kind=KeyKind.SECRET,
            scopes=["admin"],
            actor="test",
            expires_in=timedelta(seconds=-1),
        )
    body = assert_problem(
        client.get("/v1/whoami", headers=tenant.bearer(created.token)), 401, "unauthenticated"
    )
    assert "expired" in body["detail"]


def test_missing_scope_is_403(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/keys", auth=(tenant.write_token, ""))
    body = assert_problem(response, 403, "forbidden")
    assert "'admin'" in body["detail"]


def test_unknown_route_is_404(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/v1/nothing-here"


def test_unknown_resource_is_404(client: TestClient, tenant: Tenant) -> None:
    assert_problem(client.get("/v1/keys/key_doesnotexist", headers=tenant.admin), 404, "not-found")


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


def test_405_allow_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/v1/keys")
    body = assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, POST"
    assert "allowed: GET, POST" in body["detail"]
    assert client.delete("/v1/workspace").headers["allow"] == "GET, PATCH"


def test_declared_oversized_body_is_413(
    app_factory: Callable[..., TestClient], tenant: Tenant
) -> None:
    with app_factory(max_body_bytes=2048) as client:
        response = client.post("/v1/keys", headers=tenant.admin, json={"name": "x" * 5000})
    body = assert_problem(response, 413, "payload-too-large")
    assert "2048" in body["detail"]


def test_streamed_oversized_body_is_413(
    app_factory: Callable[..., TestClient], tenant: Tenant
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    with app_factory(max_body_bytes=4096) as client:
        response = client.post(
            "/v1/keys",
            content=chunks(),
            headers={**tenant.admin, "Content-Type": "application/json"},
        )
    assert_problem(response, 413, "payload-too-large")


def test_body_within_limit_passes(app_factory: Callable[..., TestClient], tenant: Tenant) -> None:
    with app_factory(max_body_bytes=4096) as client:
        response = client.post(
            "/v1/keys", headers=tenant.admin, json={"name": "x" * 100, "scopes": ["admin"]}
        )
    assert response.status_code == 201


def test_non_json_body_is_415(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/keys",
        content=b"name=crm",
        headers={**tenant.admin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/x-www-form-urlencoded" in body["detail"]


def test_schema_violation_is_422_with_fields(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/keys", headers=tenant.admin, json={"scopes": ["admin"], "expires_in_days": 0}
    )
    body = assert_problem(response, 422, "validation-failed")
    fields = {e["field"]: e for e in body["errors"]}
    assert fields["body.secret.name"]["type"] == "missing"
    assert fields["body.secret.expires_in_days"]["type"] == "greater_than_equal"


def test_unknown_scope_is_422_with_field(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v1/keys", headers=tenant.admin, json={"name": "x", "scopes": ["root"]})
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["field"] == "body.secret.scopes.0"
    assert body["errors"][0]["type"] == "literal_error"


def test_domain_validation_is_422_with_field(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "   ", "scopes": ["admin"]}
    )
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["field"] == "body.secret.name"


def test_query_validation_is_422(client: TestClient, tenant: Tenant) -> None:
    body = assert_problem(
        client.get("/v1/audit?limit=0", headers=tenant.admin), 422, "validation-failed"
    )
    assert body["errors"][0]["field"] == "query.limit"


def test_rate_limit_is_429_with_retry_after(
    app_factory: Callable[..., TestClient], tenant: Tenant
) -> None:
    with app_factory(rate_limit_per_second=0.5, rate_limit_burst=2) as client:
        assert client.get("/v1/whoami", headers=tenant.admin).status_code == 200
        assert client.get("/v1/whoami", headers=tenant.admin).status_code == 200
        response = client.get("/v1/whoami", headers=tenant.admin)
        # Another key has its own bucket.
        other = client.get("/v1/whoami", auth=(tenant.write_token, ""))
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1
    assert other.status_code == 200


def test_per_key_rate_limit_override(
    app_factory: Callable[..., TestClient], database: Database, tenant: Tenant
) -> None:
    with database.transaction() as session:
        slow = auth_service.create_api_key(
            session=session,
            workspace_id=tenant.workspace_id,
            name="slow",
            kind=KeyKind.SECRET,
            scopes=["admin"],
            actor="test",
            rate_limit_per_second=0.001,
        )
    with app_factory(rate_limit_burst=1) as client:
        statuses = [
            client.get("/v1/whoami", headers=tenant.bearer(slow.token)).status_code
            for _ in range(3)
        ]
        admin_statuses = [
            client.get("/v1/whoami", headers=tenant.admin).status_code for _ in range(3)
        ]
    assert statuses == [200, 429, 429]
    assert admin_statuses == [200, 200, 200]  # default rate 1000/s refills between requests


def test_unhandled_error_is_500_without_trace(client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals: alice@example.com")

    client.app.add_api_route("/boom", explode)  # type: ignore[attr-defined]
    response = client.get("/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "alice@example.com" not in response.text
    assert "secret internals" not in response.text
    assert body["request_id"] in body["detail"]


def test_database_outage_is_503(settings: object, tmp_path: object) -> None:
    from coreo.app import create_app

    down = Database("postgresql+psycopg://coreo@127.0.0.1:1/nothing")
    with TestClient(create_app(settings, database=down)) as client:  # type: ignore[arg-type]
        ready = client.get("/readyz")
        protected = client.get(
            "/v1/whoami", headers={"Authorization": "Bearer coreo_sk_000000000000_" + "A" * 43}
        )
    body = assert_problem(ready, 503, "service-unavailable")
    assert "database" in body["detail"]
    assert ready.headers["retry-after"]
    assert_problem(protected, 503, "service-unavailable")


def test_request_id_is_echoed_when_safe(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32
