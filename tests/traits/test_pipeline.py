"""Computed traits in the pipeline, in back-fills and as of a past time, on SQLite and
PostgreSQL."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from coreo.config import Settings
from coreo.db import Database
from coreo.errors import ConfigurationError
from coreo.history.models import EventRecord
from coreo.history.stage import HistoryStage
from coreo.identity.service import MergesHook
from coreo.identity.stage import IdentityStage
from coreo.privacy import crypto
from coreo.privacy.sealing import seal_stored
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.pipeline import merge_hooks
from coreo.runtime.worker import Event
from coreo.traits import service
from coreo.traits.backfill import needs_opening, run_backfill, start_backfill
from coreo.traits.definitions import load_yaml
from coreo.traits.models import TraitDefinitionRow, TraitDirty, TraitValue
from coreo.traits.stage import ComputedTraitsStage

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
_ids = itertools.count()

TRAITS = load_yaml(
    """
traits:
  - {name: orders_30d, function: count, event: Order Completed, window: 30d}
  - {name: revenue, function: sum, event: Order Completed, property: properties.total}
  - {name: avg_order, function: avg, event: Order Completed, property: properties.total}
  - {name: first_channel, function: first, property: properties.channel}
  - {name: favourite_channel, function: most_frequent, property: properties.channel}
  - {name: days_since_order, function: recency, event: Order Completed}
  - name: web_orders
    function: count
    event: Order Completed
    where: [{path: properties.channel, op: eq, value: web}]
  - name: rfm
    function: rfm
    recency: days_since_order
    frequency: orders_30d
    monetary: revenue
"""
)


def order(user: str, days_ago: float, total: float, channel: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": f"o{next(_ids)}",
        "timestamp": (NOW - timedelta(days=days_ago)).isoformat(),
        "receivedAt": NOW.isoformat(),
        "properties": {"total": total, "channel": channel},
        **extra,
    }


Feed = Callable[..., list[str]]


@pytest.fixture
def feed(database: Database, tenant: Any) -> Feed:
    """Run messages through the pipeline's stages, one batch, with the clock at NOW."""
    computed = ComputedTraitsStage(clock=lambda: NOW)
    stages = [
        IdentityStage(on_merge=merge_hooks(computed)),
        ProfileStage(),
        computed,
        HistoryStage(),
    ]

    def run(*messages: dict[str, Any]) -> list[str]:
        events = [Event(0, n, tenant.workspace_id, m) for n, m in enumerate(messages)]
        with database.transaction() as session:
            for stage in stages:
                stage.process(session, events)
        return [str(e.annotations.get("profile_id")) for e in events]

    return run


def define(
    database: Database, workspace_id: str, *, ready: bool = True, traits: Any = TRAITS
) -> list[str]:
    with database.transaction(workspace_id=workspace_id) as session:
        change = service.put_definitions(session, workspace_id, traits, actor="test")
        if ready:
            session.execute(update(TraitDefinitionRow).values(status="ready"))
    return change.backfill


def values(database: Database, workspace_id: str, profile_id: str) -> dict[str, Any]:
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        return service.values_of(session, workspace_id, profile_id, NOW)


def test_traits_follow_each_event(feed: Feed, database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    define(database, ws)
    (anna, *_) = feed(
        order("anna", 40, 100, "web"),
        order("anna", 10, 50, "store"),
        order("anna", 2, 30, "web"),
    )
    assert values(database, ws, anna) == {
        "orders_30d": 2,
        "revenue": 180,
        "avg_order": 60,
        "first_channel": "web",
        "favourite_channel": "web",
        "days_since_order": 2,
        "web_orders": 2,
        "rfm": "523",  # 2 days ago: 5; 2 orders in 30 days: 2; CHF 180: 3 (default bins)
    }


def test_a_redelivered_event_counts_once(feed: Feed, database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    define(database, ws)
    first = order("bob", 1, 20, "web")
    (bob,) = feed(first)
    feed(first)  # NATS redelivery, or a replayed dead letter
    feed(dict(first), dict(first))  # twice in one batch
    assert values(database, ws, bob)["orders_30d"] == 1
    assert values(database, ws, bob)["revenue"] == 20


def test_a_merge_adds_both_profiles_up(feed: Feed, database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    define(database, ws)
    (known,) = feed(order("carla", 5, 10, "web"))
    (guest,) = feed({**order("x", 3, 15, "app"), "userId": None, "anonymousId": "a-carla"})
    assert known != guest
    (merged,) = feed({**order("carla", 1, 5, "web"), "anonymousId": "a-carla"})
    assert merged == known
    found = values(database, ws, known)
    assert (found["orders_30d"], found["revenue"]) == (3, 30)
    with database.transaction(workspace_id=ws, write=False) as session:
        assert service.stored_states(session, ws, [guest]) == {}


def test_windows_move_on_without_new_events(feed: Feed, database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    define(database, ws)
    (dora,) = feed(order("dora", 25, 10, "web"))
    with database.transaction(workspace_id=ws, write=False) as session:
        assert service.values_of(session, ws, dora, NOW)["orders_30d"] == 1
        later = NOW + timedelta(days=6)
        assert service.values_of(session, ws, dora, later)["orders_30d"] == 0
        assert service.values_of(session, ws, dora, later)["days_since_order"] == 31
    with database.transaction(workspace_id=ws) as session:
        assert len(service.refresh_expired(session, ws, now=NOW + timedelta(days=6))) == 1
        row = service.stored_states(session, ws, [dora])[dora]["orders_30d"]
        assert (row.value, row.state) == (0, {})


def test_every_due_profile_of_every_workspace_is_refreshed_a_batch_at_a_time(
    feed: Feed, database: Database, tenant: Any, make_tenant: Any
) -> None:
    ws = tenant.workspace_id
    define(database, ws)
    define(database, make_tenant("quiet").workspace_id)  # nothing stored: nothing due
    people = [feed(order(name, 25, 10, "web"))[0] for name in ("ed", "flo", "gus")]
    later = NOW + timedelta(days=6)
    assert service.refresh_due(database, now=later, batch=2) == 3  # two passes
    with database.transaction(workspace_id=ws, write=False) as session:
        stored = service.stored_states(session, ws, people)
    assert [stored[p]["orders_30d"].value for p in people] == [0, 0, 0]
    assert [stored[p]["days_since_order"].value for p in people] == [31, 31, 31]
    assert service.refresh_due(database, now=later) == 0  # refreshed: due again tomorrow
    assert service.refresh_due(database, now=later + timedelta(days=1)) == 3
    with database.transaction(workspace_id=ws) as session:  # a changed definition
        session.execute(update(TraitDefinitionRow).values(status="backfilling"))
    # Its back-fill rebuilds those values: nothing is due meanwhile (and nothing spins).
    assert service.refresh_due(database, now=later + timedelta(days=30), batch=1) == 0


def test_the_server_refreshes_expired_values_on_its_timer(
    feed: Feed, database: Database, tenant: Any, app_factory: Any
) -> None:
    """Stored at NOW, months ago: the windows of every value have moved on since."""
    ws = tenant.workspace_id
    define(database, ws)
    (hal,) = feed(order("hal", 1, 10, "web"))

    def stored_count() -> Any:
        with database.transaction(workspace_id=ws, write=False) as session:
            return service.stored_states(session, ws, [hal])[hal]["orders_30d"].value

    assert stored_count() == 1
    with app_factory(traits_refresh_minutes=0.002, worker_enabled=False):
        deadline = time.monotonic() + 10
        while stored_count() != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert stored_count() == 0


def test_a_back_fill_equals_what_the_pipeline_builds(
    feed: Feed, database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    messages = [
        order(f"u{n % 7}", n % 45 + 0.5, float(n % 13) * 7.5, ["web", "store", "app"][n % 3])
        for n in range(120)
    ]
    define(database, ws)
    profiles = feed(*messages)
    streamed = {p: values(database, ws, p) for p in set(profiles)}
    with database.transaction(workspace_id=ws) as session:
        session.execute(update(TraitDefinitionRow).values(status="backfilling", version=2))
        job = start_backfill(session, ws, [d.name for d in TRAITS])
    done = run_backfill(database, ws, job.id, now=NOW)
    assert (done.status, done.events_total, done.profiles_written) == ("completed", 120, 7)
    assert {p: values(database, ws, p) for p in set(profiles)} == streamed


PERSONAL = load_yaml(
    """
traits:
  - {name: addresses, function: distinct_count, event: Order Completed, property: properties.email}
  - {name: last_address, function: last, event: Order Completed, property: properties.email}
  - name: gifts
    function: count
    event: Order Completed
    where: [{path: properties.email, op: eq, value: gift@x.ch}]
  - {name: orders, function: count, event: Order Completed}
"""
)


def test_a_back_fill_over_sealed_fields_sees_them_as_the_pipeline_does(
    feed: Feed, database: Database, tenant: Any, settings: Settings
) -> None:
    """Personal properties (an e-mail) are sealed in the history; a back-fill reading them
    opens the events, so it computes what the live pipeline computed from them."""
    crypto.enable(database, settings)
    ws = tenant.workspace_id
    addresses = ["a@x.ch", "gift@x.ch", "b@x.ch"]
    messages = [
        order(f"u{n % 3}", 20 - n * 0.1, 10, "web", properties={"email": addresses[n % 5 % 3]})
        for n in range(30)
    ]
    define(database, ws, traits=PERSONAL)
    profiles = feed(*messages)
    streamed = {p: values(database, ws, p) for p in set(profiles)}
    assert {v["gifts"] for v in streamed.values()} != {0}  # the filter matched some
    assert {v["last_address"] for v in streamed.values()} <= set(addresses)
    with database.engine.connect() as connection:
        stored = connection.execute(select(EventRecord.payload)).scalars().all()
    assert not [p for p in stored if "gift@x.ch" in p]  # sealed in the history
    assert_rows_sealed(database, {"addresses", "last_address"})
    with database.transaction(workspace_id=ws) as session:
        session.execute(update(TraitDefinitionRow).values(status="backfilling", version=2))
        assert needs_opening(session, PERSONAL)
        assert not needs_opening(session, TRAITS)  # the others read no sealed field
        job = start_backfill(session, ws, [d.name for d in PERSONAL])
    done = run_backfill(database, ws, job.id, now=NOW)
    assert (done.status, done.events_total) == ("completed", 30)
    assert {p: values(database, ws, p) for p in set(profiles)} == streamed
    assert_rows_sealed(database, {"addresses", "last_address"})  # the back-fill's too
    with database.transaction(workspace_id=ws) as session:  # erasure shreds the key:
        copy = session.execute(
            select(TraitValue.profile_id, TraitValue.state, TraitValue.value).where(
                TraitValue.name == "last_address"
            )
        ).first()
        assert copy is not None
        crypto.shred(session, ws, [copy.profile_id])
        with pytest.raises(ConfigurationError, match="has no data key"):
            crypto.open_computed(session, ws, copy.profile_id, "last_address", *copy[1:])


def test_an_upgrade_seals_traits_an_older_version_stored_in_clear(
    feed: Feed, database: Database, tenant: Any, settings: Settings
) -> None:
    """Rows written in clear (before this version, or with sealing off) are sealed by
    ``seal_stored`` (``coreo keys seal``, or the upgrade) and read as before."""
    ws = tenant.workspace_id
    define(database, ws, traits=PERSONAL)
    orders = [
        order(f"u{n % 2}", 5 - n, 10, "web", properties={"email": f"{n}@x.ch"}) for n in range(4)
    ]
    profiles = set(feed(*orders))
    before = {p: values(database, ws, p) for p in profiles}
    with database.engine.connect() as connection:
        assert "@x.ch" in repr(connection.execute(select(TraitValue.value)).all())
    crypto.enable(database, settings)
    assert seal_stored(database)["computed_trait_values"] == 4  # two traits, two people
    assert "computed_trait_values" not in seal_stored(database)  # none left in clear
    assert_rows_sealed(database, {"addresses", "last_address"})
    assert {p: values(database, ws, p) for p in profiles} == before


def assert_rows_sealed(database: Database, personal: set[str]) -> None:
    """The stored rows of traits over a personal field hold no value in clear (nor their
    state: the distinct addresses); the others are stored as computed."""
    with database.engine.connect() as connection:
        rows = connection.execute(select(TraitValue.name, TraitValue.state, TraitValue.value)).all()
    assert {name for name, _, _ in rows} >= personal
    for name, state, value in rows:
        text = f"{state} {value}"
        if name in personal:
            assert "@x.ch" not in text
            assert crypto.is_sealed(value) and crypto.is_sealed(state), name
        else:
            assert not crypto.is_sealed(value) and not crypto.is_sealed(state), name


def test_profiles_touched_during_a_back_fill_are_caught_up(
    feed: Feed, database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    feed(order("erik", 3, 10, "web"))  # history before the traits exist
    names = define(database, ws, ready=False)
    with database.transaction(workspace_id=ws) as session:
        job = start_backfill(session, ws, names)
    (erik,) = feed(order("erik", 1, 5, "app"))  # arrives while the back-fill waits
    with database.transaction(workspace_id=ws, write=False) as session:
        assert list(session.scalars(select(TraitDirty.profile_id))) == [erik]
        assert service.stored_states(session, ws, [erik]) == {}  # left to the back-fill
    run_backfill(database, ws, job.id, now=NOW)
    assert values(database, ws, erik)["revenue"] == 15
    with database.transaction(workspace_id=ws, write=False) as session:
        assert list(session.scalars(select(TraitDirty.profile_id))) == []
    feed(order("erik", 0, 1, "app"))
    assert values(database, ws, erik)["revenue"] == 16


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.floats(0, 60), st.integers(1, 100)), min_size=1, max_size=12),
    st.floats(0, 60),
)
def test_features_as_of_see_nothing_after_the_time(
    feed: Feed, database: Database, tenant: Any, orders: list[tuple[float, int]], cut: float
) -> None:
    ws = tenant.workspace_id
    user = f"as-of-{next(_ids)}"
    with database.transaction(workspace_id=ws) as session:
        service.put_definitions(session, ws, TRAITS, actor="test")
        session.execute(update(TraitDefinitionRow).values(status="ready"))
    at = NOW - timedelta(days=cut)
    before = [order(user, d, t, "web") for d, t in orders if NOW - timedelta(days=d) <= at]
    after = [order(user, d, t, "web") for d, t in orders if NOW - timedelta(days=d) > at]
    (profile, *_) = feed(*(before + after))
    with database.transaction(workspace_id=ws, write=False) as session:
        found = service.features_as_of(session, ws, [profile], at)[profile]
    assert found["revenue"] == pytest.approx(sum(m["properties"]["total"] for m in before))
    window = [
        m
        for m in before
        if datetime.fromisoformat(m["timestamp"]).date() > (at - timedelta(days=30)).date()
    ]
    assert found["orders_30d"] == len(window)


def test_an_unmerge_splits_the_computed_traits_again(
    feed: Feed, database: Database, tenant: Any
) -> None:
    from coreo.identity import unmerge
    from coreo.identity.models import MergeRecord
    from coreo.traits.stage import rederive_computed_traits

    ws = tenant.workspace_id
    define(database, ws)
    (guest,) = feed({**order("x", 9, 10, "web"), "userId": None, "anonymousId": "a-fred"})
    (fred,) = feed(order("fred", 8, 20, "web"))
    (joined,) = feed({**order("fred", 7, 5, "web"), "anonymousId": "a-fred"})  # wrong link
    assert joined == guest and values(database, ws, guest)["revenue"] == 35
    with database.transaction(workspace_id=ws) as session:
        merge = session.scalars(select(MergeRecord).where(MergeRecord.merged_id == fred)).one()
        unmerge.undo_merge(
            session,
            workspace_id=ws,
            merge_id=merge.id,
            actor="test",
            on_rederive=(rederive_computed_traits,),
        )
    # The linking order carried both identifiers; the user id outranks the cookie, so it
    # goes back to fred with his own order.
    assert values(database, ws, guest)["revenue"] == 10
    assert values(database, ws, fred)["revenue"] == 25


def test_a_restricted_person_is_not_profiled_until_the_restriction_is_lifted(
    feed: Feed, database: Database, tenant: Any
) -> None:
    """GDPR Art. 18: while restricted, events are stored but no computed trait moves;
    lifting the restriction recomputes the traits from the stored events."""
    from coreo.privacy import requests, suppression

    ws = tenant.workspace_id
    define(database, ws)
    (anna,) = feed(order("anna", 5, 100, "web"))
    with database.transaction(workspace_id=ws) as session:
        suppression.add_flag(session, ws, anna, "restriction", request_id=None)
    feed(order("anna", 3, 50, "store"))
    assert values(database, ws, anna)["revenue"] == 100  # stored, not profiled
    with database.transaction(workspace_id=ws) as session:
        lift = requests.create(
            session, ws, type_="restriction", profile_id=anna, actor="t", details={"lift": True}
        )
        requests.verify(session, lift, verified=True, method="account", actor="t")
        _, _ = requests.execute(session, lift, actor="t", tombstone_key=b"k" * 32,
                                proof_key=b"k" * 32)  # fmt: skip
        assert lift.evidence == {"lifted": lift.evidence["lifted"], "recomputed": 1}
    assert values(database, ws, anna)["revenue"] == 150


@pytest.mark.parametrize("batched", [False, True], ids=["merge by merge", "a batch's merges"])
def test_merges_in_one_batch_carry_every_state_to_the_last_survivor(
    database: Database, tenant: Any, batched: bool
) -> None:
    """Two merges in one batch, the second merging the first's survivor away: the pipeline
    folds them once a batch (``MergesHook``), with the result of one merge at a time."""
    ws = tenant.workspace_id
    define(database, ws)
    computed = ComputedTraitsStage(clock=lambda: NOW)
    hook = MergesHook(computed.merge_all) if batched else computed.merge
    stages = [IdentityStage(on_merge=(merge_traits, hook)), ProfileStage(), computed]

    def run(*messages: dict[str, Any]) -> list[str]:
        events = [Event(0, n, ws, m) for n, m in enumerate(messages)]
        with database.transaction() as session:
            for stage in stages:
                stage.process(session, events)
        return [str(e.annotations.get("profile_id")) for e in events]

    (oldest,) = run({**order("x", 9, 10, "web"), "userId": None, "anonymousId": "g1"})
    (middle,) = run({**order("x", 8, 20, "app"), "userId": None, "anonymousId": "g2"})
    (newest,) = run(order("carla", 7, 40, "web"))
    assert len({oldest, middle, newest}) == 3
    # middle absorbs newest, then oldest absorbs middle: both in one batch
    last = run(
        {**order("carla", 2, 5, "store"), "anonymousId": "g2"},
        {**order("carla", 1, 1, "web"), "anonymousId": "g1"},
    )
    assert last == [middle, oldest]
    found = values(database, ws, oldest)
    assert (found["orders_30d"], found["revenue"], found["web_orders"]) == (5, 76, 3)
    assert (found["first_channel"], found["days_since_order"]) == ("web", 1)
    with database.transaction(workspace_id=ws, write=False) as session:
        assert service.stored_states(session, ws, [middle, newest]) == {}
