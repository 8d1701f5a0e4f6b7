"""The identity graph: links, merges, limits, shared devices, idempotency, event order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from coreo.auth import service as auth_service
from coreo.db import Database
from coreo.identity import service
from coreo.identity.identifiers import Identifier, identifiers_of
from coreo.identity.models import IdentityRulesRow, MergeRecord, RefusedMerge
from coreo.identity.stage import IdentityStage
from coreo.runtime.worker import Event
from tests.helpers import identity_graph, identity_row
from tests.identity.conftest import (
    DEVICES_LINK_KNOWN,
    T0,
    Feed,
    _ids,
    let_devices_link_known,
    message,
)


def graph(database: Database, workspace_id: str) -> dict[str, str]:
    return identity_graph(database, workspace_id)


def test_identifiers_are_read_from_the_places_segment_puts_them() -> None:
    found = identifiers_of(
        {
            "type": "identify",
            "userId": 42,
            "anonymousId": "a1",
            "traits": {"email": "anna@example.ch", "phone": "+41791234567"},
            "context": {
                "device": {"id": "dev-1"},
                "externalIds": [
                    {"id": "2990", "type": "loyalty_card"},
                    {"id": "1001", "type": "ERP Customer-No"},
                    {"id": "", "type": "crm"},
                ],
            },
        }
    )
    assert [str(i) for i in found] == [
        "anonymous_id:a1",
        "device_id:dev-1",
        "email:anna@example.ch",
        "erp_customer_no:1001",
        "loyalty_card:2990",
        "phone:+41791234567",
        "user_id:42",
    ]
    group = identifiers_of({"type": "group", "userId": "u", "traits": {"email": "org@x.ch"}})
    assert group == [Identifier("user_id", "u")]  # a group's traits describe the group


def test_a_login_links_the_cookie_and_later_events_land_on_the_same_profile(
    feed: Feed, database: Database, tenant: Any
) -> None:
    (first,) = feed(message(anonymousId="a1"))
    (second,) = feed(
        message("identify", 1, anonymousId="a1", userId="u1", traits={"email": "x@y.ch"})
    )
    (third,) = feed(message(at=2, context={"traits": {"email": "x@y.ch"}}, anonymousId="a9"))
    assert first == second == third
    assert set(graph(database, tenant.workspace_id)) == {
        "anonymous_id:a1",
        "user_id:u1",
        "email:x@y.ch",
        "anonymous_id:a9",
    }


def test_profiles_merge_into_the_older_one_with_a_recorded_reason(
    feed: Feed, database: Database, tenant: Any
) -> None:
    older, newer = feed(message(anonymousId="a1"), message(at=1, anonymousId="a2"))
    assert older != newer
    (merged,) = feed(message("identify", 2, userId="u1", anonymousId="a1"))
    (survivor,) = feed(message("identify", 3, userId="u1", anonymousId="a2"))
    assert merged == survivor == older and older and newer
    assert set(graph(database, tenant.workspace_id).values()) == {older}
    with database.transaction(write=False) as session:
        assert service.canonical_profile_id(session, tenant.workspace_id, newer) == older
        (record,) = session.scalars(select(MergeRecord)).all()
        assert (record.survivor_id, record.merged_id) == (older, newer)
        assert record.identities == [["anonymous_id", "a2"]]
        assert "anonymous_id:a2" in record.reason and record.message_id is not None


def test_two_known_people_on_one_device_stay_apart_and_the_device_becomes_shared(
    feed: Feed, database: Database, tenant: Any
) -> None:
    anna, ben = feed(
        message("identify", 0, userId="anna", anonymousId="tablet"),
        message("identify", 1, userId="ben", anonymousId="tablet"),
    )
    (later,) = feed(message(at=2, userId="anna", anonymousId="tablet"))
    assert anna != ben and later == anna
    with database.transaction(write=False) as session:
        device = identity_row(session, tenant.workspace_id, "anonymous_id", "tablet")
        users = [service.keyed(session, Identifier("user_id", u)).value for u in ("anna", "ben")]
        assert device is not None and device.shared and device.users == users  # by their keys
        (refusal,) = session.scalars(select(RefusedMerge)).all()
        assert "shared" in refusal.reason and refusal.identifier_type == "anonymous_id"


def test_a_guest_checkout_on_a_family_tablet_does_not_join_the_person_logged_in_there(
    feed: Feed, database: Database, tenant: Any
) -> None:
    anna, ben, checkout, later = feed(
        message("identify", 0, userId="anna", anonymousId="tablet"),
        message("identify", 1, anonymousId="nl-ben", traits={"email": "ben@x.ch"}),
        message(
            at=2, event="Order Completed", anonymousId="tablet", properties={"email": "ben@x.ch"}
        ),
        message(at=3, anonymousId="tablet"),
    )
    assert anna != ben and checkout == ben and later == anna
    with database.transaction(write=False) as session:
        device = identity_row(session, tenant.workspace_id, "anonymous_id", "tablet")
        assert device is not None and device.shared and device.profile_id == anna
        (refusal,) = session.scalars(select(RefusedMerge)).all()
    assert "no two known people" in refusal.reason and "shared" in refusal.reason
    assert sorted(refusal.profile_ids) == sorted([anna, ben])


def test_a_cookie_joins_the_person_first_seen_with_it(feed: Feed) -> None:
    """An address or a login new to the graph is taken to be the cookie's person."""
    checkout, login, browse = feed(
        message(event="Order Completed", anonymousId="c1", properties={"email": "a@x.ch"}),
        message("identify", 1, userId="anna", anonymousId="c1"),
        message(at=2, anonymousId="c1"),
    )
    assert checkout == login == browse


def test_rules_can_let_devices_link_known_people(
    feed: Feed, database: Database, tenant: Any
) -> None:
    let_devices_link_known(database, tenant.workspace_id)
    anna, ben, checkout = feed(
        message("identify", 0, userId="anna", anonymousId="tablet"),
        message("identify", 1, anonymousId="nl-ben", traits={"email": "ben@x.ch"}),
        message(
            at=2, event="Order Completed", anonymousId="tablet", properties={"email": "ben@x.ch"}
        ),
    )
    assert anna != ben and checkout == anna  # ben's profile merged into anna's


def test_a_merge_that_breaks_a_limit_is_refused_and_recorded(
    feed: Feed, database: Database, tenant: Any
) -> None:
    first, second = feed(
        message("identify", 0, userId="u1", traits={"email": "shared@family.ch"}),
        message("identify", 1, userId="u2", traits={"email": "shared@family.ch"}),
    )
    assert first != second
    with database.transaction(write=False) as session:
        (refusal,) = session.scalars(select(RefusedMerge)).all()
    assert refusal.reason == "email 'shared@family.ch': the profile would have 2 user_id (limit 1)"
    assert refusal.profile_ids == [first]


def test_per_workspace_limits_refuse_a_sixth_identifier(
    feed: Feed, database: Database, tenant: Any
) -> None:
    rules = {
        "types": {
            "user_id": {"priority": 1, "max_per_profile": 1},
            "email": {"priority": 2, "max_per_profile": 2},
        }
    }
    with database.transaction() as session:
        session.add(
            IdentityRulesRow(
                workspace_id=tenant.workspace_id, rules=rules, updated_at=T0, updated_by="test"
            )
        )
    feed(*(message("identify", n, userId="u", traits={"email": f"e{n}@x.ch"}) for n in range(3)))
    emails = [k for k in graph(database, tenant.workspace_id) if k.startswith("email:")]
    assert emails == ["email:e0@x.ch", "email:e1@x.ch"]
    with database.transaction(write=False) as session:
        (refusal,) = session.scalars(select(RefusedMerge)).all()
    assert refusal.reason == "email 'e2@x.ch': the profile would have 3 email (limit 2)"


def test_alias_links_the_previous_id(feed: Feed, database: Database, tenant: Any) -> None:
    (anonymous,) = feed(message(anonymousId="a1"))
    (aliased,) = feed(message("alias", 1, previousId="a1", userId="u1"))
    assert aliased == anonymous
    assert graph(database, tenant.workspace_id)["user_id:u1"] == anonymous


def test_processing_events_again_changes_nothing(
    feed: Feed, database: Database, tenant: Any
) -> None:
    batch = [
        message(anonymousId="a1"),
        message(at=1, anonymousId="a2"),
        message("identify", 2, userId="u1", anonymousId="a1", traits={"email": "e@x.ch"}),
        message("identify", 3, userId="u1", anonymousId="a2"),
    ]
    first = feed(*batch)
    before = graph(database, tenant.workspace_id)
    again = feed(*batch)
    assert graph(database, tenant.workspace_id) == before
    assert again == [first[0]] * 4
    with database.transaction(write=False) as session:
        assert len(session.scalars(select(MergeRecord)).all()) == 1


def test_events_without_identifiers_are_not_attributed(feed: Feed) -> None:
    assert feed(message(context={"traits": {"name": "x"}})) == [None]


# -- the order of events does not change an unambiguous graph --------------------------------


@st.composite
def people_and_events(draw: st.DrawFn) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """People with their own identifiers (no sharing, within every limit) and events that
    each carry some identifiers of one person."""
    people: list[list[str]] = []
    events: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, 4))):
        ids = [f"anonymous_id:a{p}-{n}" for n in range(draw(st.integers(1, 3)))]
        ids += [f"email:p{p}-{n}@x.ch" for n in range(draw(st.integers(0, 2)))]
        if draw(st.booleans()):
            ids.append(f"user_id:u{p}")
        people.append(ids)
        for _ in range(draw(st.integers(1, 5))):
            chosen = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
            fields: dict[str, Any] = {"traits": {}}
            for item in chosen:
                kind, value = item.split(":", 1)
                if kind == "anonymous_id":
                    fields.setdefault("context", {}).setdefault("externalIds", []).append(
                        {"type": "anonymous_id", "id": value}
                    )
                elif kind == "email":
                    fields["traits"]["email"] = value
                else:
                    fields["userId"] = value
            events.append(message("identify", len(events), **fields))
    return people, events


def _components(database: Database, workspace_id: str) -> set[frozenset[str]]:
    by_profile: dict[str, set[str]] = {}
    for key, profile in graph(database, workspace_id).items():
        by_profile.setdefault(profile, set()).add(key)
    return {frozenset(v) for v in by_profile.values()}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=people_and_events(), shuffle=st.randoms(use_true_random=False))
def test_event_order_does_not_change_the_graph(
    database: Database, tmp_path: Path, data: Any, shuffle: Any
) -> None:
    """With rules that leave nothing to judge. The default rules judge one case by what
    came first: a cookie-only event between two profiles that each hold a person's
    identifier keeps them apart (it may be a family tablet), while the same cookies seen
    together before either person was known link them. So devices may link known people
    here (``devices_link_known``)."""
    people, events = data
    results = []
    rules = DEVICES_LINK_KNOWN
    for order in (events, shuffle.sample(events, len(events))):
        with database.transaction() as session:
            ws = auth_service.create_workspace(session=session, slug=f"w{next(_ids)}", actor="test")
            service.put_rules(session, ws.id, rules, actor="test")
        stage_events = [Event(0, n, ws.id, dict(m)) for n, m in enumerate(order)]
        with database.transaction() as session:
            IdentityStage().process(session, stage_events)
        results.append(_components(database, ws.id))
    assert results[0] == results[1]
    # Each person's identifiers that appeared together are in one profile, never mixed.
    for component in results[0]:
        owners = {next(i for i, p in enumerate(people) if key in p) for key in component}
        assert len(owners) == 1


def test_a_refused_login_on_a_known_persons_cookie_makes_the_cookie_shared(
    feed: Feed, database: Database, tenant: Any
) -> None:
    """The cookie's own person is known by e-mail only; another known person logs in on it:
    the link is refused and the cookie is shared, so the first person's later login is not
    taken for the second person's device."""
    first, second = feed(
        message("identify", 0, anonymousId="tablet", traits={"email": "p@x.ch"}),
        message("identify", 1, userId="q", traits={"email": "q@x.ch"}),
    )
    (refused,) = feed(message("identify", 2, userId="q", anonymousId="tablet"))
    assert refused == second and first != second
    with database.transaction(write=False) as session:
        device = identity_row(session, tenant.workspace_id, "anonymous_id", "tablet")
        assert device is not None and device.shared and device.profile_id == first
