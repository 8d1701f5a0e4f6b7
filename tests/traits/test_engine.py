"""The trait engine against a brute-force reading of the same events: any arrival order,
any split into merged profiles, any evaluation time after the last event (window expiry)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreo.traits import engine
from coreo.traits.definitions import Definition, Function, parse

# Every function but rfm, which combines other traits instead of events.
STREAMED = [f for f in get_args(Function) if f != "rfm"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def day(at: datetime) -> int:
    return engine.day_of(engine.millis(at))


def brute(definition: Definition, messages: list[dict[str, Any]], at: datetime) -> Any:
    """The value computed straight from the events, without buckets or state."""
    seen = [(m, engine.observe(definition, m)) for m in messages]
    hits = [o for _, o in seen if o is not None]
    f, today = definition.function, day(at)
    if f == "recency":
        return today - engine.day_of(max(o.ms for o in hits)) if hits else None
    if f == "trend":
        value = (
            (lambda o: 1.0)
            if definition.property is None
            else (lambda o: float(o.value) if isinstance(o.value, int | float) else 0.0)
        )
        recent = sum(
            value(o) for o in hits if today - definition.recent_days < engine.day_of(o.ms) <= today
        )
        start = today - definition.recent_days - definition.baseline_days
        base = sum(
            value(o) for o in hits if start < engine.day_of(o.ms) <= today - definition.recent_days
        )
        if base <= 0:
            return None
        return round(recent / (base * definition.recent_days / definition.baseline_days), 6)
    if definition.window_days is not None:
        w = definition.window_days
        hits = [o for o in hits if today - w < engine.day_of(o.ms) <= today]
    if f == "count":
        return len(hits)
    numbers = [float(o.value) for o in hits] if f in ("sum", "avg", "min", "max") else []
    if f == "sum":
        return sum(numbers)
    if f == "avg":
        return sum(numbers) / len(numbers) if numbers else None
    if f == "min":
        return min(numbers, default=None)
    if f == "max":
        return max(numbers, default=None)
    ordered = sorted(hits, key=lambda o: (o.ms, o.message_id))
    if f == "first":
        return ordered[0].value if ordered else None
    if f == "last":
        return ordered[-1].value if ordered else None
    keys = Counter(orjson.dumps(o.value).decode() for o in hits)
    if f == "distinct_count":
        return len(keys)
    if not keys:
        return None
    return orjson.loads(min(keys.items(), key=lambda kn: (-kn[1], kn[0]))[0])


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b) and type(a) is type(b)


_values = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["web", "shop", "Zürich", "", "app"]),
    st.booleans(),
    st.none(),
)
_messages = st.lists(
    st.builds(
        lambda n, minutes, name, kind, value: {
            "type": "track",
            "messageId": f"m{n}",
            "event": name,
            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "properties": {"kind": kind, "value": value},
        },
        st.integers(0, 10**6),
        st.integers(0, 60 * 24 * 90),
        st.sampled_from(["Order Completed", "Viewed"]),
        st.sampled_from(["a", "b"]),
        _values,
    ),
    max_size=40,
    unique_by=lambda m: m["messageId"],
)
_definitions = st.builds(
    lambda function, window, event, where: parse(
        {
            "name": "t",
            "function": function,
            **(
                {"property": "properties.value"}
                if function in engine.AGGREGATES or (function == "trend" and where)
                else {}
            ),
            **({"window": window} if function not in ("recency", "trend") else {}),
            **({"event": event} if event else {}),
            **({"where": [{"path": "properties.kind", "op": "eq", "value": "a"}]} if where else {}),
        }
    ),
    st.sampled_from(STREAMED),
    st.sampled_from(["1d", "7d", "30d", "all"]),
    st.sampled_from([None, "Order Completed"]),
    st.booleans(),
)


def incremental(
    definition: Definition, messages: list[dict[str, Any]], now: datetime
) -> engine.State:
    state: engine.State = {}
    for message in messages:
        seen = engine.observe(definition, message)
        if seen is not None and engine.accepts(definition, seen, now):
            state = engine.prune(definition, engine.add(definition, state, seen), now)
    return state


@settings(max_examples=300, deadline=None)
@given(
    _definitions,
    _messages,
    st.randoms(use_true_random=False),
    st.integers(0, 100),
    st.integers(0, 400),
)
def test_incremental_state_equals_brute_force_at_any_later_time(
    definition: Definition, messages: list[dict[str, Any]], rng: Any, processed: int, later: int
) -> None:
    # Events arrive in any order while the clock stands at ``now``; the value is read at
    # ``now`` and again ``later`` hours on with no new event: windows must have moved on.
    shuffled = list(messages)
    rng.shuffle(shuffled)
    now = T0 + timedelta(days=processed)
    if definition.kept_days is not None:  # windows keep nothing after now; brute sees all
        shuffled = [m for m in shuffled if datetime.fromisoformat(m["timestamp"]) <= now]
    state = incremental(definition, shuffled, now)
    for at in (now, now + timedelta(hours=later)):
        assert same(engine.evaluate(definition, state, at), brute(definition, shuffled, at)), at


@settings(max_examples=200, deadline=None)
@given(_definitions, _messages, st.integers(0, 40))
def test_merging_two_profiles_states_equals_one_profile_with_all_events(
    definition: Definition, messages: list[dict[str, Any]], cut: int
) -> None:
    now = T0 + timedelta(days=100)
    ours, theirs = messages[:cut], messages[cut:]
    merged = engine.merge_states(
        definition, incremental(definition, ours, now), incremental(definition, theirs, now)
    )
    together = incremental(definition, messages, now)
    assert same(
        engine.evaluate(definition, merged, now), engine.evaluate(definition, together, now)
    )


def test_a_window_value_expires_when_its_oldest_day_leaves() -> None:
    orders = parse({"name": "orders_7d", "function": "count", "event": "Order", "window": "7d"})
    first = {
        "type": "track",
        "event": "Order",
        "messageId": "a",
        "timestamp": "2026-01-01T10:00:00+00:00",
    }
    second = {**first, "messageId": "b", "timestamp": "2026-01-03T10:00:00+00:00"}
    now = datetime(2026, 1, 3, 12, tzinfo=UTC)
    state = incremental(orders, [first, second], now)
    assert engine.evaluate(orders, state, now) == 2
    # 2026-01-01 is in the window up to 2026-01-07 (7 days including that day) ...
    assert engine.expires_at(orders, state, now) == datetime(2026, 1, 8, tzinfo=UTC)
    assert engine.evaluate(orders, state, datetime(2026, 1, 7, 23, 59, tzinfo=UTC)) == 2
    assert engine.evaluate(orders, state, datetime(2026, 1, 8, tzinfo=UTC)) == 1
    assert engine.evaluate(orders, state, datetime(2026, 1, 10, tzinfo=UTC)) == 0
    # ... and an event older than the window changes nothing and is not kept.
    old = {**first, "messageId": "c", "timestamp": "2025-12-01T10:00:00+00:00"}
    assert incremental(orders, [first, second, old], now) == state


def test_trend_catches_a_fall_in_daily_use() -> None:
    trend = parse({"name": "use_trend", "function": "trend", "event": "Session"})
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    sessions = [
        {"type": "track", "event": "Session", "messageId": f"s{d}-{n}",
         "timestamp": (now - timedelta(days=d)).isoformat()}
        for d in range(35) for n in range(5 if d >= 7 else 3)
    ]  # fmt: skip
    state = incremental(trend, sessions, now)
    assert engine.evaluate(trend, state, now) == pytest.approx(0.6)  # 3 a day after 5: -40 %


def test_rfm_scores_from_three_traits() -> None:
    rfm = parse(
        {"name": "rfm", "function": "rfm", "recency": "r", "frequency": "f", "monetary": "m"}
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert engine.evaluate(rfm, {}, now, {"r": 3, "f": 9, "m": 60}) == "552"
    assert engine.evaluate(rfm, {}, now, {"r": 400, "f": 1, "m": 5000}) == "115"
    assert engine.evaluate(rfm, {}, now, {"r": None, "f": 0, "m": 0}) is None


def test_distinct_values_are_capped_and_the_overflow_counted() -> None:
    distinct = parse({"name": "skus", "function": "distinct_count", "property": "properties.sku"})
    messages = [
        {"type": "track", "event": "x", "messageId": f"m{n}", "timestamp": T0.isoformat(),
         "properties": {"sku": f"sku-{n}"}}
        for n in range(engine.MAX_DISTINCT + 5)
    ]  # fmt: skip
    state = incremental(distinct, messages, T0)
    assert engine.evaluate(distinct, state, T0) == engine.MAX_DISTINCT
    assert state["all"]["…"] == 5
