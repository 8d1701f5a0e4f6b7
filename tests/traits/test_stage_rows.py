"""The computed-traits stage stores what a replay of the history gives, batch after batch
with the clock moving on; definitions read through a cache still see every change."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from tests.traits.test_pipeline import NOW, TRAITS, order

from coreo.db import Database
from coreo.history.stage import HistoryStage
from coreo.identity.stage import IdentityStage
from coreo.profiles.stage import ProfileStage
from coreo.runtime.pipeline import merge_hooks
from coreo.runtime.worker import Event
from coreo.traits import engine, service
from coreo.traits.models import TraitDefinitionRow, TraitValue
from coreo.traits.stage import ComputedTraitsStage

_ids = itertools.count()


def _ready(database: Database, ws: str) -> None:
    with database.transaction(workspace_id=ws) as session:
        service.put_definitions(session, ws, TRAITS, actor="test")
        session.execute(update(TraitDefinitionRow).values(status="ready"))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),  # days the clock moves on before the batch
            st.lists(
                st.tuples(
                    st.booleans(),
                    st.floats(0, 45),
                    st.integers(1, 100),
                    st.sampled_from(["web", "app", "view"]),
                ),
                min_size=1,
                max_size=5,
            ),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_stored_rows_equal_a_replay_after_every_batch(
    database: Database, tenant: Any, batches: list[tuple[int, list[tuple[bool, float, int, str]]]]
) -> None:
    ws = tenant.workspace_id
    _ready(database, ws)
    clock = [NOW]
    computed = ComputedTraitsStage(clock=lambda: clock[0])
    stages = [
        IdentityStage(on_merge=merge_hooks(computed)),
        ProfileStage(),
        computed,
        HistoryStage(),
    ]
    run = next(_ids)
    users = (f"rows-{run}-a", f"rows-{run}-b")
    for moved, orders in batches:
        clock[0] += timedelta(days=moved)
        messages = [
            order(users[int(second)], days_ago, total, channel)
            if channel != "view"
            else {**order(users[int(second)], days_ago, total, "web"), "event": "Product Viewed"}
            for second, days_ago, total, channel in orders
        ]
        events = [Event(0, n, ws, m) for n, m in enumerate(messages)]
        with database.transaction() as session:
            for stage in stages:
                stage.process(session, events)
        touched = sorted({str(e.annotations["profile_id"]) for e in events})
        now = clock[0]
        with database.transaction(workspace_id=ws, write=False) as session:
            ready = service.definitions_of(session, ws).ready
            states = service.replay(session, ws, ready, touched, now=now)
            stored = service.stored_states(session, ws, touched)
            for profile_id in touched:
                expected = engine.evaluate_all(ready, states[profile_id], now)
                rows = stored.get(profile_id, {})
                for definition in ready:
                    state = engine.prune(
                        definition, states[profile_id].get(definition.name, {}), now
                    )
                    row = rows.get(definition.name)
                    if row is None:
                        assert state == {}
                        assert definition.function != "rfm" or not expected[definition.name]
                    else:
                        assert row.state == state, definition.name
                        assert row.value == expected[definition.name], definition.name


def test_a_definition_changed_by_another_process_is_seen(database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    _ready(database, ws)
    other = Database(database.url.render_as_string(hide_password=False))  # its own connections
    try:
        with database.transaction(workspace_id=ws, write=False) as session:
            first = service.definitions_of(session, ws)
        assert "revenue" in {d.name for d in first.ready}
        with database.transaction(workspace_id=ws, write=False) as session:
            assert service.definitions_of(session, ws) is first  # parsed once

        changed = TRAITS[1].model_copy(update={"window": "7d"})
        with other.transaction(workspace_id=ws) as session:
            service.put_definitions(session, ws, [changed], actor="test")
        with database.transaction(workspace_id=ws, write=False) as session:
            loaded = service.definitions_of(session, ws)
        assert "revenue" in loaded.backfilling
        assert "revenue" not in {d.name for d in loaded.ready}

        with other.transaction(workspace_id=ws) as session:  # the back-fill's last step
            session.execute(update(TraitDefinitionRow).values(status="ready"))
        with database.transaction(workspace_id=ws, write=False) as session:
            loaded = service.definitions_of(session, ws)
        (revenue,) = [d for d in loaded.ready if d.name == "revenue"]
        assert revenue.window == "7d"
        assert not loaded.backfilling

        with other.transaction(workspace_id=ws) as session:
            session.execute(
                delete(TraitDefinitionRow).where(TraitDefinitionRow.name == "web_orders")
            )
        with database.transaction(workspace_id=ws, write=False) as session:
            loaded = service.definitions_of(session, ws)
        assert "web_orders" not in {d.name for d in loaded.ready}
    finally:
        other.dispose()


def test_events_reach_only_the_traits_their_name_and_type_allow(
    database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    _ready(database, ws)
    with database.transaction(workspace_id=ws, write=False) as session:
        loaded = service.definitions_of(session, ws)
    ordered = order("dispatch", 1, 10, "web")
    viewed = {**ordered, "event": "Product Viewed"}
    plain = [d for d in loaded.ready if d.function != "rfm"]
    for message in (ordered, viewed, {**ordered, "type": "identify"}, {**ordered, "event": 5}):
        picked = {d.name for d in loaded.observing(message)}
        assert picked <= {d.name for d in plain}
        for definition in plain:  # the dispatch leaves out no trait the event matches
            if engine.matches(definition, message):
                assert definition.name in picked
    assert {d.name for d in loaded.observing(viewed)} == {"first_channel", "favourite_channel"}


def test_the_pipeline_leaves_no_trait_row_behind_after_a_merge(
    database: Database, tenant: Any
) -> None:
    ws = tenant.workspace_id
    _ready(database, ws)
    computed = ComputedTraitsStage(clock=lambda: NOW)
    stages = [IdentityStage(on_merge=merge_hooks(computed)), ProfileStage(), computed,
              HistoryStage()]  # fmt: skip
    guest = {**order("x", 1, 10, "web"), "anonymousId": "anon-merge"}
    del guest["userId"]
    login = {**order("merge-user", 2, 5, "web"), "anonymousId": "anon-merge"}
    for messages in ([order("merge-user", 3, 7, "app")], [guest], [login]):
        events = [Event(0, n, ws, m) for n, m in enumerate(messages)]
        with database.transaction() as session:
            for stage in stages:
                stage.process(session, events)
    with database.transaction(workspace_id=ws, write=False) as session:
        owners = set(session.scalars(select(TraitValue.profile_id).distinct()))
        (profile_id,) = owners
        assert service.values_of(session, ws, profile_id, NOW)["revenue"] == 22
