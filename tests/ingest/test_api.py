"""The Segment-compatible ingestion API, end to end: HTTP → log → worker → history."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from fastapi.testclient import TestClient

from coreo.db import Database
from tests.conftest import Tenant
from tests.helpers import assert_problem
from tests.ingest.conftest import dead_letters, stored_events


def _track(**extra: object) -> dict[str, object]:
    return {"userId": "u-1", "event": "Order Completed", "properties": {"revenue": 12.5}} | extra


def test_track_with_write_key_as_basic_user_is_stored(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    response = ingest_client.post("/v1/track", json=_track(), auth=(tenant.write_token, ""))
    assert response.status_code == 200 and response.json() == {"success": True}
    drain()
    [event] = stored_events(database, tenant.workspace_id)
    assert event["event"] == "Order Completed" and event["userId"] == "u-1"
    assert event["type"] == "track" and event["messageId"] and event["receivedAt"]


def test_write_key_in_the_body_and_gzip(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    body = gzip.compress(orjson.dumps(_track(writeKey=tenant.write_token, messageId="m-gz")))
    response = ingest_client.post(
        "/v1/track",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    drain()
    [event] = stored_events(database, tenant.workspace_id)
    assert event["messageId"] == "m-gz" and "writeKey" not in event


def test_every_call_type_and_batch(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    auth = (tenant.write_token, "")
    calls = {
        "identify": {"userId": "u-2", "traits": {"email": "  Anna.Meier@Bluewin.CH "}},
        "page": {"anonymousId": "a-1", "name": "Home"},
        "screen": {"userId": "u-2", "name": "Cart"},
        "group": {"userId": "u-2", "groupId": 42, "traits": {"name": "Acme AG"}},
        "alias": {"previousId": "a-1", "userId": "u-2"},
    }
    for call, body in calls.items():
        assert ingest_client.post(f"/v1/{call}", json=body, auth=auth).status_code == 200, call
    batch = {"batch": [_track(type="track", messageId=f"b{i}") for i in range(3)]}
    response = ingest_client.post("/v1/batch", json=batch, auth=auth)
    assert response.json() == {"success": True, "accepted": 3, "duplicates": 0, "rejected": []}
    assert (
        ingest_client.post(
            "/v1/import", json={"batch": [_track(type="track")]}, auth=auth
        ).status_code
        == 200
    )
    drain()
    events = stored_events(database, tenant.workspace_id)
    assert sorted(e["type"] for e in events) == sorted([*calls, "track", "track", "track", "track"])
    identify = next(e for e in events if e["type"] == "identify")
    assert identify["traits"]["email"] == "anna.meier@bluewin.ch"
    group = next(e for e in events if e["type"] == "group")
    assert group["groupId"] == "42"


def test_invalid_messages_are_dead_lettered_not_lost(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    auth = (tenant.write_token, "")
    single = ingest_client.post("/v1/track", json={"userId": "u-1"}, auth=auth)
    body = assert_problem(single, 422, "validation-failed")
    assert "event" in body["detail"] and "dead letter dl_" in body["detail"]
    batch = {
        "batch": [
            _track(type="track"),
            {"type": "track", "event": "No Identity"},
            {"type": "bogus", "userId": "x"},
            "not an object",
            _track(type="track", timestamp="yesterday"),
        ]
    }
    response = ingest_client.post("/v1/batch", json=batch, auth=auth)
    result = response.json()
    assert response.status_code == 200 and result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1, 2, 3, 4]
    assert "userId" in result["rejected"][0]["reason"]
    assert "timestamp" in result["rejected"][3]["reason"]
    letters = dead_letters(database, tenant.workspace_id)
    assert len(letters) == 5 and {d.stage for d in letters} == {"validation"}
    assert {r["deadLetterId"] for r in result["rejected"]} <= {d.id for d in letters}
    assert any('"No Identity"' in d.payload for d in letters)
    drain()
    assert len(stored_events(database, tenant.workspace_id)) == 1


def test_retried_batches_are_acknowledged_but_kept_once(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    auth = (tenant.write_token, "")
    batch = {"batch": [_track(type="track", messageId=f"retry-{i}") for i in range(20)]}
    first = ingest_client.post("/v1/batch", json=batch, auth=auth).json()
    second = ingest_client.post("/v1/batch", json=batch, auth=auth).json()
    assert (first["accepted"], second["accepted"], second["duplicates"]) == (20, 0, 20)
    same_request = {"batch": [_track(type="track", messageId="twice")] * 2}
    assert ingest_client.post("/v1/batch", json=same_request, auth=auth).json()["duplicates"] == 1
    drain()
    assert len(stored_events(database, tenant.workspace_id)) == 21


def test_message_ids_are_per_workspace(
    ingest_client: TestClient,
    make_tenant: Callable[[str], Tenant],
    database: Database,
    drain: Callable[[], None],
) -> None:
    a, b = make_tenant("alpha"), make_tenant("beta")
    for t in (a, b):
        assert (
            ingest_client.post(
                "/v1/track", json=_track(messageId="shared"), auth=(t.write_token, "")
            ).status_code
            == 200
        )
    drain()
    assert len(stored_events(database, a.workspace_id)) == 1
    assert len(stored_events(database, b.workspace_id)) == 1


def test_clock_skew_is_corrected_from_sent_at(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    now = datetime.now(UTC)
    skew = timedelta(hours=2)  # the device clock runs two hours fast
    happened = now - timedelta(minutes=5)
    body = _track(
        timestamp=(happened + skew).isoformat(), sentAt=(now + skew).isoformat(), messageId="skew"
    )
    assert (
        ingest_client.post("/v1/track", json=body, auth=(tenant.write_token, "")).status_code == 200
    )
    drain()
    [event] = stored_events(database, tenant.workspace_id)
    corrected = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    assert abs(corrected - happened) < timedelta(seconds=5)
    assert event["originalTimestamp"] == body["timestamp"]


def test_enrichment_phone_user_agent_locale(
    ingest_client: TestClient, tenant: Tenant, database: Database, drain: Callable[[], None]
) -> None:
    body = {
        "userId": "u-9",
        "traits": {"phone": "079 123 45 67", "email": "X@Y.CH"},
        "context": {
            "locale": "fr_ch",
            "userAgent": (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
            ),
        },
    }
    assert (
        ingest_client.post("/v1/identify", json=body, auth=(tenant.write_token, "")).status_code
        == 200
    )
    drain()
    [event] = stored_events(database, tenant.workspace_id)
    assert event["traits"] == {"phone": "+41791234567", "email": "x@y.ch"}
    assert event["context"]["locale"] == "fr-CH"
    assert event["context"]["userAgentParsed"]["os"] == "iOS"


def test_auth_and_scope_errors(ingest_client: TestClient, tenant: Tenant) -> None:
    assert_problem(ingest_client.post("/v1/track", json=_track()), 401, "unauthenticated")
    assert_problem(
        ingest_client.post("/v1/track", json=_track(), auth=("coreo_wk_bogus", "")),
        401,
        "unauthenticated",
    )
    created = ingest_client.post(
        "/v1/keys", headers=tenant.admin, json={"name": "reader", "scopes": ["profiles:read"]}
    ).json()
    assert_problem(
        ingest_client.post("/v1/track", json=_track(), headers=tenant.bearer(created["token"])),
        403,
        "forbidden",
    )


def test_malformed_and_oversized_bodies(
    app_factory: Callable[..., TestClient], tenant: Tenant
) -> None:
    auth = (tenant.write_token, "")
    with app_factory(
        worker_enabled=False, ingest_max_message_bytes=2048, ingest_max_batch_bytes=8192
    ) as client:
        headers = {"Content-Type": "application/json"}
        assert_problem(
            client.post("/v1/track", content=b"{nope", headers=headers, auth=auth),
            400,
            "malformed-request",
        )
        assert_problem(
            client.post("/v1/track", content=b"[1]", headers=headers, auth=auth),
            400,
            "malformed-request",
        )
        assert_problem(
            client.post(
                "/v1/track",
                content=b"xx",
                headers={**headers, "Content-Encoding": "gzip"},
                auth=auth,
            ),
            400,
            "malformed-request",
        )
        big = _track(properties={"blob": "x" * 5000})
        assert_problem(client.post("/v1/track", json=big, auth=auth), 413, "payload-too-large")
        bomb = gzip.compress(orjson.dumps({"batch": [_track(type="track", p="y" * 20_000)]}))
        assert_problem(
            client.post(
                "/v1/batch",
                content=bomb,
                headers={**headers, "Content-Encoding": "gzip"},
                auth=auth,
            ),
            413,
            "payload-too-large",
        )
        in_batch = client.post(
            "/v1/batch", json={"batch": [_track(type="track", p="z" * 3000)]}, auth=auth
        )
        assert in_batch.status_code == 200 and "2048" in in_batch.json()["rejected"][0]["reason"]
        assert_problem(
            client.post("/v1/batch", json={"batch": []}, auth=auth), 422, "validation-failed"
        )


def test_back_pressure_refuses_when_processing_is_behind(
    app_factory: Callable[..., TestClient], tenant: Tenant, drain: Callable[[], None]
) -> None:
    auth = (tenant.write_token, "")
    batch = {"batch": [_track(type="track", messageId=f"bp-{i}") for i in range(5)]}
    with app_factory(worker_enabled=False, ingest_max_lag=3) as client:
        state = client.app.state.runtime  # type: ignore[attr-defined]
        assert client.post("/v1/batch", json=batch, auth=auth).status_code == 200
        state.lag_measured_at = float("-inf")  # measure now, not a second later
        refused = client.post("/v1/track", json=_track(), auth=auth)
        body = assert_problem(refused, 503, "service-unavailable")
        assert refused.headers["retry-after"] == "5" and "5 events behind" in body["detail"]
        drain()
        state.lag_measured_at = float("-inf")
        assert client.post("/v1/track", json=_track(), auth=auth).status_code == 200


def test_pipeline_metrics_are_exported(
    app_factory: Callable[..., TestClient], tenant: Tenant
) -> None:
    import time

    with app_factory(worker_enabled=True) as client:
        auth = (tenant.write_token, "")
        assert (
            client.post(
                "/v1/batch", json={"batch": [_track(type="track"), {"type": "track"}]}, auth=auth
            ).status_code
            == 200
        )
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            text = client.get("/metrics").text
            if 'coreo_stage_events_total{outcome="ok",stage="history"} 1.0' in text:
                break
            time.sleep(0.1)
    assert 'coreo_stage_events_total{outcome="ok",stage="history"} 1.0' in text
    assert 'coreo_ingest_events_total{outcome="accepted"} 1.0' in text
    assert 'coreo_ingest_events_total{outcome="rejected"} 1.0' in text
    assert "coreo_consumer_lag{partition=" in text
    assert "coreo_event_processing_delay_seconds_count 1.0" in text
