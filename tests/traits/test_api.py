"""/v1/computed-traits: define, back-fill with progress, change, delete, read as of a time."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from tests.traits.test_pipeline import NOW, Feed, feed, order

__all__ = ["feed"]

REVENUE = {"function": "sum", "event": "Order Completed", "property": "properties.total"}


def wait_for(client: TestClient, tenant: Any, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        job = client.get(f"/v1/computed-traits/backfills/{job_id}", headers=tenant.admin)
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("completed", "failed"):
            return dict(job.json())
        time.sleep(0.05)
    raise AssertionError("the back-fill did not end")


def test_define_back_fill_and_read(client: TestClient, feed: Feed, tenant: Any) -> None:
    (anna, _) = feed(order("anna", 3, 40, "web"), order("anna", 1, 2.5, "app"))
    created = client.put("/v1/computed-traits/revenue", json=REVENUE, headers=tenant.admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["trait"]["status"] == "backfilling" and body["trait"]["version"] == 1
    job = wait_for(client, tenant, body["backfill"]["id"])
    assert (job["status"], job["events_read"], job["profiles_written"]) == ("completed", 2, 1)
    listed = client.get("/v1/computed-traits", headers=tenant.admin).json()["items"]
    assert [(t["name"], t["status"]) for t in listed] == [("revenue", "ready")]
    unchanged = client.put("/v1/computed-traits/revenue", json=REVENUE, headers=tenant.admin)
    assert unchanged.status_code == 200 and unchanged.json()["backfill"] is None
    as_of = client.post(
        "/v1/computed-traits/as-of",
        json={"profile_ids": [anna, "prf_unknown"], "at": (NOW.replace(day=29)).isoformat()},
        headers=tenant.admin,
    )
    assert as_of.status_code == 200, as_of.text
    assert as_of.json()["profiles"] == {anna: {"revenue": 40.0}}
    changed = client.put(
        "/v1/computed-traits/revenue", json={**REVENUE, "window": "1d"}, headers=tenant.admin
    )
    assert changed.json()["trait"]["version"] == 2
    wait_for(client, tenant, changed.json()["backfill"]["id"])


def test_bad_definitions_are_refused_with_the_reason(client: TestClient, tenant: Any) -> None:
    cases = [
        ({"function": "sum", "event": "x"}, "give property"),
        ({"function": "count", "window": "31days"}, "window"),
        ({"function": "count", "where": [{"path": "a..b", "op": "eq", "value": 1}]}, "path"),
        ({"function": "count", "where": [{"path": "a", "op": "gt", "value": "x"}]}, "number"),
        ({"function": "rfm", "recency": "r", "frequency": "f", "monetary": "m"}, "no computed"),
        ({"function": "median"}, "function"),
        ({"name": "other", "function": "count"}, "differs"),
    ]
    for body, reason in cases:
        refused = client.put("/v1/computed-traits/t", json=body, headers=tenant.admin)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert reason in refused.json()["detail"], (body, refused.json())
    assert (
        client.put("/v1/computed-traits/Bad-Name", json={}, headers=tenant.admin).status_code == 422
    )
    assert client.get("/v1/computed-traits/nope", headers=tenant.admin).status_code == 404
    assert client.delete("/v1/computed-traits/nope", headers=tenant.admin).status_code == 404


def test_a_trait_combined_by_another_cannot_be_deleted(client: TestClient, tenant: Any) -> None:
    for name, body in {
        "r": {"function": "recency"},
        "f": {"function": "count"},
        "m": REVENUE,
        "score": {"function": "rfm", "recency": "r", "frequency": "f", "monetary": "m"},
    }.items():
        put = client.put(f"/v1/computed-traits/{name}", json=body, headers=tenant.admin)
        assert put.status_code == 201, put.text
        wait_for(client, tenant, put.json()["backfill"]["id"])
    refused = client.delete("/v1/computed-traits/m", headers=tenant.admin)
    assert refused.status_code == 409 and "score" in refused.json()["detail"]
    assert client.delete("/v1/computed-traits/score", headers=tenant.admin).status_code == 204
    assert client.delete("/v1/computed-traits/m", headers=tenant.admin).status_code == 204


def test_reading_needs_a_key_with_the_profiles_scope(client: TestClient, tenant: Any) -> None:
    write_key = tenant.bearer(tenant.write_token)
    assert client.get("/v1/computed-traits", headers=write_key).status_code in (401, 403)


def test_a_profile_shows_its_computed_traits(client: TestClient, feed: Feed, tenant: Any) -> None:
    put = client.put("/v1/computed-traits/revenue", json=REVENUE, headers=tenant.admin)
    wait_for(client, tenant, put.json()["backfill"]["id"])
    (anna,) = feed(order("anna", 1, 12.5, "web"))
    shown = client.get(f"/v1/profiles/{anna}", headers=tenant.admin)
    assert shown.status_code == 200, shown.text
    assert shown.json()["computed_traits"] == {"revenue": 12.5}
