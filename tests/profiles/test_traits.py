"""Traits with provenance and survivorship, across merges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from coreo.db import Database
from coreo.profiles.models import ProfileTrait
from coreo.profiles.traits import DEFAULT_SCHEMA, TraitRule, wins
from tests.identity.conftest import message

Feed = Callable[..., list[str | None]]


def traits(database: Database, profile_id: str | None) -> dict[str, tuple[Any, str]]:
    with database.transaction(write=False) as session:
        rows = session.scalars(select(ProfileTrait).where(ProfileTrait.profile_id == profile_id))
        return {r.name: (r.value, r.source) for r in rows}


def imported(source: str, **fields: Any) -> dict[str, Any]:
    context = {"import": {"source": source, "job": "imp_x", "row": 1}}
    return {**fields, "context": {**fields.get("context", {}), **context}}


def test_the_latest_value_wins_and_provenance_is_kept(
    feed_profiles: Feed, database: Database
) -> None:
    (profile, _, _) = feed_profiles(
        message("identify", 0, userId="u1", traits={"plan": "basic", "createdAt": "2020"}),
        message("identify", 5, userId="u1", traits={"plan": "premium", "createdAt": "2024"}),
        message("identify", 2, userId="u1", traits={"plan": "trial"}),  # arrives late
    )
    kept = traits(database, profile)
    assert kept["plan"] == ("premium", "events")
    assert kept["createdAt"] == ("2020", "events")  # first_seen


def test_the_erp_outranks_the_web_shop_for_master_data(
    feed_profiles: Feed, database: Database
) -> None:
    (profile, _) = feed_profiles(
        message(**imported("erp", type="identify", userId="u1", traits={"firstName": "Anna"})),
        message("identify", 9, userId="u1", traits={"firstName": "anna99", "email": "a@x.ch"}),
    )
    kept = traits(database, profile)
    assert kept["firstName"] == ("Anna", "erp")
    assert kept["email"] == ("a@x.ch", "events")


def test_a_merge_folds_traits_into_the_survivor(feed_profiles: Feed, database: Database) -> None:
    first, second = feed_profiles(
        message("identify", 0, anonymousId="a1", traits={"plan": "basic", "city": "Bern"}),
        message("identify", 1, anonymousId="a2", traits={"plan": "premium"}),
    )
    (survivor,) = feed_profiles(message("identify", 2, userId="u1", anonymousId="a1"))
    (again,) = feed_profiles(message("identify", 3, userId="u1", anonymousId="a2"))
    assert survivor == again == first != second
    assert traits(database, first) == {"plan": ("premium", "events"), "city": ("Bern", "events")}
    assert traits(database, second) == {}


def test_traits_follow_a_merge_within_the_same_batch(
    feed_profiles: Feed, database: Database
) -> None:
    first, second, _ = feed_profiles(
        message("identify", 0, anonymousId="a1", traits={"a": 1}),
        message("identify", 1, anonymousId="a2", traits={"b": 2}),
        message(
            "identify",
            2,
            userId="u1",
            anonymousId="a1",
            context={"externalIds": [{"type": "anonymous_id", "id": "a2"}]},
        ),
    )
    assert traits(database, first) == {"a": (1, "events"), "b": (2, "events")}
    assert traits(database, second) == {}


def test_the_same_events_again_change_nothing(feed_profiles: Feed, database: Database) -> None:
    batch = [
        message("identify", 0, userId="u1", traits={"plan": "basic"}),
        message("identify", 1, userId="u1", traits={"plan": "premium"}),
    ]
    (profile, _) = feed_profiles(*batch)
    before = traits(database, profile)
    feed_profiles(*reversed(batch))
    assert traits(database, profile) == before == {"plan": ("premium", "events")}


def test_personal_data_is_marked_in_the_schema() -> None:
    assert DEFAULT_SCHEMA.rule("email").personal
    assert DEFAULT_SCHEMA.rule("address.city").personal  # nested under a personal trait
    assert not DEFAULT_SCHEMA.rule("plan").personal


_T0 = datetime(2025, 1, 1, tzinfo=UTC)
observations = st.lists(
    st.tuples(st.sampled_from(["erp", "crm", "events", "pos"]), st.integers(0, 10_000)),
    min_size=1,
    max_size=8,
    unique_by=lambda o: o[1],
)


@given(observations, st.sampled_from(["most_recent", "first_seen", "most_trusted"]), st.randoms())
def test_survivorship_does_not_depend_on_arrival_order(
    seen: list[tuple[str, int]], rule_name: str, rnd: Any
) -> None:
    rule = TraitRule(survivorship=rule_name, sources=["erp", "crm"])

    def fold(order: list[tuple[str, int]]) -> tuple[str, int]:
        kept = order[0]
        for source, minute in order[1:]:
            if wins(
                rule,
                new_source=source,
                new_at=_T0 + timedelta(minutes=minute),
                old_source=kept[0],
                old_at=_T0 + timedelta(minutes=kept[1]),
            ):
                kept = (source, minute)
        return kept

    assert fold(seen) == fold(rnd.sample(seen, len(seen)))
