"""Evaluate computed traits: which events match, the state they leave, the value it gives.

A trait's state is a JSON object of buckets: ``{"20412": partial, ...}`` keyed by UTC day
number (days since 1970-01-01) for windowed traits and trends, or ``{"all": partial}``.
Partials combine associatively, so the same state comes out whether events arrive in order,
out of order, one at a time or back-filled in bulk (the DuckDB back-fill writes the same
shapes), and a window's value is the combination of the buckets inside it. Buckets that
have left every window a trait can be asked about are dropped as events arrive.

Partials by function: count → n; sum/avg/trend → [n, total]; min/max → number;
first/last → [ms, message_id, value]; distinct_count/most_frequent → {json: n};
recency → ms of the latest event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from coreo.traits.definitions import AGGREGATES, Definition, Predicate, path_segments

__all__ = [
    "DAY_MS",
    "MAX_DISTINCT",
    "Observation",
    "add",
    "day_of",
    "evaluate",
    "evaluate_all",
    "expires_at",
    "matches",
    "merge_states",
    "observe",
    "prune",
]

DAY_MS = 86_400_000
MAX_DISTINCT = 1000  # distinct values kept per bucket; more are counted under "…"
_OVERFLOW = "…"
_MISSING = object()
Partial = Any
State = dict[str, Partial]


def day_of(ms: int) -> int:
    return ms // DAY_MS


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# -- matching ---------------------------------------------------------------------------------


def lookup(message: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``."""
    value: Any = message
    for segment in path_segments(path):
        if not isinstance(value, Mapping) or segment not in value:
            return _MISSING
        value = value[segment]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _equal(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(found, bool):
        return isinstance(wanted, bool) and isinstance(found, bool) and found == wanted
    if isinstance(wanted, str):
        return isinstance(found, str) and found == wanted
    return _is_number(found) and float(found) == float(wanted)


def holds(predicate: Predicate, found: Any) -> bool:
    op, wanted = predicate.op, predicate.value
    if found is _MISSING or found is None:
        return op == "not_exists"
    if op == "exists":
        return True
    if op == "not_exists":
        return False
    if op == "eq":
        return _equal(found, wanted)
    if op == "ne":
        return not _equal(found, wanted)
    if op == "in":
        return any(_equal(found, w) for w in wanted)
    if op == "not_in":
        return not any(_equal(found, w) for w in wanted)
    if op in ("contains", "starts_with"):
        if not isinstance(found, str):
            return False
        return wanted in found if op == "contains" else found.startswith(wanted)
    if not _is_number(found):
        return False
    number = float(found)
    if op == "gt":
        return bool(number > wanted)
    if op == "gte":
        return bool(number >= wanted)
    if op == "lt":
        return bool(number < wanted)
    return bool(number <= wanted)


def event_name(message: Mapping[str, Any]) -> Any:
    return message.get("event") or message.get("name")


def matches(definition: Definition, message: Mapping[str, Any]) -> bool:
    if definition.function == "rfm":
        return False
    if definition.types and message.get("type") not in definition.types:
        return False
    if definition.events and event_name(message) not in definition.events:
        return False
    return all(holds(p, lookup(message, p.path)) for p in definition.where)


# -- partials ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    """One matching event as a trait sees it."""

    ms: int
    message_id: str
    value: Any  # the property's value (``_MISSING`` when absent or not usable)


def _value_for(definition: Definition, message: Mapping[str, Any]) -> Any:
    if definition.property is None:
        return _MISSING
    value = lookup(message, definition.property)
    if definition.function in ("sum", "avg", "min", "max", "trend"):
        return value if _is_number(value) else _MISSING
    if value is None or isinstance(value, dict | list):
        return _MISSING
    if isinstance(value, float) and not math.isfinite(value):
        return _MISSING
    return value


def observe(definition: Definition, message: Mapping[str, Any]) -> Observation | None:
    """The observation ``message`` makes for ``definition``, or None if it does not match
    (or lacks the value the function aggregates)."""
    if not matches(definition, message):
        return None
    value = _value_for(definition, message)
    if value is _MISSING and definition.function in AGGREGATES:
        return None
    stamp = datetime.fromisoformat(str(message["timestamp"]))
    return Observation(millis(stamp), str(message.get("messageId")), value)


def _single(function: str, seen: Observation) -> Partial:
    if function == "count":
        return 1
    if function in ("sum", "avg"):
        return [1, float(seen.value)]
    if function == "trend":
        return [1, float(seen.value) if seen.value is not _MISSING else 0.0]
    if function in ("min", "max"):
        return float(seen.value)
    if function in ("first", "last"):
        return [seen.ms, seen.message_id, seen.value]
    if function in ("distinct_count", "most_frequent"):
        return {orjson.dumps(seen.value).decode(): 1}
    return seen.ms  # recency


def _combine_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, n in b.items():
        if key in out or len(out) < MAX_DISTINCT or key == _OVERFLOW:
            out[key] = out.get(key, 0) + n
        else:
            out[_OVERFLOW] = out.get(_OVERFLOW, 0) + n
    return out


def combine(function: str, a: Partial, b: Partial) -> Partial:
    if a is None:
        return b
    if b is None:
        return a
    if function == "count":
        return a + b
    if function in ("sum", "avg", "trend"):
        return [a[0] + b[0], a[1] + b[1]]
    if function == "min":
        return min(a, b)
    if function == "max":
        return max(a, b)
    if function == "first":
        return a if (a[0], a[1]) <= (b[0], b[1]) else b
    if function == "last":
        return a if (a[0], a[1]) >= (b[0], b[1]) else b
    if function in ("distinct_count", "most_frequent"):
        return _combine_counts(a, b)
    return max(a, b)  # recency


def _bucket(definition: Definition, ms: int) -> str:
    return "all" if definition.kept_days is None else str(day_of(ms))


def add(definition: Definition, state: State, seen: Observation) -> State:
    """``state`` with one more observation (a new dict; the given one is left alone)."""
    key = _bucket(definition, seen.ms)
    out = dict(state)
    out[key] = combine(definition.function, state.get(key), _single(definition.function, seen))
    return out


def merge_states(definition: Definition, a: State, b: State) -> State:
    """The state of two profiles' events together (a merge)."""
    out = dict(a)
    for key, partial in b.items():
        out[key] = combine(definition.function, out.get(key), partial)
    return out


def prune(definition: Definition, state: State, now: datetime) -> State:
    """Drop the buckets no window evaluated at ``now`` or later can include."""
    kept = definition.kept_days
    if kept is None:
        return state
    oldest = day_of(millis(now)) - kept + 1
    return {k: v for k, v in state.items() if int(k) >= oldest}


def accepts(definition: Definition, seen: Observation, now: datetime) -> bool:
    """Whether an observation still falls in a window that can be asked about (an event
    older than the window, e.g. from an import of old receipts, changes nothing)."""
    kept = definition.kept_days
    return kept is None or day_of(seen.ms) >= day_of(millis(now)) - kept + 1


# -- values -----------------------------------------------------------------------------------


def _fold(function: str, partials: Iterable[Partial]) -> Partial:
    result: Partial = None
    for partial in partials:
        result = combine(function, result, partial)
    return result


def _in_days(state: State, first: int, last: int) -> list[Partial]:
    return [v for k, v in state.items() if k != "all" and first <= int(k) <= last]


def _ratio(recent: float, baseline: float, recent_days: int, baseline_days: int) -> float | None:
    if baseline <= 0:
        return None
    return round(recent / (baseline * recent_days / baseline_days), 6)


def _rfm_score(value: Any, cuts: list[float], *, lower_is_better: bool) -> int | None:
    if not _is_number(value):
        return None
    rank = 1 + sum(1 for cut in cuts if float(value) > cut)
    return 6 - rank if lower_is_better else rank


def evaluate(
    definition: Definition, state: State, now: datetime, values: Mapping[str, Any] | None = None
) -> Any:
    """The trait's value at ``now`` (``values``: the other traits' values, for rfm)."""
    function = definition.function
    today = day_of(millis(now))
    if function == "rfm":
        given = values or {}
        bins = definition.bins
        scores = [
            _rfm_score(given.get(definition.recency or ""), bins.recency, lower_is_better=True),
            _rfm_score(
                given.get(definition.frequency or ""), bins.frequency, lower_is_better=False
            ),
            _rfm_score(given.get(definition.monetary or ""), bins.monetary, lower_is_better=False),
        ]
        if scores[0] is None:  # never active: recency has no value
            return None
        return "".join(str(s if s is not None else 1) for s in scores)
    if function == "trend":
        recent = _fold(function, _in_days(state, today - definition.recent_days + 1, today))
        start = today - definition.recent_days - definition.baseline_days + 1
        base = _fold(function, _in_days(state, start, today - definition.recent_days))
        use = 0 if definition.property is None else 1
        return _ratio(
            recent[use] if recent else 0.0,
            base[use] if base else 0.0,
            definition.recent_days,
            definition.baseline_days,
        )
    window = definition.window_days
    if window is None:
        partial = state.get("all")
    else:
        partial = _fold(function, _in_days(state, today - window + 1, today))
    if function == "recency":
        return None if partial is None else today - day_of(partial)
    return finish(function, partial)


def finish(function: str, partial: Partial) -> Any:
    if function == "count":
        return partial or 0
    if function == "sum":
        return round(partial[1], 9) if partial else 0
    if function == "avg":
        return round(partial[1] / partial[0], 9) if partial and partial[0] else None
    if function in ("min", "max"):
        return partial
    if function in ("first", "last"):
        return partial[2] if partial else None
    if function == "distinct_count":
        return sum(1 for k in (partial or {}) if k != _OVERFLOW)
    if function == "most_frequent":
        counted = [(k, n) for k, n in (partial or {}).items() if k != _OVERFLOW]
        if not counted:
            return None
        key, _ = min(counted, key=lambda kn: (-kn[1], kn[0]))
        return orjson.loads(key)
    raise ValueError(f"no value for {function}")  # pragma: no cover - definitions forbid it


def evaluate_all(
    definitions: Iterable[Definition], states: Mapping[str, State], now: datetime
) -> dict[str, Any]:
    """Every trait's value at ``now``; rfm traits after the traits they combine."""
    ordered = sorted(definitions, key=lambda d: d.function == "rfm")
    values: dict[str, Any] = {}
    for definition in ordered:
        values[definition.name] = evaluate(definition, states.get(definition.name, {}), now, values)
    return values


def expires_at(definition: Definition, state: State, now: datetime) -> datetime | None:
    """When the value evaluated at ``now`` may next change without a new event: the
    midnight the oldest bucket in the window leaves it (windows), the next midnight
    (recency, trend, rfm: they move with the calendar), never (all time)."""
    function = definition.function
    today = day_of(millis(now))

    def midnight(day: int) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)

    if function in ("recency", "trend", "rfm"):
        return midnight(today + 1) if state or function == "rfm" else None
    window = definition.window_days
    if window is None:
        return None
    inside = [int(k) for k in state if today - window + 1 <= int(k) <= today]
    later = [int(k) for k in state if int(k) > today]  # future-dated events enter later
    candidates = [d + window for d in inside] + later
    return midnight(min(candidates)) if candidates else None
