"""The back-fill's generated DuckDB SQL gives the same state as the pipeline's engine."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.traits.test_engine import STREAMED

from coreo.traits import engine
from coreo.traits.backfill import compile_trait, compute_rows, compute_states
from coreo.traits.definitions import Definition, parse

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=40)

_scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
)
_value = st.one_of(_scalars, st.lists(st.integers(-9, 9), max_size=2), st.just({"a": 1}))
_messages = st.lists(
    st.builds(
        lambda n, minutes, kind, name, value, other: {
            "type": kind,
            "messageId": f"m{n}",
            **({"event": name} if kind == "track" else {"name": name}),
            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "properties": {"value": value, "other": other},
        },
        st.integers(0, 10**6),
        st.integers(0, 60 * 24 * 45),
        st.sampled_from(["track", "page"]),
        st.sampled_from(["Order", "Home", 'Zürich "x"']),
        _value,
        st.one_of(  # close to the predicates' values, so that boundaries are met
            st.integers(-5, 5),
            st.sampled_from([-0.5, 2.0, 3.5]),
            st.text(max_size=2),
            st.booleans(),
            st.none(),
        ),
    ),
    max_size=30,
    unique_by=lambda m: m["messageId"],
)
_predicates = st.one_of(
    st.builds(
        lambda op, v: {"path": "properties.other", "op": op, "value": v},
        st.sampled_from(["eq", "ne"]),
        st.one_of(st.integers(-5, 5), st.text(max_size=2), st.booleans()),
    ),
    st.builds(
        lambda op, v: {"path": "properties.other", "op": op, "value": v},
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(-5, 5),
    ),
    st.builds(
        lambda op, v: {"path": "properties.other", "op": op, "value": v},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=1)), min_size=1, max_size=3),
    ),
    st.builds(
        lambda op, v: {"path": "properties.other", "op": op, "value": v},
        st.sampled_from(["contains", "starts_with"]),
        st.text(min_size=1, max_size=2),
    ),
    st.sampled_from(
        [
            {"path": "properties.other", "op": "exists"},
            {"path": "properties.other", "op": "not_exists"},
        ]
    ),
)


@st.composite
def definitions(draw: Any) -> Definition:
    function = draw(st.sampled_from(STREAMED))
    data: dict[str, Any] = {"name": "t", "function": function}
    if function in engine.AGGREGATES or (function == "trend" and draw(st.booleans())):
        data["property"] = "properties.value"
    if function not in ("recency", "trend"):
        data["window"] = draw(st.sampled_from(["1d", "7d", "30d", "all"]))
    if draw(st.booleans()):
        data["event"] = draw(st.sampled_from(["Order", ["Order", "Home"], 'Zürich "x"']))
    if draw(st.booleans()):
        data["type"] = draw(st.sampled_from(["track", "page"]))
    data["where"] = draw(st.lists(_predicates, max_size=2))
    return parse(data)


def history(messages: list[dict[str, Any]], owners: list[str] | None = None) -> Any:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE history (profile_id VARCHAR, message_id VARCHAR, ms BIGINT, day BIGINT,"
        " type VARCHAR, event VARCHAR, payload VARCHAR)"
    )
    for i, m in enumerate(messages):
        ms = engine.millis(datetime.fromisoformat(m["timestamp"]))
        row = [m["messageId"], ms, ms // engine.DAY_MS, m["type"], engine.event_name(m)]
        connection.execute(
            "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?)",
            [owners[i] if owners else "p1", *row, orjson.dumps(m).decode()],
        )
    return connection


def incremental(definition: Definition, messages: list[dict[str, Any]]) -> engine.State:
    state: engine.State = {}
    for message in messages:
        seen = engine.observe(definition, message)
        if seen is not None and engine.accepts(definition, seen, NOW):
            state = engine.add(definition, state, seen)
    return engine.prune(definition, state, NOW)


@settings(max_examples=250, deadline=None)
@given(definitions(), _messages)
def test_the_sql_back_fill_matches_the_engine(
    definition: Definition, messages: list[dict[str, Any]]
) -> None:
    expected = incremental(definition, messages)
    found = {p: s for _, p, s in compute_states(history(messages), [definition], NOW)}
    state = found.get("p1", {})
    assert engine.evaluate(definition, state, NOW) == pytest.approx(
        engine.evaluate(definition, expected, NOW)
    ) or engine.evaluate(definition, state, NOW) == engine.evaluate(definition, expected, NOW)
    assert sorted(state) == sorted(expected)


def test_paths_are_parameters_not_sql() -> None:
    trait = parse(
        {"name": "t", "function": "count", "event": "x'; DROP TABLE history; --",
         "where": [{"path": "properties.a", "op": "eq", "value": "'"}]}
    )  # fmt: skip
    statement, params = compile_trait(trait, 20000)
    assert "DROP" not in statement and "x'; DROP TABLE history; --" in params


def _close(found: Any, expected: Any) -> bool:
    """Equal, floats to rounding (sums add up in another order); bool is not a number."""
    if isinstance(found, dict) and isinstance(expected, dict):
        return found.keys() == expected.keys() and all(_close(found[k], expected[k]) for k in found)
    if isinstance(found, list) and isinstance(expected, list):
        return len(found) == len(expected) and all(map(_close, found, expected))
    if isinstance(found, bool) or isinstance(expected, bool):
        return found is expected
    if isinstance(found, int | float) and isinstance(expected, int | float):
        return math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-9)
    return bool(found == expected)


def stored_rows(connection: Any) -> dict[tuple[str, str], tuple[Any, Any, int | None]]:
    rows = connection.execute(
        "SELECT profile_id, name, state, value, expires_day FROM trait_rows"
    ).fetchall()
    return {(p, n): (orjson.loads(s), orjson.loads(v), e) for p, n, s, v, e in rows}


def expiry_day(definition: Definition, state: engine.State) -> int | None:
    expires = engine.expires_at(definition, state, NOW)
    return None if expires is None else engine.day_of(engine.millis(expires))


@settings(max_examples=300, deadline=None)
@given(definitions(), _messages)
def test_the_stored_rows_match_the_engine(
    definition: Definition, messages: list[dict[str, Any]]
) -> None:
    """State, value and expiry as the engine stores them, from one statement per trait."""
    expected = incremental(definition, messages)
    connection = history(messages)
    compute_rows(connection, [definition], NOW)
    rows = stored_rows(connection)
    if not expected:
        assert rows == {}
        return
    state, value, expires_day = rows["p1", "t"]
    assert _close(state, expected)
    assert _close(value, engine.evaluate(definition, expected, NOW))
    assert expires_day == expiry_day(definition, expected)


RFM_INPUTS = [
    parse({"name": "seen", "function": "recency", "event": "Order"}),
    parse({"name": "orders", "function": "count", "event": "Order", "window": "30d"}),
    parse({"name": "spent", "function": "sum", "property": "properties.value"}),
    parse({"name": "top", "function": "most_frequent", "property": "properties.other"}),
]
RFM = parse(
    {"name": "score", "function": "rfm", "recency": "seen", "frequency": "orders",
     "monetary": "spent", "bins": {"recency": [1, 3, 9, 20], "frequency": [0, 1, 2, 3],
                                   "monetary": [-5, 0, 5, 1e6]}}
)  # fmt: skip
RFM_ON_TOP = parse({"name": "score2", "function": "rfm", "recency": "seen",
                    "frequency": "top", "monetary": "orders"})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_messages, st.lists(st.sampled_from(["p1", "p2", "p3"]), min_size=30, max_size=30))
def test_rfm_is_scored_as_the_engine_scores_it(
    messages: list[dict[str, Any]], owners: list[str]
) -> None:
    """rfm from the stored values of its inputs, for every profile with a row."""
    connection = history(messages, owners)
    compute_rows(connection, [*RFM_INPUTS, RFM, RFM_ON_TOP], NOW, rfm=[RFM, RFM_ON_TOP])
    rows = stored_rows(connection)
    for profile in {p for p, _ in rows}:
        mine = [m for m, o in zip(messages, owners, strict=False) if o == profile]
        states = {d.name: incremental(d, mine) for d in RFM_INPUTS}
        values = engine.evaluate_all([*RFM_INPUTS, RFM, RFM_ON_TOP], states, NOW)
        for trait in (RFM, RFM_ON_TOP):
            assert rows[profile, trait.name] == ({}, values[trait.name], expiry_day(trait, {}))
