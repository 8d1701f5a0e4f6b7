"""Special categories of personal data (GDPR Art. 9; revDSG Art. 5(c)) are refused by
default: ingestion removes them before anything is stored and records what it removed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from coreo.db import Database
from coreo.ingest.models import PlanViolation
from coreo.ingest.normalize import NormaliseOptions, strip_special_categories
from coreo.privacy.datamap import SPECIAL_CATEGORY_FIELDS, is_special_category
from tests.conftest import Tenant
from tests.ingest.conftest import stored_events

CALLS = [
    {
        "type": "identify",
        "userId": "u1",
        "messageId": "special-1",
        "traits": {"email": "a@b.ch", "Religion": "x", "health_condition": "y"},
        "context": {"traits": {"sexual-orientation": "z"}},
    },
    {
        "type": "track",
        "userId": "u1",
        "messageId": "special-2",
        "event": "Order Completed",
        "properties": {"items": [{"sku": "A", "diagnosis": "d"}], "total": 3},
    },
]


def _violations(database: Database, ws: str) -> list[PlanViolation]:
    with database.transaction(write=False) as session:
        return list(
            session.scalars(
                select(PlanViolation)
                .where(PlanViolation.workspace_id == ws)
                .order_by(PlanViolation.message_id)
            )
        )


@pytest.mark.parametrize("allowed", [[], ["healthCondition"]])
def test_special_categories_never_reach_the_store(
    app_factory: Callable[..., TestClient],
    tenant: Tenant,
    database: Database,
    drain: Callable[[], None],
    allowed: list[str],
) -> None:
    with app_factory(worker_enabled=False, ingest_special_categories_allowed=allowed) as api:
        sent = api.post("/v1/batch", json={"batch": CALLS}, auth=(tenant.write_token, ""))
    assert sent.json()["accepted"] == 2
    drain()
    stored = {e["messageId"]: e for e in stored_events(database, tenant.workspace_id)}
    identify, order = stored["special-1"], stored["special-2"]
    kept = {"email"} | ({"health_condition"} if allowed else set())
    assert set(identify["traits"]) == kept  # (the e-mail is stored sealed)
    assert identify["traits"].get("health_condition") == ("y" if allowed else None)
    assert identify["context"]["traits"] == {}
    assert order["properties"] == {"items": [{"sku": "A"}], "total": 3}
    found = _violations(database, tenant.workspace_id)
    assert [(v.message_id, v.action) for v in found] == [
        ("special-1", "stripped"),
        ("special-2", "stripped"),
    ]
    reasons = " ".join(e for v in found for e in v.errors)
    assert "traits.Religion" in reasons and "properties.items[].diagnosis" in reasons
    assert ": x" not in reasons and "'d'" not in reasons  # names only, never the values


@given(
    st.sampled_from(SPECIAL_CATEGORY_FIELDS),
    st.sampled_from([str.upper, str.title, lambda s: s, lambda s: "_".join(s)]),
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), max_size=4),
)
def test_any_spelling_of_a_special_field_is_removed(
    name: str, spell: Callable[[str], str], other: dict[str, Any]
) -> None:
    field = spell(name)
    safe = {k: v for k, v in other.items() if not is_special_category(k)}
    message: dict[str, Any] = {"properties": {**safe, "nested": {field: 1}}, "traits": {field: 2}}
    removed = strip_special_categories(message, NormaliseOptions())
    assert sorted(removed) == sorted([f"properties.nested.{field}", f"traits.{field}"])
    assert message == {"properties": {**safe, "nested": {}}, "traits": {}}
