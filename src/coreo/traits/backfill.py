"""Back-fill computed traits from the event history with DuckDB.

A new or changed definition is computed for every profile at once: the workspace's history
is streamed out of the database (driver cursors, in chunks, handed to DuckDB as Arrow
tables, each event attributed to its profile's current survivor) into an embedded DuckDB.
The payloads are parsed once for every path the traits read, then one generated statement
per trait (:mod:`coreo.traits._backfill_sql`) gives each profile's row as the engine
(:mod:`coreo.traits.engine`) would store it — state, value and expiry — and rfm traits are
scored from those values; the rows go back to the database in chunks (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) without passing through Python objects one by one. While
it runs the pipeline leaves those traits alone and marks the profiles it touches; the
last step, in one transaction under the workspace's identity lock, recomputes the marked
profiles from history and makes the traits ``ready``, so no event is counted twice or
lost between the two.

Progress is kept on the job row (phase, events read, profiles written).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.orm import Session

from coreo.db import Database, driver_connection, driver_datetime, utcnow
from coreo.errors import ConflictError
from coreo.identity.models import Profile
from coreo.identity.service import lock_workspace
from coreo.ids import new_id
from coreo.privacy.crypto import open_message, preload
from coreo.profiles.models import SEALED_PREFIX
from coreo.traits import engine, service
from coreo.traits._backfill_sql import compile_trait, floor_day, parse_paths, rfm_rows, trait_rows
from coreo.traits.definitions import Definition
from coreo.traits.models import TraitBackfill, TraitDefinitionRow, TraitDirty

__all__ = [
    "compile_trait",
    "compute_rows",
    "compute_states",
    "extract",
    "run_backfill",
    "start_backfill",
]

_DIRTY = cast(Table, TraitDirty.__table__)
_CHUNK = 50_000  # events a chunk read from the database
_WRITE_CHUNK = 100_000  # rows a transaction written back
_HISTOGRAMS = ("distinct_count", "most_frequent")

Progress = Callable[[str, int, int], None]


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
    if function in _HISTOGRAMS:
        return _canonical_counts(state)
    if function in ("sum", "avg", "trend"):
        return {k: [int(v[0]), float(v[1])] for k, v in state.items()}
    if function in ("first", "last"):
        return {k: [int(v[0]), v[1], v[2]] for k, v in state.items()}
    return state


# -- reading the history ------------------------------------------------------------------------

# Events leave the database as they are stored: timestamps as text (SQLite) or epoch
# microseconds (PostgreSQL), made the engine's milliseconds in DuckDB (``engine.millis``:
# float seconds times 1000). Each event then counts for its profile's current survivor (an
# event without a profile row is left out), joined in DuckDB: SQLite would look the profile
# up event by event.
_HISTORY = """
    SELECT profile_id, message_id, {stamp}, type, event, payload FROM {events}
    WHERE workspace_id = {mark} AND profile_id IS NOT NULL
"""
_ADD_ROWS = (
    "INSERT INTO trait_rows SELECT profile_id, {name}, state, value, expires_day FROM ({statement})"
)
_MILLIS = "CAST(trunc(us::DOUBLE / 1000000::DOUBLE * 1000::DOUBLE) AS BIGINT)"


def _history_rows(
    session: Session, workspace_id: str, until: datetime | None, sqlite: bool
) -> Iterator[list[tuple[Any, ...]]]:
    """The history's rows in chunks, straight from the driver."""
    raw = driver_connection(session.connection())
    mark = "?" if sqlite else "%s"
    events = "events"
    if sqlite and session.execute(text("SELECT count(*) FROM workspaces")).scalar_one() <= 1:
        # The whole table is this workspace's: read it in order rather than through an
        # index, a random page lookup per event.
        events = "events NOT INDEXED"
    stamp = "timestamp" if sqlite else "(extract(epoch FROM timestamp) * 1000000)::bigint"
    statement = _HISTORY.format(stamp=stamp, events=events, mark=mark)
    params: list[Any] = [workspace_id]
    if until is not None:
        statement += f" AND timestamp <= {mark}"
        params.append(driver_datetime(until, "sqlite" if sqlite else "postgresql"))
    # PostgreSQL: a server-side cursor, so that the history is never all in memory at once.
    cursor = raw.cursor() if sqlite else raw.cursor(name="trait_backfill_history")
    try:
        cursor.execute(statement, params)
        while rows := cursor.fetchmany(_CHUNK):
            yield rows
    finally:
        cursor.close()


def _attribute_to_survivors(connection: Any, session: Session, workspace_id: str) -> None:
    """Give each event of ``history`` its profile's survivor; drop those without a profile."""
    import pyarrow as pa

    profiles = session.execute(
        select(Profile.id, Profile.merged_into).where(Profile.workspace_id == workspace_id)
    ).all()
    ids, survivors = (list(c) for c in zip(*profiles, strict=True)) if profiles else ([], [])
    owners = pa.table(
        {"id": pa.array(ids, pa.string()), "merged_into": pa.array(survivors, pa.string())}
    )
    connection.register("owners", owners)
    connection.execute("DELETE FROM history WHERE profile_id NOT IN (SELECT id FROM owners)")
    connection.execute(
        "UPDATE history SET profile_id = owners.merged_into FROM owners"
        " WHERE history.profile_id = owners.id AND owners.merged_into IS NOT NULL"
    )
    connection.unregister("owners")


def extract(
    database: Database,
    workspace_id: str,
    *,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    opened: bool = False,
) -> Any:
    """The workspace's history as an in-memory DuckDB table ``history``; returns the
    connection. Events count for their profile's current survivor. ``opened``: the
    events' sealed fields opened (for definitions that read them, ``needs_opening``)."""
    import duckdb
    import pyarrow as pa

    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE history (profile_id VARCHAR, message_id VARCHAR, ms BIGINT, day BIGINT,"
        " type VARCHAR, event VARCHAR, payload VARCHAR)"
    )
    sqlite = database.is_sqlite
    stamp = "epoch_us(CAST(stamp AS TIMESTAMP))" if sqlite else "stamp"
    insert = f"""
        INSERT INTO history
        SELECT profile_id, message_id, ms, {floor_day("ms")}, type, event, payload
        FROM (SELECT *, {_MILLIS} AS ms FROM (SELECT *, {stamp} AS us FROM chunk))
    """  # noqa: S608 - constant text
    read = 0
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        for rows in _history_rows(session, workspace_id, until, sqlite):
            ids, messages, stamps, types, events, payloads = zip(*rows, strict=True)
            if opened:
                payloads = tuple(_opened(session, workspace_id, ids, payloads))
            chunk = pa.table(
                {
                    "profile_id": pa.array(ids, pa.string()),
                    "message_id": pa.array(messages, pa.string()),
                    "stamp": pa.array(stamps, pa.string() if sqlite else pa.int64()),
                    "type": pa.array(types, pa.string()),
                    "event": pa.array(events, pa.string()),
                    "payload": pa.array(payloads, pa.string()),
                }
            )
            connection.register("chunk", chunk)
            connection.execute(insert)
            connection.unregister("chunk")
            read += len(rows)
            if progress is not None:
                progress(read)
        _attribute_to_survivors(connection, session, workspace_id)
    return connection


def needs_opening(session: Session, definitions: Sequence[Definition]) -> bool:
    """Whether a definition reads a field the history keeps sealed (an e-mail property,
    the user id, ...): then the back-fill opens the events, as the live engine sees them."""
    sealed = service.sealed_property(session)
    return any(sealed(p) for d in definitions for p in (d.property, *(w.path for w in d.where)))


def _opened(
    session: Session, workspace_id: str, owners: Sequence[str], payloads: Sequence[str]
) -> list[str]:
    preload(
        session,
        workspace_id,
        {o for o, p in zip(owners, payloads, strict=True) if SEALED_PREFIX in p},
    )
    return [
        orjson.dumps(open_message(session, workspace_id, owner, payload)).decode()
        if SEALED_PREFIX in payload
        else payload
        for owner, payload in zip(owners, payloads, strict=True)
    ]


# -- computing ----------------------------------------------------------------------------------


def compute_states(
    connection: Any, definitions: Sequence[Definition], now: datetime
) -> Iterator[tuple[Definition, str, engine.State]]:
    """(definition, profile, state) for every profile with matching events, one statement
    a trait over the raw payloads (the reference :func:`compute_rows` is checked against)."""
    today = engine.day_of(engine.millis(now))
    for definition in definitions:
        if definition.function == "rfm":
            continue
        statement, params = compile_trait(definition, today)
        cursor = connection.execute(statement, params)
        while batch := cursor.fetchmany(_CHUNK):
            for profile_id, state in batch:
                yield definition, profile_id, _decode(definition, state)


def _expiry_day(definition: Definition, state: engine.State, now: datetime) -> int | None:
    expires = engine.expires_at(definition, state, now)
    return None if expires is None else engine.day_of(engine.millis(expires))


def _rows_in_python(
    connection: Any, definition: Definition, profile_ids: list[str], now: datetime
) -> None:
    """Add the rows of these profiles to ``trait_rows`` through the engine (histograms the
    SQL cannot spell as the engine does)."""
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE trait_history AS SELECT * FROM history"
        " WHERE profile_id IN (SELECT unnest($1::VARCHAR[]))",
        [profile_ids],
    )
    statement, params = compile_trait(
        definition, engine.day_of(engine.millis(now)), source="trait_history"
    )
    rows = []
    for profile_id, spelled in connection.execute(statement, params).fetchall():
        state = _decode(definition, spelled)
        value = engine.evaluate(definition, state, now)
        rows.append(
            (
                profile_id,
                definition.name,
                orjson.dumps(state).decode(),
                orjson.dumps(value).decode(),
                _expiry_day(definition, state, now),
            )
        )
    connection.executemany("INSERT INTO trait_rows VALUES (?, ?, ?, ?, ?)", rows)
    connection.execute("DROP TABLE trait_history")


def compute_rows(
    connection: Any,
    definitions: Sequence[Definition],
    now: datetime,
    *,
    rfm: Sequence[Definition] = (),
) -> None:
    """Fill the DuckDB table ``trait_rows(profile_id, name, state, value, expires_day)``
    from ``history``: every profile's stored row of every trait with matching events, as
    the engine would write it (state and value as JSON text), then the ``rfm`` traits
    (their inputs among ``definitions``) for each of those profiles."""
    today = engine.day_of(engine.millis(now))
    plain = [d for d in definitions if d.function != "rfm"]
    parsed, params, columns = parse_paths(plain)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE trait_events AS {parsed}", params)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE trait_rows (profile_id VARCHAR, name VARCHAR,"
        " state VARCHAR, value VARCHAR, expires_day BIGINT)"
    )
    for definition in plain:
        statement, params = trait_rows(definition, today, columns)
        name = f"${len(params) + 1}"
        if definition.function not in _HISTOGRAMS:
            connection.execute(
                _ADD_ROWS.format(name=name, statement=statement),
                [*params, definition.name],
            )
            continue
        connection.execute(f"CREATE OR REPLACE TEMP TABLE trait_one AS {statement}", params)
        connection.execute(
            "INSERT INTO trait_rows SELECT profile_id, $1, state, value, expires_day"
            " FROM trait_one WHERE NOT fallback",
            [definition.name],
        )
        left = connection.execute("SELECT profile_id FROM trait_one WHERE fallback").fetchall()
        if left:
            _rows_in_python(connection, definition, [p for (p,) in left], now)
    connection.execute("DROP TABLE trait_events")
    by_name = {d.name: d for d in plain}
    for definition in rfm:
        statement, params = rfm_rows(definition, by_name, today)
        connection.execute(
            _ADD_ROWS.format(name=f"${len(params) + 1}", statement=statement),
            [*params, definition.name],
        )


# -- the job ------------------------------------------------------------------------------------


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


class LostBackfill(ConflictError):
    """Another runner took the back-fill over (this one stalled past the heartbeat timeout)."""


def _set(
    database: Database, workspace_id: str, job_id: str, *, owner: str | None, **fields: Any
) -> None:
    """Update the job row; with ``owner``, only while that runner still holds the job
    (LostBackfill otherwise, so a runner that lost it stops before writing more)."""
    with database.transaction(workspace_id=workspace_id) as session:
        query = update(TraitBackfill).where(TraitBackfill.id == job_id)
        if owner is not None:  # a step of the runner is a heartbeat too
            query = query.where(TraitBackfill.owner == owner)
            fields.setdefault("heartbeat_at", utcnow())
        changed = session.execute(query.values(**fields))
        if owner is not None and getattr(changed, "rowcount", 0) != 1:
            raise LostBackfill(f"back-fill {job_id} was taken over by another runner")


def _rfm_to_score(
    session: Session, workspace_id: str, definitions: Sequence[Definition]
) -> list[Definition]:
    """The rfm traits to score in DuckDB: those the back-fill changes (itself or an input)
    whose inputs it all computes."""
    changed = {d.name for d in definitions}
    computed = {d.name for d in definitions if d.function != "rfm"}
    ours = [d for d in definitions if d.function == "rfm"]
    ready = [
        d
        for d in service.definitions_of(session, workspace_id).ready
        if d.function == "rfm" and d.name not in changed
    ]
    return [
        d for d in [*ours, *ready] if ({d.name, *d.inputs} & changed) and set(d.inputs) <= computed
    ]


def run_backfill(
    database: Database,
    workspace_id: str,
    job_id: str,
    *,
    now: datetime | None = None,
    owner: str | None = None,
) -> TraitBackfill:
    """Run a back-fill job to the end (see the module docstring); returns the job. With
    ``owner`` (the runner that claimed it, ``coreo.traits.jobs``), every step first checks
    the job is still its own and stops with LostBackfill when another runner took it."""
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
        scored = _rfm_to_score(session, workspace_id, definitions)

    def mark(**fields: Any) -> None:
        _set(database, workspace_id, job_id, owner=owner, **fields)

    mark(status="running", phase="reading history", started_at=utcnow())
    try:
        with database.session() as session:
            opened = needs_opening(session, [*definitions, *scored])
            personal = service.personal_definitions(session, [*definitions, *scored])
        connection = extract(
            database,
            workspace_id,
            progress=lambda n: mark(events_total=n),
            opened=opened,
        )
        mark(phase="computing")
        compute_rows(connection, definitions, now, rfm=scored)
        mark(phase="writing")
        names_written = [*names, *(d.name for d in scored if d.name not in names)]
        written = _write_states(
            database,
            workspace_id,
            job_id,
            names_written,
            connection,
            now,
            owner=owner,
            personal=personal,
        )
        connection.close()
        mark(phase="catching up")
        with database.transaction(workspace_id=workspace_id) as session:
            held = session.scalar(select(TraitBackfill.owner).where(TraitBackfill.id == job_id))
            if owner is not None and held != owner:  # not ours any more: make nothing ready
                raise LostBackfill(f"back-fill {job_id} was taken over by another runner")
            _finish(session, workspace_id, definitions, versions, now, scored=scored)
        mark(status="completed", phase="", profiles_written=written, finished_at=utcnow())
    except LostBackfill:
        raise  # the job is the other runner's now: leave its row alone
    except Exception as error:
        mark(status="failed", error=str(error)[:500], finished_at=utcnow())
        raise
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        done = session.get(TraitBackfill, job_id)
        if done is None:  # pragma: no cover - the workspace was deleted meanwhile
            raise LookupError(job_id)
        return done


# -- writing ------------------------------------------------------------------------------------

_COLUMNS = "workspace_id, profile_id, name, state, value, expires_at, updated_at"
_UPSERT = (
    "ON CONFLICT (workspace_id, profile_id, name) DO UPDATE SET state = excluded.state,"
    " value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at"
)
# Rows in key order (the indexes grow at their ends rather than page by random page), the
# expiry day as UTCDateTime stores it: SQLAlchemy's text on SQLite, UTC on PostgreSQL.
_SQLITE_ROWS = """
    SELECT profile_id, name, state, value,
           strftime(make_timestamp(expires_day * 86400000000), '%Y-%m-%d %H:%M:%S.%f')
    FROM trait_rows ORDER BY profile_id, name
"""
_SQLITE_INSERT = """
    INSERT INTO computed_trait_values
        (workspace_id, profile_id, name, state, value, expires_at, updated_at)
    VALUES ({workspace}, ?, ?, ?, ?, ?, {updated})
    ON CONFLICT (workspace_id, profile_id, name) DO UPDATE SET state = excluded.state,
        value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at
"""
_POSTGRES_ROWS = """
    SELECT $1 AS workspace_id, profile_id, name, state, value,
           strftime(make_timestamp(expires_day * 86400000000), '%Y-%m-%d %H:%M:%S.%f') || '+00'
               AS expires_at,
           $2 AS updated_at
    FROM trait_rows ORDER BY profile_id, name
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_states(
    database: Database,
    workspace_id: str,
    job_id: str,
    names: Sequence[str],
    connection: Any,
    now: datetime,
    *,
    owner: str | None = None,
    personal: Sequence[Definition] = (),
) -> int:
    """Replace the traits' stored rows with ``trait_rows``, in chunks; returns how many
    profiles got rows. The rows of ``personal`` traits are sealed on the way
    (``service.write_rows``), never written in clear."""
    with database.transaction(workspace_id=workspace_id) as session:
        service.delete_values(session, workspace_id, names)
    profiles: set[str] = set()
    if personal:
        profiles |= _write_sealed(database, workspace_id, personal, connection, now)
        _set(database, workspace_id, job_id, owner=owner, profiles_written=len(profiles))
    if database.is_sqlite:
        updated = driver_datetime(now, "sqlite")
        insert = _SQLITE_INSERT.format(
            workspace=_literal(workspace_id), updated=_literal(str(updated))
        )
        cursor = connection.execute(_SQLITE_ROWS)
        while rows := cursor.fetchmany(_WRITE_CHUNK):
            with database.transaction(workspace_id=workspace_id) as session:
                session.connection().exec_driver_sql(insert, rows)
            profiles.update(row[0] for row in rows)
            _set(database, workspace_id, job_id, owner=owner, profiles_written=len(profiles))
        return len(profiles)
    import pyarrow.csv as pa_csv

    relation = connection.sql(
        _POSTGRES_ROWS,
        params=[workspace_id, now.isoformat()],
    )
    options = pa_csv.WriteOptions(include_header=False)
    for batch in relation.to_arrow_reader(_WRITE_CHUNK):
        csv = io.BytesIO()
        pa_csv.write_csv(batch, csv, options)
        _copy_rows(database, workspace_id, csv.getbuffer())
        profiles.update(batch.column(1).to_pylist())
        _set(database, workspace_id, job_id, owner=owner, profiles_written=len(profiles))
    return len(profiles)


def _write_sealed(
    database: Database,
    workspace_id: str,
    personal: Sequence[Definition],
    connection: Any,
    now: datetime,
) -> set[str]:
    """Write the rows of the ``personal`` traits through ``service.write_rows`` (which
    seals them) and take them out of ``trait_rows``; returns their profiles."""
    by_name = {d.name: d for d in personal}
    names = sorted(by_name)
    cursor = connection.execute(
        "SELECT profile_id, name, state, value, expires_day FROM trait_rows"
        " WHERE list_contains($1::VARCHAR[], name) ORDER BY profile_id, name",
        [names],
    )
    profiles: set[str] = set()
    while chunk := cursor.fetchmany(_WRITE_CHUNK):
        rows = [
            {
                "workspace_id": workspace_id,
                "profile_id": profile_id,
                "name": name,
                "property": by_name[name].property,
                "state": orjson.loads(state),
                "value": orjson.loads(value),
                "expires_at": None if day is None else datetime.fromtimestamp(day * 86_400, UTC),
                "updated_at": now,
            }
            for profile_id, name, state, value, day in chunk
        ]
        with database.transaction(workspace_id=workspace_id) as session:
            service.write_rows(session, rows)
        profiles.update(row["profile_id"] for row in rows)
    connection.execute("DELETE FROM trait_rows WHERE list_contains($1::VARCHAR[], name)", [names])
    return profiles


def _copy_rows(database: Database, workspace_id: str, data: memoryview) -> None:
    """COPY rows (CSV) into ``computed_trait_values`` on PostgreSQL. The table holds none
    of them unless written since they were deleted (an rfm row the pipeline wrote for a
    profile it touched meanwhile): then the chunk goes again, through an upsert."""
    from psycopg.errors import UniqueViolation

    copy_in = "COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
    try:
        with database.transaction(workspace_id=workspace_id) as session:
            raw = driver_connection(session.connection())
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    copy_in.format(table="computed_trait_values", columns=_COLUMNS)
                ) as copy,
            ):
                copy.write(data)
        return
    except UniqueViolation:
        pass
    with database.transaction(workspace_id=workspace_id) as session:
        raw = driver_connection(session.connection())
        raw.execute(
            "CREATE TEMP TABLE trait_values_load (LIKE computed_trait_values) ON COMMIT DROP"
        )
        with (
            raw.cursor() as cursor,
            cursor.copy(copy_in.format(table="trait_values_load", columns=_COLUMNS)) as copy,
        ):
            copy.write(data)
        raw.execute(
            f"INSERT INTO computed_trait_values ({_COLUMNS}) SELECT {_COLUMNS}"  # noqa: S608
            f" FROM trait_values_load {_UPSERT}"
        )


def _finish(
    session: Session,
    workspace_id: str,
    definitions: Sequence[Definition],
    versions: dict[str, int],
    now: datetime,
    *,
    scored: Sequence[Definition] = (),
) -> None:
    """Under the workspace lock: recompute what the pipeline touched meanwhile, re-evaluate
    rfm traits not ``scored`` with the states, and make the traits ready (unless changed
    again meanwhile)."""
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
    # rfm values combine other traits: re-evaluate them when they or their inputs changed
    # (unless scored with the states, by the same definition).
    changed = {d.name for d in definitions}
    if any(
        d.function == "rfm" and ({d.name, *d.inputs} & changed) and d not in scored
        for d in ready_now
    ):
        _reevaluate_rfm(session, workspace_id, now)


def _reevaluate_rfm(session: Session, workspace_id: str, now: datetime) -> None:
    """rfm values combine other traits: evaluate them for every profile with state."""
    ready = service.definitions_of(session, workspace_id).ready
    rfm = [d for d in ready if d.function == "rfm"]
    profiles = service.profiles_with_values(session, workspace_id)
    for start in range(0, len(profiles), 2_000):
        chunk = profiles[start : start + 2_000]
        stored = service.stored_states(session, workspace_id, chunk)
        rows: list[dict[str, Any]] = []
        for profile_id, by_name in stored.items():
            values = engine.evaluate_all(ready, service.states_of(by_name), now)
            rows.extend(
                service.row_for(d, workspace_id, profile_id, {}, values[d.name], now) for d in rfm
            )
        service.write_rows(session, rows)
