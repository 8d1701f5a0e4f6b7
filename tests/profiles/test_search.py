"""GET /v1/profiles?trait=…&value=…: live profiles by a trait's value, exact or by prefix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coreo.db import Database
from coreo.profiles.models import ProfileTrait, search_key
from coreo.web.cursors import encode_cursor
from tests.helpers import assert_problem
from tests.identity.conftest import message


def search(client: TestClient, tenant: Any, **query: Any) -> list[str]:
    """Every hit's id over all pages."""
    found: list[str] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/profiles", params=params, headers=tenant.admin)
        assert response.status_code == 200, response.text
        found += [hit["id"] for hit in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


def person(user: str, at: int = 0, **traits: Any) -> dict[str, Any]:
    return message("identify", at, userId=user, traits=traits)


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("city", "Zürich", "Zürich"),
        ("email", " Anna@X.ch ", "anna@x.ch"),
        ("visits", 42, "42"),
        ("score", 4.5, "4.5"),
        ("newsletter", True, "true"),
        ("address", {"city": "Basel"}, None),
        ("tags", ["a"], None),
        ("bio", "x" * 201, None),
    ],
)
def test_search_keys(name: str, value: Any, key: str | None) -> None:
    assert search_key(name, value) == key


def test_exact_match_with_a_few_traits_each(
    client: TestClient, feed_pipeline: Any, tenant: Any
) -> None:
    anna, ben, _ = feed_pipeline(
        person("anna", city="Zürich", email="anna@x.ch", firstName="Anna"),
        person("ben", 1, city="Zürich", lastName="Meier", visits=42),
        person("cleo", 2, city="zürich"),
    )
    response = client.get(
        "/v1/profiles", params={"trait": "city", "value": "Zürich"}, headers=tenant.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    assert {hit["id"]: hit["traits"] for hit in body["items"]} == {
        anna: {"city": "Zürich", "email": "anna@x.ch", "firstName": "Anna"},
        ben: {"city": "Zürich", "lastName": "Meier"},
    }
    assert search(client, tenant, trait="visits", value="42") == [ben]
    assert search(client, tenant, trait="city", value="Zurich") == []
    assert search(client, tenant, trait="nothing", value="Zürich") == []


def test_email_is_compared_trimmed_and_lower_case(
    client: TestClient, feed_pipeline: Any, tenant: Any
) -> None:
    (anna,) = feed_pipeline(person("anna", email="Anna@X.ch"))  # as a file import might send it
    assert search(client, tenant, trait="email", value=" ANNA@x.CH") == [anna]
    # Sealed with the person's key: found by a keyed hash of the exact value, no prefix.
    refused = client.get(
        "/v1/profiles",
        params={"trait": "email", "value": "anna@", "prefix": "true"},
        headers=tenant.admin,
    )
    assert "exact value" in assert_problem(refused, 422, "validation-failed")["detail"]


def test_prefix_search_pages_through_every_hit_once(
    client: TestClient, feed_pipeline: Any, tenant: Any, database: Database
) -> None:
    names = ["Zug", "Zürich", "Zürichberg", "Zuoz", "Zweisimmen", "Basel", "Zü", "Z"]
    profiles = feed_pipeline(*(person(f"u{n}", n, city=c) for n, c in enumerate(names)))
    by_city = dict(zip(profiles, names, strict=True))
    hits = search(client, tenant, trait="city", value="Zü", prefix="true", limit=1)
    assert sorted(by_city[h] for h in hits) == ["Zü", "Zürich", "Zürichberg"]
    assert len(hits) == len(set(hits))
    everything = search(client, tenant, trait="city", value="Z", prefix="true", limit=2)
    assert sorted(by_city[h] for h in everything) == sorted(n for n in names if n != "Basel")
    with database.transaction(write=False) as session:
        stored = session.scalars(select(ProfileTrait.search_value)).all()
    assert "Zürich" in stored


def test_only_live_profiles_are_found(client: TestClient, feed_pipeline: Any, tenant: Any) -> None:
    older, newer = feed_pipeline(
        message(anonymousId="a1", context={"traits": {"city": "Bern"}}),
        message(at=1, anonymousId="a2", context={"traits": {"city": "Bern"}}),
    )
    assert sorted(search(client, tenant, trait="city", value="Bern")) == sorted([older, newer])
    feed_pipeline(message(at=2, anonymousId="a1", userId="u1"))
    feed_pipeline(message(at=3, anonymousId="a2", userId="u1"))  # newer merges into older
    assert search(client, tenant, trait="city", value="Bern") == [older]


def test_search_errors(
    client: TestClient, feed_pipeline: Any, tenant: Any, make_tenant: Any
) -> None:
    feed_pipeline(person("anna", city="Zürich"))
    other = make_tenant("other")
    assert search(client, other, trait="city", value="Zürich") == []
    for query in ({}, {"trait": "city"}, {"value": "x"}, {"trait": "city", "value": ""}):
        response = client.get("/v1/profiles", params=query, headers=tenant.admin)
        assert_problem(response, 422, "validation-failed")
    for cursor in ("%%%", encode_cursor("timeline", "2025-01-01T00:00:00+00:00", "m1")):
        response = client.get(
            "/v1/profiles",
            params={"trait": "city", "value": "Zürich", "cursor": cursor},
            headers=tenant.admin,
        )
        assert_problem(response, 400, "malformed-request")
    write_only = client.get(
        "/v1/profiles?trait=city&value=x", headers=tenant.bearer(tenant.write_token)
    )
    assert_problem(write_only, 403, "forbidden")
