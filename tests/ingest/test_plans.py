"""Tracking plans per source: off, warn (kept and recorded), block (dead-lettered, replayable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from coreo.db import Database
from tests.conftest import Tenant
from tests.helpers import assert_problem, key_prefix
from tests.ingest.conftest import stored_events

ORDER_SCHEMA = {
    "type": "object",
    "required": ["order_id", "revenue"],
    "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number", "minimum": 0}},
}


def _plan(mode: str, **extra: Any) -> dict[str, Any]:
    return {"mode": mode, "events": {"Order Completed": ORDER_SCHEMA}} | extra


def _track(event: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": event, "properties": properties}


def test_warn_keeps_events_and_records_violations_per_event_name(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    source = key_prefix(tenant.write_token)
    put = ingest_client.put(
        f"/v1/tracking-plans/{source}", headers=tenant.admin, json=_plan("warn")
    )
    assert put.status_code == 200 and put.json()["version"] == 1
    batch = [
        _track("Order Completed", order_id="A-1", revenue=10),
        _track("Order Completed", order_id="A-2", revenue=-5),
        _track("Order Completed", revenue=3),
        _track("Coupon Applied", code="X"),
    ]
    result = ingest_client.post(
        "/v1/batch", json={"batch": batch}, auth=(tenant.write_token, "")
    ).json()
    assert result["accepted"] == 4 and result["rejected"] == []
    drain()
    assert len(stored_events(database, tenant.workspace_id)) == 4
    summary = ingest_client.get(
        f"/v1/tracking-plans/{source}/violations/summary", headers=tenant.admin
    ).json()["items"]
    assert [(i["event_name"], i["violations"]) for i in summary] == [
        ("Order Completed", 2),
        ("Coupon Applied", 1),
    ]
    orders = ingest_client.get(
        f"/v1/tracking-plans/{source}/violations",
        headers=tenant.admin,
        params={"event": "Order Completed"},
    ).json()["items"]
    reasons = " | ".join(e for v in orders for e in v["errors"])
    assert "revenue" in reasons and "minimum" in reasons and "'order_id' is a required" in reasons
    assert {v["action"] for v in orders} == {"kept"}


def test_block_dead_letters_and_a_fixed_plan_lets_the_replay_through(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    source = key_prefix(tenant.write_token)
    ingest_client.put(f"/v1/tracking-plans/{source}", headers=tenant.admin, json=_plan("block"))
    auth = (tenant.write_token, "")
    single = ingest_client.post("/v1/track", json=_track("Coupon Applied", code="X"), auth=auth)
    body = assert_problem(single, 422, "validation-failed")
    assert "not in the plan" in body["detail"]
    good = ingest_client.post(
        "/v1/track", json=_track("Order Completed", order_id="A", revenue=1), auth=auth
    )
    assert good.status_code == 200
    letters = ingest_client.get(
        "/v1/dead-letters", headers=tenant.admin, params={"stage": "tracking_plan"}
    ).json()["items"]
    assert [x["event_name"] for x in letters] == ["Coupon Applied"]
    # Still refused while the plan is unchanged ...
    again = ingest_client.post("/v1/dead-letters/replay", headers=tenant.admin, json={}).json()
    assert again["replayed"] == []
    # ... accepted once the event is planned.
    fixed = _plan("block", events={"Order Completed": ORDER_SCHEMA, "Coupon Applied": {}})
    assert (
        ingest_client.put(f"/v1/tracking-plans/{source}", headers=tenant.admin, json=fixed).json()[
            "version"
        ]
        == 2
    )
    replay = ingest_client.post("/v1/dead-letters/replay", headers=tenant.admin, json={}).json()
    assert len(replay["replayed"]) == 1
    drain()
    names = sorted(e["event"] for e in stored_events(database, tenant.workspace_id))
    assert names == ["Coupon Applied", "Order Completed"]


def test_traits_schema_and_off_mode(
    ingest_client: TestClient, tenant: Tenant, drain: Callable[[], None]
) -> None:
    source = key_prefix(tenant.write_token)
    traits = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}},
              "required": ["email"]}  # fmt: skip
    ingest_client.put(
        f"/v1/tracking-plans/{source}",
        headers=tenant.admin,
        json=_plan("block", traits=traits, allow_unplanned=True),
    )
    auth = (tenant.write_token, "")
    identify = {"userId": "u1", "traits": {"name": "no email"}}
    assert ingest_client.post("/v1/identify", json=identify, auth=auth).status_code == 422
    assert ingest_client.post("/v1/track", json=_track("Anything"), auth=auth).status_code == 200
    ingest_client.put(f"/v1/tracking-plans/{source}", headers=tenant.admin, json=_plan("off"))
    assert ingest_client.post("/v1/identify", json=identify, auth=auth).status_code == 200
    assert (
        ingest_client.delete(f"/v1/tracking-plans/{source}", headers=tenant.admin).status_code
        == 204
    )
    assert_problem(
        ingest_client.get(f"/v1/tracking-plans/{source}", headers=tenant.admin), 404, "not-found"
    )


def test_invalid_schemas_and_unknown_keys_are_refused(
    ingest_client: TestClient, tenant: Tenant
) -> None:
    source = key_prefix(tenant.write_token)
    bad = {"mode": "warn", "events": {"E": {"type": "no-such-type"}}}
    body = assert_problem(
        ingest_client.put(f"/v1/tracking-plans/{source}", headers=tenant.admin, json=bad),
        422,
        "validation-failed",
    )
    assert "events.E is not a valid JSON Schema" in body["detail"]
    assert_problem(
        ingest_client.put(
            "/v1/tracking-plans/coreo_wk_nosuchkey00", headers=tenant.admin, json=_plan("warn")
        ),
        404,
        "not-found",
    )
    assert_problem(
        ingest_client.put(
            f"/v1/tracking-plans/{source}", auth=(tenant.write_token, ""), json=_plan("warn")
        ),
        403,
        "forbidden",
    )
