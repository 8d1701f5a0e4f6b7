"""DuckDB SQL of the computed-trait back-fill: the engine's states, values and expiry days.

Both kinds of statement read a table of events ``(profile_id, message_id, ms, day, type,
event, ...)``. :func:`compile_trait` gives one trait's state per profile from the raw
``payload`` (checked against the engine by a property-based test; the back-fill uses it for
the few profiles the other statements leave to Python). :func:`trait_rows` gives the stored
row itself — state, value and expiry, spelled as the engine spells them — from the columns
:func:`parse_paths` extracted once for every path the traits read, so that the JSON of an
event is parsed once rather than once per trait and path.

Partials by function (see :mod:`coreo.traits.engine`): count → n; sum/avg/trend → [n,
total]; min/max → number; first/last → [ms, message_id, value]; distinct_count and
most_frequent → {json: n}; recency → ms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coreo.traits import engine
from coreo.traits.definitions import Definition, Predicate, path_segments

__all__ = ["compile_trait", "parse_paths", "rfm_rows", "trait_rows"]

_NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
_SCALAR = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT', 'BOOLEAN')"
_DAY = engine.DAY_MS
# Values of these JSON types are spelled by DuckDB as orjson spells them, unless a string
# holds a character either escapes (the engine's histogram keys are orjson's spellings).
_PLAIN_KEY = (
    "CASE WHEN {kind} = 'VARCHAR' AND NOT regexp_matches({text}, '[\"\\\\\\x00-\\x1f]') "
    "THEN '\"' || {text} || '\"' WHEN {kind} IN ('BIGINT', 'UBIGINT', 'BOOLEAN') THEN {text} END"
)

_INPUT = (
    "LEFT JOIN (SELECT profile_id, value AS {alias} FROM trait_rows WHERE name = {name})"
    " USING (profile_id)"
)

Columns = Mapping[str, tuple[str, str, str]]


def _json_path(path: str) -> str:
    return "$." + ".".join(f'"{segment}"' for segment in path_segments(path))


def floor_day(ms: str) -> str:
    """SQL of ``engine.day_of`` (DuckDB's ``//`` truncates towards zero)."""
    return f"(({ms}) - ((({ms}) % {_DAY}) + {_DAY}) % {_DAY}) // {_DAY}"


class _Sql:
    """SQL text with its parameters, built up piece by piece; paths are read from the
    payload, or from ``columns`` (path → kind, text, raw) extracted beforehand."""

    def __init__(self, columns: Columns | None = None) -> None:
        self.params: list[Any] = []
        self.columns = columns

    def value(self, value: Any) -> str:
        """A numbered placeholder: pieces are built in another order than they are read."""
        self.params.append(value)
        return f"${len(self.params)}"

    def path(self, path: str) -> tuple[str, str, str]:
        """(json type, string value, json value) expressions for a path of the payload."""
        if self.columns is not None:
            return self.columns[path]
        p = self.value(_json_path(path))
        return (
            f"json_type(payload, {p})",
            f"json_extract_string(payload, {p})",
            f"json_extract(payload, {p})",
        )

    def equal(self, kind: str, text: str, wanted: Any) -> str:
        if isinstance(wanted, bool):
            return f"({kind} = 'BOOLEAN' AND {text} = {self.value('true' if wanted else 'false')})"
        if isinstance(wanted, str):
            return f"({kind} = 'VARCHAR' AND {text} = {self.value(wanted)})"
        number = self.value(float(wanted))
        return f"({kind} IN {_NUMERIC} AND TRY_CAST({text} AS DOUBLE) = {number})"

    def predicate(self, predicate: Predicate) -> str:
        kind, text, _ = self.path(predicate.path)
        present = f"({kind} IS NOT NULL AND {kind} <> 'NULL')"
        op, wanted = predicate.op, predicate.value
        if op == "exists":
            return present
        if op == "not_exists":
            return f"NOT {present}"
        if op in ("eq", "ne", "in", "not_in"):
            options = wanted if op in ("in", "not_in") else [wanted]
            any_equal = " OR ".join(self.equal(kind, text, w) for w in options)
            negate = "NOT " if op in ("ne", "not_in") else ""
            return f"({present} AND {negate}({any_equal}))"
        if op == "contains":
            return f"({kind} = 'VARCHAR' AND contains({text}, {self.value(wanted)}))"
        if op == "starts_with":
            return f"({kind} = 'VARCHAR' AND starts_with({text}, {self.value(wanted)}))"
        symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        number = self.value(float(wanted))
        return f"({kind} IN {_NUMERIC} AND TRY_CAST({text} AS DOUBLE) {symbol} {number})"

    def matched(self, definition: Definition, today: int) -> tuple[str, str]:
        """(condition, value expression) of the events the trait observes."""
        where = ["TRUE"]
        if definition.types:
            where.append(f"type IN ({', '.join(self.value(t) for t in definition.types)})")
        if definition.events:
            where.append(f"event IN ({', '.join(self.value(e) for e in definition.events)})")
        where.extend(self.predicate(p) for p in definition.where)
        function = definition.function
        value = "NULL::DOUBLE"
        if definition.property is not None:
            kind, text, raw = self.path(definition.property)
            if function in ("sum", "avg", "min", "max", "trend"):
                value = f"CASE WHEN {kind} IN {_NUMERIC} THEN TRY_CAST({text} AS DOUBLE) END"
                if function != "trend":
                    where.append(f"{kind} IN {_NUMERIC}")
            elif function in ("distinct_count", "most_frequent") and self.columns is not None:
                value = _PLAIN_KEY.format(kind=kind, text=text)
                where.append(f"{kind} IN {_SCALAR}")
            else:
                value = f"CASE WHEN {kind} IN {_SCALAR} THEN {raw} END"
                where.append(f"{kind} IN {_SCALAR}")
        kept = definition.kept_days
        if kept is not None:
            where.append(f"day >= {int(today - kept + 1)}")
        return " AND ".join(where), value


def compile_trait(
    definition: Definition, today: int, source: str = "history"
) -> tuple[str, list[Any]]:
    """One statement giving ``(profile_id, state_json)`` for a trait, from the table
    ``source(profile_id, message_id, ms, day, type, event, payload)``."""
    sql = _Sql()
    where, value = sql.matched(definition, today)
    bucket = "'all'" if definition.kept_days is None else "CAST(day AS VARCHAR)"
    order = "(ms, message_id)"  # the engine's order of events: time, then message id
    partial = {
        "count": "to_json(count(*))",
        "sum": "to_json([count(*)::DOUBLE, sum(v)])",
        "avg": "to_json([count(*)::DOUBLE, sum(v)])",
        "trend": "to_json([count(*)::DOUBLE, coalesce(sum(v), 0)])",
        "min": "to_json(min(v))",
        "max": "to_json(max(v))",
        "first": f"json_array(min(ms), arg_min(message_id, {order}), arg_min(v, {order}))",
        "last": f"json_array(max(ms), arg_max(message_id, {order}), arg_max(v, {order}))",
        "distinct_count": "to_json(histogram(v::VARCHAR))",
        "most_frequent": "to_json(histogram(v::VARCHAR))",
        "recency": "to_json(max(ms))",
    }[definition.function]
    statement = f"""
        WITH matched AS (
            SELECT profile_id, message_id, ms, day, {value} AS v FROM {source}
            WHERE {where}
        ), buckets AS (
            SELECT profile_id, {bucket} AS bucket, {partial} AS partial
            FROM matched GROUP BY profile_id, bucket
        )
        SELECT profile_id, json_group_object(bucket, partial)::VARCHAR AS state
        FROM buckets GROUP BY profile_id
    """  # noqa: S608 - every value is a parameter; paths are checked by path_segments
    return statement, sql.params


def parse_paths(definitions: Sequence[Definition]) -> tuple[str, list[Any], Columns]:
    """A SELECT over ``history`` with the columns of every path the traits read (the
    payload parsed once an event), its parameters, and the columns by path."""
    paths: list[str] = []
    for definition in definitions:
        wanted = [p.path for p in definition.where]
        if definition.property is not None:
            wanted.append(definition.property)
        paths.extend(p for p in wanted if p not in paths)
    columns = {p: (f"k{i}", f"t{i}", f"r{i}") for i, p in enumerate(paths)}
    picked = "".join(
        f", json_type(j[{i + 1}]) AS k{i}, json_extract_string(j[{i + 1}], '$') AS t{i},"
        f" j[{i + 1}] AS r{i}"
        for i in range(len(paths))
    )
    source = "(SELECT *, json_extract(payload, $1) AS j FROM history)" if paths else "history"
    statement = f"SELECT profile_id, message_id, ms, day, type, event{picked} FROM {source}"  # noqa: S608 - generated names
    return statement, ([[_json_path(p) for p in paths]] if paths else []), columns


def _partials(function: str) -> tuple[str, str]:
    """(aggregates of a bucket, the bucket's partial as JSON) by function."""
    order = "(ms, message_id)"
    if function == "count":
        return "count(*) AS n", "n::VARCHAR::JSON"
    if function in ("sum", "avg"):
        return "count(*) AS n, sum(v) AS s", "json_array(n, s)"
    if function == "trend":
        return "count(*) AS n, coalesce(sum(v), 0)::DOUBLE AS s", "json_array(n, s)"
    if function in ("min", "max"):
        return f"{function}(v) AS x", "to_json(x)"
    if function in ("first", "last"):
        pick, arg = ("min", "arg_min") if function == "first" else ("max", "arg_max")
        return (
            f"{pick}(ms) AS xms, {arg}(message_id, {order}) AS xid, {arg}(v, {order}) AS x",
            "json_array(xms, xid, x)",
        )
    return "max(ms) AS x", "x::VARCHAR::JSON"  # recency


def _value(definition: Definition, today: int, inside: str) -> str:
    """The trait's value (JSON text) from its buckets; ``inside``: the window's filter."""
    function = definition.function

    def within(aggregate: str, where: str = inside) -> str:
        return f"{aggregate} FILTER (WHERE {where})"

    if function == "count":
        return f"coalesce({within('sum(n)')}, 0)::BIGINT::VARCHAR"
    if function == "sum":
        total = within("sum(s)")
        return f"CASE WHEN {within('count(*)')} > 0 THEN to_json(round({total}, 9)) ELSE '0' END"
    if function == "avg":
        return f"to_json(round({within('sum(s)')} / {within('sum(n)')}::DOUBLE, 9))"
    if function in ("min", "max"):
        return f"to_json({within(f'{function}(x)')})"
    if function in ("first", "last"):
        arg = "arg_min" if function == "first" else "arg_max"
        return f"{within(f'{arg}(x, (xms, xid))')}::VARCHAR"
    if function == "recency":
        return f"({today} - {floor_day(within('max(x)'))})::VARCHAR"
    # trend
    recent, base = definition.recent_days, definition.baseline_days
    use = "n" if definition.property is None else "s"
    now_sum = within(f"sum({use})", f"bday BETWEEN {today - recent + 1} AND {today}")
    base_sum = within(
        f"sum({use})", f"bday BETWEEN {today - recent - base + 1} AND {today - recent}"
    )
    return (
        f"CASE WHEN coalesce({base_sum}, 0) > 0 THEN to_json(round(coalesce({now_sum}, 0)::DOUBLE"
        f" / ({base_sum}::DOUBLE * {recent}::DOUBLE / {base}::DOUBLE), 6)) END"
    )


def _windows(definition: Definition, today: int) -> tuple[str, str]:
    """(the window's filter on ``bday``, the expiry day) of a trait."""
    window = definition.window_days
    inside = "TRUE" if window is None else f"bday BETWEEN {today - window + 1} AND {today}"
    if definition.function in ("recency", "trend"):
        return inside, str(today + 1)
    if window is None:
        return inside, "NULL::BIGINT"
    expiry = f"min(CASE WHEN {inside} THEN bday + {window} WHEN bday > {today} THEN bday END)"
    return inside, expiry


def trait_rows(definition: Definition, today: int, columns: Columns) -> tuple[str, list[Any]]:
    """One statement giving ``(profile_id, state, value, expires_day, fallback)`` for a
    trait from ``trait_events`` (:func:`parse_paths`): the engine's state and value as JSON
    text and the day its value expires. ``fallback`` marks histograms DuckDB cannot spell
    as the engine does (a value other than a plain string, integer or boolean, or more
    than ``engine.MAX_DISTINCT`` of them): state and value are then left to Python."""
    sql = _Sql(columns)
    where, value = sql.matched(definition, today)
    kept = definition.kept_days
    bday = "NULL::BIGINT" if kept is None else "day"
    inside, expiry = _windows(definition, today)
    state = (
        "json_object('all', any_value(partial))::VARCHAR"
        if kept is None
        else "json_group_object(bday::VARCHAR, partial)::VARCHAR"
    )
    matched = (
        f"SELECT profile_id, message_id, ms, day, {value} AS v FROM trait_events WHERE {where}"  # noqa: S608
    )
    if definition.function not in ("distinct_count", "most_frequent"):
        aggregates, partial = _partials(definition.function)
        statement = f"""
            WITH buckets AS (
                SELECT profile_id, {bday} AS bday, {aggregates}
                FROM ({matched}) GROUP BY profile_id, bday
            )
            SELECT profile_id, {state.replace("partial", partial)} AS state,
                   coalesce({_value(definition, today, inside)}, 'null') AS value,
                   {expiry} AS expires_day, FALSE AS fallback
            FROM buckets GROUP BY profile_id
        """  # noqa: S608 - every value is a parameter; paths are checked by path_segments
        return statement, sql.params
    top = "count(*)::VARCHAR" if definition.function == "distinct_count" else "arg_min(v, (-n, v))"
    empty = "'0'" if definition.function == "distinct_count" else "'null'"
    statement = f"""
        WITH keys AS (
            SELECT profile_id, {bday} AS bday, v, count(*) AS n
            FROM ({matched}) GROUP BY profile_id, bday, v
        ), buckets AS (
            SELECT profile_id, bday, json_group_object(coalesce(v, ''), n) AS partial,
                   count(*) AS keys, bool_and(v IS NOT NULL) AS plain
            FROM keys GROUP BY profile_id, bday
        ), windowed AS (
            SELECT profile_id, count(*) AS keys, {top} AS value
            FROM (SELECT profile_id, v, sum(n) AS n FROM keys WHERE {inside} GROUP BY ALL)
            GROUP BY profile_id
        )
        SELECT b.profile_id, {state} AS state, coalesce(any_value(w.value), {empty}) AS value,
               {expiry} AS expires_day,
               NOT bool_and(b.plain) OR max(b.keys) > {engine.MAX_DISTINCT}
                   OR coalesce(any_value(w.keys), 0) > {engine.MAX_DISTINCT} AS fallback
        FROM buckets b LEFT JOIN windowed w USING (profile_id) GROUP BY b.profile_id
    """  # noqa: S608 - every value is a parameter; paths are checked by path_segments
    return statement, sql.params


def _score(value: str, cuts: Sequence[float], sql: _Sql, *, lower_is_better: bool) -> str:
    """SQL of ``engine._rfm_score`` for a value given as JSON text."""
    number = f"json_extract_string({value}, '$')::DOUBLE"
    rank = " + ".join(["1", *(f"({number} > {sql.value(float(c))})::INT" for c in cuts)])
    score = f"6 - ({rank})" if lower_is_better else rank
    return f"CASE WHEN json_type({value}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN {score} END"


def rfm_rows(
    definition: Definition, inputs: Mapping[str, Definition], today: int
) -> tuple[str, list[Any]]:
    """One statement giving ``(profile_id, state, value, expires_day)`` of an rfm trait for
    every profile in ``trait_rows``, from its inputs' values there (a profile without a
    row for an input has that input's value of an empty state)."""
    sql = _Sql()
    joins, scores = [], []
    bins = definition.bins
    for alias, name, cuts, lower in (
        ("r", definition.recency, bins.recency, True),
        ("f", definition.frequency, bins.frequency, False),
        ("m", definition.monetary, bins.monetary, False),
    ):
        given = inputs[name or ""]
        empty = "0" if given.function in ("count", "sum", "distinct_count") else "null"
        joins.append(_INPUT.format(alias=alias, name=sql.value(given.name)))
        scores.append(
            _score(f"coalesce({alias}, '{empty}')::JSON", cuts, sql, lower_is_better=lower)
        )
    recency, frequency, monetary = scores
    statement = f"""
        SELECT profile_id, '{{}}' AS state,
               CASE WHEN ({recency}) IS NULL THEN 'null' ELSE to_json(
                   ({recency})::VARCHAR || coalesce({frequency}, 1)::VARCHAR
                   || coalesce({monetary}, 1)::VARCHAR)::VARCHAR END AS value,
               {today + 1} AS expires_day
        FROM (SELECT DISTINCT profile_id FROM trait_rows) {" ".join(joins)}
    """  # noqa: S608 - every value is a parameter
    return statement, sql.params
