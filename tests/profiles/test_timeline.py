"""A profile's events: the most recent ones in the profile, and its paginated timeline
(including the events of profiles merged into it)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coreo.db import Database
from coreo.history.models import EventRecord
from coreo.identity.models import Profile
from coreo.web.cursors import encode_cursor
from tests.helpers import assert_problem
from tests.identity.conftest import T0, message


def pages(client: TestClient, tenant: Any, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every page of a timeline, following next_cursor; return all items in order."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params, headers=tenant.admin)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert len(body["items"]) == query.get("limit", 50)
    raise AssertionError("the timeline does not end")


def test_a_profile_shows_its_recent_events_including_merged_ones(
    client: TestClient, feed_pipeline: Any, tenant: Any
) -> None:
    older, newer = feed_pipeline(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    feed_pipeline(
        *(
            message(at=2 + n, anonymousId="a2", properties={"n": n}, event=f"E{n}")
            for n in range(12)
        )
    )
    feed_pipeline(message("identify", 20, userId="u1", anonymousId="a1", traits={"x": 1}))
    feed_pipeline(message("identify", 21, userId="u1", anonymousId="a2"))  # merges a2 in
    body = client.get(f"/v1/profiles/{older}", headers=tenant.admin).json()
    recent = body["recent_events"]
    assert len(recent) == 10
    assert [e["timestamp"] for e in recent] == sorted(
        (e["timestamp"] for e in recent), reverse=True
    )
    assert recent[0]["type"] == "identify" and recent[0]["profile_id"] == older
    assert recent[1]["properties"] == {"x": 1}  # an identify call shows its traits
    assert {"event": "E11", "properties": {"n": 11}, "profile_id": newer}.items() <= recent[
        2
    ].items()
    looked_up = client.get("/v1/profiles/lookup?user_id=u1", headers=tenant.admin).json()
    assert looked_up["recent_events"] == recent


def test_the_timeline_pages_newest_first_and_filters(
    client: TestClient, feed_pipeline: Any, tenant: Any
) -> None:
    (profile,) = feed_pipeline(message("identify", 0, userId="u1"))
    feed_pipeline(
        *(message(at=n, userId="u1", event="Viewed" if n % 3 else "Bought") for n in range(1, 8)),
        message("page", 8, userId="u1", name="Home"),
    )
    path = f"/v1/profiles/{profile}/timeline"
    everything = pages(client, tenant, path, limit=3)
    assert len(everything) == 9
    assert everything[0]["type"] == "page" and everything[0]["event"] == "Home"
    assert everything[-1]["type"] == "identify"
    stamps = [e["timestamp"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    bought = pages(client, tenant, path, event="Bought", type="track")
    assert [e["event"] for e in bought] == ["Bought", "Bought"]
    assert pages(client, tenant, path, type=["page", "identify"], limit=1)[0]["event"] == "Home"
    window = pages(
        client,
        tenant,
        path,
        since=(T0 + timedelta(minutes=2)).isoformat(),
        until=(T0 + timedelta(minutes=5)).isoformat(),
    )
    assert len(window) == 3  # [since, until)
    assert client.get(path, params={"limit": 0}, headers=tenant.admin).status_code == 422
    naive = client.get(path, params={"since": "2025-01-01T00:00:00"}, headers=tenant.admin)
    assert_problem(naive, 422, "validation-failed")


def test_pages_stay_stable_while_events_arrive(
    client: TestClient, feed_pipeline: Any, tenant: Any
) -> None:
    (profile,) = feed_pipeline(message(at=0, userId="u1"))
    feed_pipeline(*(message(at=n, userId="u1") for n in range(1, 6)))
    path = f"/v1/profiles/{profile}/timeline"
    first = client.get(path, params={"limit": 3}, headers=tenant.admin).json()
    feed_pipeline(message(at=10, userId="u1"), message(at=4, userId="u1"))  # newer, and within
    second = client.get(
        path, params={"limit": 3, "cursor": first["next_cursor"]}, headers=tenant.admin
    ).json()
    seen = [e["message_id"] for e in first["items"] + second["items"]]
    assert len(seen) == len(set(seen)) == 6
    assert second["next_cursor"] is None  # the older part is unchanged: three events left


def test_a_merged_id_redirects_unknown_ids_and_bad_cursors_are_problems(
    client: TestClient, feed_pipeline: Any, tenant: Any, make_tenant: Any
) -> None:
    older, newer = feed_pipeline(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    feed_pipeline(message(at=2, anonymousId="a1", userId="u1"))
    feed_pipeline(message(at=3, anonymousId="a2", userId="u1"))
    moved = client.get(
        f"/v1/profiles/{newer}/timeline?limit=2&type=track",
        headers=tenant.admin,
        follow_redirects=False,
    )
    assert moved.status_code == 308
    assert moved.headers["location"] == f"/v1/profiles/{older}/timeline?limit=2&type=track"
    assert len(pages(client, tenant, f"/v1/profiles/{older}/timeline")) == 4
    assert_problem(
        client.get("/v1/profiles/prof_nope/timeline", headers=tenant.admin), 404, "not-found"
    )
    other = make_tenant("other")
    assert_problem(
        client.get(f"/v1/profiles/{older}/timeline", headers=other.admin), 404, "not-found"
    )
    for cursor in (
        "garbage!",
        encode_cursor("search", "x", "y"),
        encode_cursor("timeline", "yesterday", "m1"),
        encode_cursor("timeline", "2025-01-01T00:00:00", "m1"),  # naive
    ):
        response = client.get(
            f"/v1/profiles/{older}/timeline", params={"cursor": cursor}, headers=tenant.admin
        )
        assert "cursor" in assert_problem(response, 400, "malformed-request")["detail"]


_serial = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stamps=st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=30),
    owners=st.lists(st.integers(min_value=0, max_value=2), min_size=30, max_size=30),
    limit=st.integers(min_value=1, max_value=8),
)
def test_pagination_returns_every_event_exactly_once(
    client: TestClient,
    database: Database,
    tenant: Any,
    stamps: list[int],
    owners: list[int],
    limit: int,
) -> None:
    """Whatever the page size, ties in time and merged profiles: each event once, in order."""
    run = next(_serial)
    ids = [f"prof_{run}_{n}" for n in range(3)]  # the first survives, two merged into it
    with database.transaction() as session:
        for n, profile_id in enumerate(ids):
            session.add(
                Profile(
                    id=profile_id,
                    workspace_id=tenant.workspace_id,
                    created_at=T0,
                    updated_at=T0,
                    merged_into=ids[0] if n else None,
                )
            )
        for n, minute in enumerate(stamps):
            at = T0 + timedelta(minutes=minute)
            session.add(
                EventRecord(
                    workspace_id=tenant.workspace_id,
                    message_id=f"r{run}-{n:02d}",
                    type="track",
                    event="Viewed",
                    profile_id=ids[owners[n]],
                    timestamp=at,
                    received_at=at,
                    payload=orjson.dumps({"messageId": f"r{run}-{n:02d}"}).decode(),
                )
            )
    items = pages(client, tenant, f"/v1/profiles/{ids[0]}/timeline", limit=limit)
    expected = sorted(
        ((T0 + timedelta(minutes=m), f"r{run}-{n:02d}") for n, m in enumerate(stamps)),
        reverse=True,
    )
    got = [(datetime.fromisoformat(e["timestamp"]).astimezone(UTC), e["message_id"]) for e in items]
    assert got == expected


@pytest.mark.parametrize("limit", [1, 500])
def test_limits_at_the_bounds(
    client: TestClient, feed_pipeline: Any, tenant: Any, limit: int
) -> None:
    (profile,) = feed_pipeline(message(userId="u1"))
    response = client.get(
        f"/v1/profiles/{profile}/timeline", params={"limit": limit}, headers=tenant.admin
    )
    assert response.status_code == 200
    assert response.json()["next_cursor"] is None
