"""Computed traits: definitions, state per profile, replay from history, point-in-time.

Definitions live per workspace. A new or changed definition is ``backfilling`` until a
back-fill (:mod:`coreo.traits.backfill`) has rebuilt its state from the event history; the
pipeline stage (:mod:`coreo.traits.stage`) keeps ``ready`` ones up to date event by event.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import orjson
from sqlalchemy import Table, Text, delete, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.auth.models import Workspace
from coreo.db import Database, conflict_insert, driver_datetime, insert_rows_sqlite, utcnow
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from coreo.history.models import EventRecord
from coreo.identity.service import canonical_ids, cluster_members, lock_workspace
from coreo.privacy.crypto import (
    crypto_of,
    data_keys,
    is_sealed,
    open_computed,
    open_message,
    preload,
    reads_sealed,
    seal_computed,
)
from coreo.traits import engine
from coreo.traits.definitions import Definition, check_references
from coreo.traits.models import TraitDefinitionRow, TraitDirty, TraitValue

__all__ = [
    "Change",
    "Loaded",
    "Stored",
    "definition_rows",
    "definitions_of",
    "delete_definition",
    "delete_values",
    "features_as_of",
    "mark_dirty",
    "personal_definitions",
    "profiles_with_values",
    "put_definitions",
    "recompute_profiles",
    "refresh_due",
    "refresh_expired",
    "sealed_property",
    "stored_states",
    "values_of",
    "write_rows",
]

_log = logging.getLogger("coreo.traits")
_VALUES = cast(Table, TraitValue.__table__)
_DIRTY = cast(Table, TraitDirty.__table__)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A workspace's definitions: the ready ones (kept by the pipeline) and the names of
    those being back-filled."""

    ready: tuple[Definition, ...]
    backfilling: frozenset[str]
    # (type, event name) → the ready definitions an event of that kind may match
    _dispatch: dict[tuple[str, str | None], tuple[Definition, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def observing(self, message: Mapping[str, Any]) -> tuple[Definition, ...]:
        """The ready definitions (rfm aside) whose event type and name filters let
        ``message`` through; their ``where`` is left to :func:`engine.observe`."""
        kind, name = message.get("type"), engine.event_name(message)
        if not isinstance(kind, str) or not (name is None or isinstance(name, str)):
            return tuple(d for d in self.ready if d.function != "rfm")
        key = (kind, name)
        found = self._dispatch.get(key)
        if found is None:
            found = tuple(
                d
                for d in self.ready
                if d.function != "rfm"
                and (not d.types or kind in d.types)
                and (not d.events or name in d.events)
            )
            if len(self._dispatch) < 10_000:  # event names are open-ended
                self._dispatch[key] = found
        return found


def definition_rows(session: Session, workspace_id: str) -> list[TraitDefinitionRow]:
    return list(
        session.scalars(
            select(TraitDefinitionRow)
            .where(TraitDefinitionRow.workspace_id == workspace_id)
            .order_by(TraitDefinitionRow.name)
        )
    )


@lru_cache(maxsize=4096)
def _parsed(body: str) -> Definition:
    """A stored definition, parsed once (validation costs about a millisecond for 20)."""
    return Definition.model_validate_json(body)


_Stamp = tuple[tuple[str, str, str], ...]
_LOADED: dict[str, tuple[_Stamp, Loaded]] = {}  # workspace → (stored rows, definitions)
_LOADED_LOCK = threading.Lock()


def definitions_of(session: Session, workspace_id: str) -> Loaded:
    """Return the workspace's definitions.

    Their names, statuses and stored text are read on every call (one small query), so a
    change made by any process is seen at once; they are parsed, and the event dispatch
    rebuilt, only when that differs from what this process saw last."""
    stamp: _Stamp = tuple(
        (str(name), str(status), str(body))
        for name, status, body in session.execute(
            select(
                TraitDefinitionRow.name,
                TraitDefinitionRow.status,
                sql_cast(TraitDefinitionRow.definition, Text),
            )
            .where(TraitDefinitionRow.workspace_id == workspace_id)
            .order_by(TraitDefinitionRow.name)
        )
    )
    cached = _LOADED.get(workspace_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = Loaded(
        ready=tuple(_parsed(body) for _, status, body in stamp if status == "ready"),
        backfilling=frozenset(name for name, status, _ in stamp if status != "ready"),
    )
    with _LOADED_LOCK:
        _LOADED[workspace_id] = (stamp, loaded)
    return loaded


@dataclass(frozen=True, slots=True)
class Change:
    """What a put did: the names to back-fill and the names removed."""

    backfill: list[str]
    removed: list[str]


def put_definitions(
    session: Session,
    workspace_id: str,
    definitions: Sequence[Definition],
    *,
    actor: str,
    replace: bool = False,
) -> Change:
    """Create or change definitions (``replace``: also remove the workspace's others).

    A new or changed definition becomes ``backfilling`` with a new version; an unchanged
    one is left as it is. Audited as ``traits.defined``."""
    now = utcnow()
    lock_workspace(session, workspace_id)  # no pipeline batch straddles the change
    existing = {r.name: r for r in definition_rows(session, workspace_id)}
    given = {d.name: d for d in definitions}
    removed = sorted(set(existing) - set(given)) if replace else []
    kept = {n: Definition.model_validate(r.definition) for n, r in existing.items()}
    for name in removed:
        kept.pop(name)
    kept.update(given)
    check_references(list(kept.values()))
    backfill = []
    for definition in definitions:
        body = definition.model_dump(mode="json", exclude_defaults=True)
        row = existing.get(definition.name)
        if row is not None and row.definition == body:
            continue
        backfill.append(definition.name)
        if row is None:
            session.add(
                TraitDefinitionRow(
                    workspace_id=workspace_id,
                    name=definition.name,
                    definition=body,
                    version=1,
                    status="backfilling",
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.definition, row.version = body, row.version + 1
            row.status, row.updated_at = "backfilling", now
    for name in removed:
        _remove(session, workspace_id, existing[name])
    if backfill or removed:
        audit_service.record(
            session=session,
            chain=workspace_id,
            actor=actor,
            action="traits.defined",
            target=f"workspace:{workspace_id}",
            details={"changed": backfill, "removed": removed},
        )
    return Change(backfill=backfill, removed=removed)


def _remove(session: Session, workspace_id: str, row: TraitDefinitionRow) -> None:
    session.delete(row)
    delete_values(session, workspace_id, [row.name])


def delete_values(session: Session, workspace_id: str, names: Sequence[str]) -> None:
    """Drop every profile's stored state and value of these traits."""
    session.execute(
        delete(_VALUES).where(_VALUES.c.workspace_id == workspace_id, _VALUES.c.name.in_(names))
    )


def profiles_with_values(session: Session, workspace_id: str) -> list[str]:
    """The profiles that have stored computed-trait rows, sorted."""
    return sorted(
        session.scalars(
            select(_VALUES.c.profile_id).where(_VALUES.c.workspace_id == workspace_id).distinct()
        )
    )


def delete_definition(session: Session, workspace_id: str, name: str, *, actor: str) -> None:
    lock_workspace(session, workspace_id)
    rows = {r.name: r for r in definition_rows(session, workspace_id)}
    row = rows.get(name)
    if row is None:
        raise NotFoundError(f"no computed trait named {name!r}")
    users = sorted(
        r.name
        for r in rows.values()
        if name in Definition.model_validate(r.definition).inputs and r.name != name
    )
    if users:
        raise ConflictError(f"{name} is combined by {', '.join(users)}: remove those first")
    _remove(session, workspace_id, row)
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="traits.deleted",
        target=f"computed_trait:{name}",
    )


# -- state rows -----------------------------------------------------------------------------


def _is_sealed_row(row: Stored) -> bool:
    return is_sealed(row.state) or is_sealed(row.value)


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored row's state and value."""

    state: engine.State
    value: Any
    expires_at: datetime | None
    updated_at: datetime

    def current(self, now: datetime) -> bool:
        """Whether the stored value is still the value at ``now`` (its state untouched):
        evaluated by then and not expired (an unexpired state has nothing to prune)."""
        return self.updated_at <= now and (self.expires_at is None or now < self.expires_at)


def stored_states(
    session: Session, workspace_id: str, profile_ids: Iterable[str]
) -> dict[str, dict[str, Stored]]:
    """The stored states and values of these profiles: profile → trait name → row (plain
    values, for the pipeline: the ORM's bookkeeping per row is the larger part of a read)."""
    found: dict[str, dict[str, Stored]] = defaultdict(dict)
    ids = sorted(set(profile_ids))
    for start in range(0, len(ids), 500):
        for profile_id, name, state, value, expires_at, updated_at in session.execute(
            select(
                TraitValue.profile_id,
                TraitValue.name,
                TraitValue.state,
                TraitValue.value,
                TraitValue.expires_at,
                TraitValue.updated_at,
            ).where(
                TraitValue.workspace_id == workspace_id,
                TraitValue.profile_id.in_(ids[start : start + 500]),
            )
        ):
            found[profile_id][name] = Stored(state or {}, value, expires_at, updated_at)
    sealed = [
        (p, n, row) for p, rows in found.items() for n, row in rows.items() if _is_sealed_row(row)
    ]
    if sealed:
        preload(session, workspace_id, {p for p, _, _ in sealed})
        for profile_id, name, row in sealed:
            state, value = open_computed(
                session, workspace_id, profile_id, name, row.state, row.value
            )
            found[profile_id][name] = replace(row, state=state, value=value)
    return found


def row_for(
    definition: Definition,
    workspace_id: str,
    profile_id: str,
    state: engine.State,
    value: Any,
    now: datetime,
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "profile_id": profile_id,
        "name": definition.name,
        "property": definition.property,  # a personal one seals the row (``write_rows``)
        "state": state,
        "value": value,
        "expires_at": engine.expires_at(definition, state, now),
        "updated_at": now,
    }


# Run on the driver: SQLAlchemy's per-row JSON and date processing cost more than the
# statement. PostgreSQL takes one array a column (one statement however many rows), SQLite
# multi-row VALUES. JSON is stored as SQLAlchemy's JSON type would read it back (None too:
# a JSON null, as the type stores it).
_UPSERT_SQLITE = """
INSERT INTO computed_trait_values
    (workspace_id, profile_id, name, state, value, expires_at, updated_at)
VALUES {values}
ON CONFLICT (workspace_id, profile_id, name) DO UPDATE SET state = excluded.state,
    value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at
"""
_UPSERT_POSTGRES = """
INSERT INTO computed_trait_values
    (workspace_id, profile_id, name, state, value, expires_at, updated_at)
SELECT w, p, n, s::jsonb, v::jsonb, e, u
FROM unnest(%b::varchar[], %b::varchar[], %b::varchar[], %b::text[], %b::text[],
            %b::timestamptz[], %b::timestamptz[]) AS t(w, p, n, s, v, e, u)
ON CONFLICT (workspace_id, profile_id, name) DO UPDATE SET state = excluded.state,
    value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at
"""


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # e.g. an integer past 64 bits, which json takes
        return json.dumps(value)


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace state rows (one statement for the lot, a few on SQLite). The rows
    of a trait that aggregates a personal field (``reads_sealed``) are sealed with their
    person's data key (``seal_computed``)."""
    if not rows:
        return
    session.flush()
    rows = _sealed_where_personal(session, rows)
    connection = session.connection()
    dialect = connection.dialect.name
    values = [
        (
            row["workspace_id"],
            row["profile_id"],
            row["name"],
            _json(row["state"]),
            _json(row["value"]),
            None if row["expires_at"] is None else driver_datetime(row["expires_at"], dialect),
            driver_datetime(row["updated_at"], dialect),
        )
        for row in rows
    ]
    if dialect == "postgresql":
        connection.exec_driver_sql(
            _UPSERT_POSTGRES, tuple(list(c) for c in zip(*values, strict=True))
        )
    else:
        insert_rows_sqlite(connection, _UPSERT_SQLITE, values)


def sealed_property(session: Session) -> Callable[[str | None], bool]:
    """Whether a definition's ``property`` makes its stored rows sealed: it aggregates a
    field the history keeps sealed (an e-mail property, the user id, ...), while sealing
    is on."""
    crypto = crypto_of(session)
    if crypto is None or not crypto.seals:
        return lambda _path: False
    schema = crypto.schema
    return functools.cache(lambda path: path is not None and reads_sealed(path, schema))


def personal_definitions(session: Session, definitions: Iterable[Definition]) -> list[Definition]:
    """The definitions whose stored rows are sealed (``sealed_property``)."""
    sealed = sealed_property(session)
    return [d for d in definitions if sealed(d.property)]


def _sealed_where_personal(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sealed = sealed_property(session)
    chosen = [r for r in rows if sealed(r.get("property"))]
    if not chosen:
        return rows
    by_workspace: dict[str, set[str]] = defaultdict(set)
    for row in chosen:
        by_workspace[row["workspace_id"]].add(row["profile_id"])
    for workspace_id, profile_ids in by_workspace.items():
        data_keys(session, workspace_id, profile_ids)
    return [_sealed_row(session, r) if sealed(r.get("property")) else r for r in rows]


def _sealed_row(session: Session, row: dict[str, Any]) -> dict[str, Any]:
    state, value = seal_computed(
        session, row["workspace_id"], row["profile_id"], row["name"], row["state"], row["value"]
    )
    return {**row, "state": state, "value": value}


def states_of(rows: dict[str, Stored]) -> dict[str, engine.State]:
    return {name: dict(row.state or {}) for name, row in rows.items()}


def values_of(
    session: Session, workspace_id: str, profile_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The profile's computed traits as of now (windows re-evaluated, never stale)."""
    now = now or utcnow()
    ready = definitions_of(session, workspace_id).ready
    rows = stored_states(session, workspace_id, [profile_id]).get(profile_id, {})
    return engine.evaluate_all(ready, states_of(rows), now)


def mark_dirty(session: Session, workspace_id: str, profile_ids: Iterable[str]) -> None:
    ids = sorted(set(profile_ids))
    if ids:
        session.execute(
            conflict_insert(session, _DIRTY)
            .values([{"workspace_id": workspace_id, "profile_id": p} for p in ids])
            .on_conflict_do_nothing(index_elements=["workspace_id", "profile_id"])
        )


# -- replay from history ------------------------------------------------------------------------


def replay(
    session: Session,
    workspace_id: str,
    definitions: Sequence[Definition],
    profile_ids: Sequence[str],
    *,
    until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, dict[str, engine.State]]:
    """Rebuild state from the event history: profile → trait → state, counting the events
    of the profiles merged into each (by ``until``, if given) and none after ``until``."""
    now = now or utcnow()
    members = cluster_members(session, workspace_id, profile_ids, merged_by=until)
    states: dict[str, dict[str, engine.State]] = {p: {} for p in profile_ids}
    plain = [d for d in definitions if d.function != "rfm"]
    ids = sorted(members)
    for start in range(0, len(ids), 500):
        query = select(EventRecord.profile_id, EventRecord.payload).where(
            EventRecord.workspace_id == workspace_id,
            EventRecord.profile_id.in_(ids[start : start + 500]),
        )
        if until is not None:
            query = query.where(EventRecord.timestamp <= until)
        preload(session, workspace_id, ids[start : start + 500])  # keys first, then stream
        for member, payload in session.execute(query.execution_options(yield_per=2000)):
            message = open_message(session, workspace_id, str(member), payload)
            profile = states[members[str(member)]]
            for definition in plain:
                seen = engine.observe(definition, message)
                if seen is not None and engine.accepts(definition, seen, now):
                    profile[definition.name] = engine.add(
                        definition, profile.get(definition.name, {}), seen
                    )
    return states


def recompute_profiles(
    session: Session,
    workspace_id: str,
    profile_ids: Iterable[str],
    *,
    definitions: Sequence[Definition] | None = None,
    now: datetime | None = None,
) -> int:
    """Rebuild these profiles' computed traits from history and store them (after an
    un-merge, or for profiles the pipeline touched during a back-fill). Returns how many
    profiles were written."""
    now = now or utcnow()
    canonical = sorted(
        pid
        for pid, survivor in canonical_ids(session, workspace_id, profile_ids).items()
        if pid == survivor
    )
    wanted = definitions if definitions is not None else definitions_of(session, workspace_id).ready
    if not canonical or not wanted:
        return 0
    states = replay(session, workspace_id, wanted, canonical, now=now)
    rows = []
    for profile_id, by_name in states.items():
        values = engine.evaluate_all(wanted, by_name, now)
        for definition in wanted:
            state = by_name.get(definition.name, {})
            rows.append(
                row_for(definition, workspace_id, profile_id, state, values[definition.name], now)
            )
    write_rows(session, rows)
    return len(canonical)


def features_as_of(
    session: Session, workspace_id: str, profile_ids: Sequence[str], at: datetime
) -> dict[str, dict[str, Any]]:
    """Each profile's computed traits as they were at ``at``, for leak-free training sets:
    only events stamped at or before ``at`` count, and a merged profile's events only if
    the merge had happened by then. Unknown ids are left out; a merged id is answered for
    the profile it was merged into."""
    if at.tzinfo is None:
        raise InvalidInputError("give the time with its offset, e.g. 2026-03-01T00:00:00Z")
    definitions = definitions_of(session, workspace_id)
    if definitions.backfilling:
        names = ", ".join(sorted(definitions.backfilling))
        raise ConflictError(f"computed traits are being back-filled ({names}): try again later")
    targets = canonical_ids(session, workspace_id, profile_ids)
    states = replay(
        session, workspace_id, definitions.ready, sorted(set(targets.values())), until=at, now=at
    )
    return {
        pid: engine.evaluate_all(definitions.ready, states[target], at)
        for pid, target in targets.items()
    }


def refresh_expired(
    session: Session,
    workspace_id: str,
    *,
    now: datetime | None = None,
    limit: int = 10_000,
    after: str = "",
    evaluate_at: datetime | None = None,
) -> list[str]:
    """Re-evaluate the stored values of up to ``limit`` profiles (ids above ``after``, in
    order) whose value of a ready trait expired by ``now``, at ``evaluate_at`` (default
    ``now``); for readers of the table such as segments and exports. Returns the profiles
    refreshed. Holds the workspace's pipeline lock: no worker batch rewrites a state
    meanwhile."""
    now = now or utcnow()
    at = evaluate_at or now
    lock_workspace(session, workspace_id)
    ready = {d.name: d for d in definitions_of(session, workspace_id).ready}
    if not ready:  # values of traits being back-filled are rebuilt by their back-fill
        return []
    due = list(
        session.scalars(
            select(TraitValue.profile_id)
            .where(
                TraitValue.workspace_id == workspace_id,
                TraitValue.profile_id > after,
                TraitValue.name.in_(ready),
                TraitValue.expires_at <= now,
            )
            .group_by(TraitValue.profile_id)
            .order_by(TraitValue.profile_id)
            .limit(limit)
        )
    )
    rows = []
    for profile_id, by_name in stored_states(session, workspace_id, due).items():
        states = states_of(by_name)
        values = engine.evaluate_all(ready.values(), states, at)
        for name, definition in ready.items():
            state = engine.prune(definition, states.get(name, {}), at)
            rows.append(row_for(definition, workspace_id, profile_id, state, values[name], at))
    write_rows(session, rows)
    return due


def refresh_due(
    database: Database,
    *,
    now: datetime | None = None,
    batch: int = 1_000,
    stop: threading.Event | None = None,
) -> int:
    """:func:`refresh_expired` for every workspace, ``batch`` profiles a transaction in
    profile order (the pipeline waits for one batch at a time, and each batch reads on from
    the last: every due profile once), until ``stop`` is set; returns how many profiles
    were refreshed. A workspace that fails is logged and the others go on. Run by the
    server's timer and by ``coreo traits refresh``."""
    cutoff = now or utcnow()
    with database.transaction(write=False) as session:
        workspaces = list(session.scalars(select(Workspace.id).order_by(Workspace.id)))
    total = 0
    for workspace_id in workspaces:
        after = ""
        try:
            while stop is None or not stop.is_set():
                with database.transaction(workspace_id=workspace_id) as session:
                    done = refresh_expired(
                        session,
                        workspace_id,
                        now=cutoff,
                        limit=batch,
                        after=after,
                        evaluate_at=now or utcnow(),
                    )
                total += len(done)
                if len(done) < batch:
                    break
                after = done[-1]
        except Exception:
            _log.warning(
                "could not refresh the computed traits of workspace %s", workspace_id, exc_info=True
            )
    return total
