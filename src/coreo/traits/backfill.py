"""Back-fill computed traits from the event history with DuckDB.

A new or changed definition is computed for every profile at once: the workspace's history
is streamed out of the database (oldest first, in chunks, attributed to each event's
current canonical profile) into an embedded DuckDB, one generated SQL statement per trait
produces the same bucket partials as the pipeline's engine (:mod:`coreo.traits.engine`),
and the states and values are written back in chunks. While it runs the pipeline leaves
those traits alone and marks the profiles it touches; the last step, in one transaction
under the workspace's identity lock, recomputes the marked profiles from history and
makes the traits ``ready``, so no event is counted twice or lost between the two.

Progress is kept on the job row (phase, events read, profiles written).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from coreo.db import Database, utcnow
from coreo.history.models import EventRecord
from coreo.identity.models import Profile
from coreo.identity.service import lock_workspace
from coreo.ids import new_id
from coreo.traits import engine, service
from coreo.traits.definitions import Definition, Predicate, path_segments
from coreo.traits.models import TraitBackfill, TraitDefinitionRow, TraitDirty

__all__ = ["compile_trait", "compute_states", "extract", "run_backfill", "start_backfill"]

_DIRTY = cast(Table, TraitDirty.__table__)
_NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
_SCALAR = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT', 'BOOLEAN')"
_CHUNK = 50_000

Progress = Callable[[str, int, int], None]


def _json_path(path: str) -> str:
    return "$." + ".".join(f'"{segment}"' for segment in path_segments(path))


class _Sql:
    """SQL text with its parameters, built up piece by piece."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def value(self, value: Any) -> str:
        """A numbered placeholder: pieces are built in another order than they are read."""
        self.params.append(value)
        return f"${len(self.params)}"

    def path(self, path: str) -> tuple[str, str, str]:
        """(json type, string value, json value) expressions for a path of the payload."""
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


def compile_trait(definition: Definition, today: int) -> tuple[str, list[Any]]:
    """One statement giving ``(profile_id, state_json)`` for a trait, from the table
    ``history(profile_id, message_id, ms, day, type, event, payload)``."""
    sql = _Sql()
    where = ["TRUE"]
    if definition.types:
        where.append(f"type IN ({', '.join(sql.value(t) for t in definition.types)})")
    if definition.events:
        where.append(f"event IN ({', '.join(sql.value(e) for e in definition.events)})")
    where.extend(sql.predicate(p) for p in definition.where)
    function = definition.function
    value = "NULL"
    if definition.property is not None:
        kind, text, raw = sql.path(definition.property)
        if function in ("sum", "avg", "min", "max", "trend"):
            value = f"CASE WHEN {kind} IN {_NUMERIC} THEN TRY_CAST({text} AS DOUBLE) END"
            if function != "trend":
                where.append(f"{kind} IN {_NUMERIC}")
        else:
            value = f"CASE WHEN {kind} IN {_SCALAR} THEN {raw} END"
            where.append(f"{kind} IN {_SCALAR}")
    kept = definition.kept_days
    if kept is not None:
        where.append(f"day >= {int(today - kept + 1)}")
    bucket = "'all'" if kept is None else "CAST(day AS VARCHAR)"
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
    }[function]
    statement = f"""
        WITH matched AS (
            SELECT profile_id, message_id, ms, day, {value} AS v FROM history
            WHERE {" AND ".join(where)}
        ), buckets AS (
            SELECT profile_id, {bucket} AS bucket, {partial} AS partial
            FROM matched GROUP BY profile_id, bucket
        )
        SELECT profile_id, json_group_object(bucket, partial)::VARCHAR AS state
        FROM buckets GROUP BY profile_id
    """  # noqa: S608 - every value is a parameter; paths are checked by path_segments
    return statement, sql.params


def _canonical_counts(state: engine.State) -> engine.State:
    """Histogram keys in the engine's spelling (orjson's), capped like the engine's."""
    out: engine.State = {}
    for bucket, counts in state.items():
        merged: dict[str, int] = {}
        for key, n in counts.items():
            spelled = orjson.dumps(orjson.loads(key)).decode()
            merged[spelled] = merged.get(spelled, 0) + int(n)
        if len(merged) > engine.MAX_DISTINCT:
            ranked = sorted(merged.items(), key=lambda kn: (-kn[1], kn[0]))
            kept = dict(ranked[: engine.MAX_DISTINCT])
            kept["…"] = sum(n for _, n in ranked[engine.MAX_DISTINCT :])
            merged = kept
        out[bucket] = merged
    return out


def _decode(definition: Definition, text: str) -> engine.State:
    state: engine.State = orjson.loads(text)
    function = definition.function
    if function in ("distinct_count", "most_frequent"):
        return _canonical_counts(state)
    if function in ("sum", "avg", "trend"):
        return {k: [int(v[0]), float(v[1])] for k, v in state.items()}
    if function in ("first", "last"):
        return {k: [int(v[0]), v[1], v[2]] for k, v in state.items()}
    return state


def extract(
    database: Database,
    workspace_id: str,
    *,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """The workspace's history as an in-memory DuckDB table ``history``; returns the
    connection. Events count for their profile's current survivor."""
    import duckdb
    import pyarrow as pa

    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE history (profile_id VARCHAR, message_id VARCHAR, ms BIGINT, day BIGINT,"
        " type VARCHAR, event VARCHAR, payload VARCHAR)"
    )
    owner = func.coalesce(Profile.merged_into, EventRecord.profile_id)
    query = (
        select(
            owner,
            EventRecord.message_id,
            EventRecord.timestamp,
            EventRecord.type,
            EventRecord.event,
            EventRecord.payload,
        )
        .join(
            Profile,
            (Profile.workspace_id == EventRecord.workspace_id)
            & (Profile.id == EventRecord.profile_id),
        )
        .where(EventRecord.workspace_id == workspace_id)
    )
    if until is not None:
        query = query.where(EventRecord.timestamp <= until)
    read = 0
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        result = session.execute(query.execution_options(yield_per=_CHUNK))
        for rows in result.partitions(_CHUNK):
            owners, ids, stamps, types, events, payloads = zip(*rows, strict=True)
            ms = [engine.millis(t) for t in stamps]
            chunk = pa.table(
                {
                    "profile_id": pa.array(owners, pa.string()),
                    "message_id": pa.array(ids, pa.string()),
                    "ms": pa.array(ms, pa.int64()),
                    "day": pa.array([m // engine.DAY_MS for m in ms], pa.int64()),
                    "type": pa.array(types, pa.string()),
                    "event": pa.array(events, pa.string()),
                    "payload": pa.array(payloads, pa.string()),
                }
            )
            connection.register("chunk", chunk)
            connection.execute("INSERT INTO history SELECT * FROM chunk")
            connection.unregister("chunk")
            read += len(rows)
            if progress is not None:
                progress(read)
    return connection


def compute_states(
    connection: Any, definitions: Sequence[Definition], now: datetime
) -> Iterator[tuple[Definition, str, engine.State]]:
    """(definition, profile, state) for every profile with matching events."""
    today = engine.day_of(engine.millis(now))
    for definition in definitions:
        if definition.function == "rfm":
            continue
        statement, params = compile_trait(definition, today)
        cursor = connection.execute(statement, params)
        while batch := cursor.fetchmany(_CHUNK):
            for profile_id, text in batch:
                yield definition, profile_id, _decode(definition, text)


def start_backfill(session: Session, workspace_id: str, names: Sequence[str]) -> TraitBackfill:
    job = TraitBackfill(
        id=new_id("tbf"),
        workspace_id=workspace_id,
        names=list(names),
        status="pending",
        phase="",
        events_total=0,
        profiles_written=0,
        created_at=utcnow(),
    )
    session.add(job)
    return job


def _set(database: Database, workspace_id: str, job_id: str, **fields: Any) -> None:
    with database.transaction(workspace_id=workspace_id) as session:
        session.execute(update(TraitBackfill).where(TraitBackfill.id == job_id).values(**fields))


def run_backfill(
    database: Database, workspace_id: str, job_id: str, *, now: datetime | None = None
) -> TraitBackfill:
    """Run a back-fill job to the end (see the module docstring); returns the job."""
    now = now or utcnow()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        job = session.get(TraitBackfill, job_id)
        if job is None:
            raise LookupError(job_id)
        rows = {
            r.name: r
            for r in session.scalars(
                select(TraitDefinitionRow).where(TraitDefinitionRow.workspace_id == workspace_id)
            )
        }
    names = [n for n in job.names if n in rows]
    versions = {n: rows[n].version for n in names}
    definitions = [Definition.model_validate(rows[n].definition) for n in names]
    _set(database, workspace_id, job_id, status="running", phase="reading history",
         started_at=utcnow())  # fmt: skip
    try:
        connection = extract(
            database,
            workspace_id,
            progress=lambda n: _set(database, workspace_id, job_id, events_total=n),
        )
        _set(database, workspace_id, job_id, phase="computing")
        written = _write_states(database, workspace_id, job_id, definitions, connection, now)
        connection.close()
        _set(database, workspace_id, job_id, phase="catching up")
        with database.transaction(workspace_id=workspace_id) as session:
            _finish(session, workspace_id, definitions, versions, now)
        _set(database, workspace_id, job_id, status="completed", phase="",
             profiles_written=written, finished_at=utcnow())  # fmt: skip
    except Exception as error:
        _set(database, workspace_id, job_id, status="failed", error=str(error)[:500],
             finished_at=utcnow())  # fmt: skip
        raise
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        done = session.get(TraitBackfill, job_id)
        if done is None:  # pragma: no cover - the workspace was deleted meanwhile
            raise LookupError(job_id)
        return done


def _write_states(
    database: Database,
    workspace_id: str,
    job_id: str,
    definitions: Sequence[Definition],
    connection: Any,
    now: datetime,
) -> int:
    """Replace the traits' stored rows with the computed states, in chunks."""
    names = [d.name for d in definitions]
    with database.transaction(workspace_id=workspace_id) as session:
        service.delete_values(session, workspace_id, names)
    profiles: set[str] = set()
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        with database.transaction(workspace_id=workspace_id) as session:
            service.write_rows(session, pending)
        pending.clear()
        _set(database, workspace_id, job_id, profiles_written=len(profiles))

    for definition, profile_id, state in compute_states(connection, definitions, now):
        value = engine.evaluate(definition, state, now)
        pending.append(service.row_for(definition, workspace_id, profile_id, state, value, now))
        profiles.add(profile_id)
        if len(pending) >= 5_000:
            flush()
    if pending:
        flush()
    return len(profiles)


def _finish(
    session: Session,
    workspace_id: str,
    definitions: Sequence[Definition],
    versions: dict[str, int],
    now: datetime,
) -> None:
    """Under the workspace lock: recompute what the pipeline touched meanwhile, re-evaluate
    rfm traits, and make the traits ready (unless changed again meanwhile)."""
    lock_workspace(session, workspace_id)
    dirty = list(
        session.scalars(
            select(TraitDirty.profile_id).where(TraitDirty.workspace_id == workspace_id)
        )
    )
    ready_now = [*service.definitions_of(session, workspace_id).ready, *definitions]
    if dirty:
        service.recompute_profiles(session, workspace_id, dirty, definitions=ready_now, now=now)
        session.execute(delete(_DIRTY).where(_DIRTY.c.workspace_id == workspace_id))
    for name, version in versions.items():
        session.execute(
            update(TraitDefinitionRow)
            .where(
                TraitDefinitionRow.workspace_id == workspace_id,
                TraitDefinitionRow.name == name,
                TraitDefinitionRow.version == version,
            )
            .values(status="ready")
        )
    # rfm values combine other traits: re-evaluate them when they or their inputs changed.
    changed = {d.name for d in definitions}
    if any(d.function == "rfm" and ({d.name, *d.inputs} & changed) for d in ready_now):
        _reevaluate_rfm(session, workspace_id, now)


def _reevaluate_rfm(session: Session, workspace_id: str, now: datetime) -> None:
    """rfm values combine other traits: evaluate them for every profile with state."""
    ready = service.definitions_of(session, workspace_id).ready
    rfm = [d for d in ready if d.function == "rfm"]
    profiles = service.profiles_with_values(session, workspace_id)
    for start in range(0, len(profiles), 2_000):
        chunk = profiles[start : start + 2_000]
        stored = service.stored_rows(session, workspace_id, chunk)
        rows: list[dict[str, Any]] = []
        for profile_id, by_name in stored.items():
            values = engine.evaluate_all(ready, service.states_of(by_name), now)
            rows.extend(
                service.row_for(d, workspace_id, profile_id, {}, values[d.name], now) for d in rfm
            )
        service.write_rows(session, rows)
