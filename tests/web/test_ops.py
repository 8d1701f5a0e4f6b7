"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from coreo import __version__
from tests.conftest import Tenant


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_readyz_reports_each_check(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "event_log": "ok", "rate_limit_store": "ok"},
    }


def test_metrics_count_by_route_template(client: TestClient, tenant: Tenant) -> None:
    client.get("/v1/keys/key_aaaa", headers=tenant.admin)
    client.get("/v1/keys/key_bbbb", headers=tenant.admin)
    client.get("/no/such/path")
    client.get("/openapi.json")
    text = client.get("/metrics").text
    assert 'coreo_http_requests_total{method="GET",route="/openapi.json",status="200"} 1.0' in text
    assert (
        'coreo_http_requests_total{method="GET",route="/v1/keys/{key_id}",status="404"} 2.0' in text
    )
    assert 'coreo_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "key_aaaa" not in text
    assert (
        'coreo_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/keys/{key_id}"}'
        in text
    )


def test_openapi_documents_problems(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    create = schema["paths"]["/v1/keys"]["post"]
    for status in ("400", "401", "403", "413", "415", "422", "429", "500"):
        content = create["responses"][status]["content"]
        assert list(content) == ["application/problem+json"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert {"HTTPBearer", "HTTPBasic"} <= schema["components"]["securitySchemes"].keys()


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
