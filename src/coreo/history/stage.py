"""The pipeline stage that appends processed events to the event history."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from coreo.db import driver_datetime, insert_rows_sqlite
from coreo.identity.identifiers import identifiers_of
from coreo.identity.rules import IdentityRules
from coreo.identity.service import rules_for
from coreo.identity.stage import HISTORY_COLUMNS
from coreo.privacy.crypto import crypto_of, identity_key, preload, seal_message
from coreo.runtime.worker import Event

__all__ = ["HistoryStage"]


# Run on the driver, many rows a statement. On PostgreSQL one array a column makes a batch
# one statement instead of SQLAlchemy's executemany (a quarter of the time for 500 rows);
# SQLite takes the same rows in multi-row VALUES (about as fast as SQLAlchemy there, kept
# so that both share one row shape).
_INSERT_SQLITE = """
INSERT INTO events (workspace_id, message_id, type, event, user_id, anonymous_id,
                    profile_id, timestamp, received_at, payload)
VALUES {values}
ON CONFLICT (workspace_id, message_id) DO NOTHING
"""
_INSERT_POSTGRES = """
INSERT INTO events (workspace_id, message_id, type, event, user_id, anonymous_id,
                    profile_id, timestamp, received_at, payload)
SELECT * FROM unnest(%b::varchar[], %b::varchar[], %b::varchar[], %b::varchar[],
                     %b::varchar[], %b::varchar[], %b::varchar[], %b::timestamptz[],
                     %b::timestamptz[], %b::text[])
ON CONFLICT (workspace_id, message_id) DO NOTHING
"""


def _time(value: object, dialect_name: str) -> datetime | str:
    """A message timestamp as the driver takes it (a naive one is refused, as before)."""
    if not isinstance(value, str):
        raise ValueError("the event has no timestamp")
    return driver_datetime(datetime.fromisoformat(value), dialect_name)


def _identities(
    session: Session, event: Event, rules: Callable[[str], IdentityRules]
) -> tuple[str | None, str | None]:
    """The event's user and anonymous id as the history's columns hold them: keyed as the
    identity graph keys them, so a person's events are found by their identifiers without
    the values being stored in clear. The identity stage notes both; without its note
    (a pipeline without it) they are read as it reads them, under the workspace's rules
    (trimmed, placeholders left out)."""
    notes = event.annotations
    read: dict[str, str] = {}
    if any(f"{kind}_key" not in notes for kind in HISTORY_COLUMNS):
        m = event.message
        read = {
            i.type: identity_key(session, i.type, i.value)
            for i in identifiers_of(
                {"userId": m.get("userId"), "anonymousId": m.get("anonymousId")},
                rules(event.workspace_id),
            )
        }
    user, anonymous = (notes.get(f"{k}_key", read.get(k)) for k in HISTORY_COLUMNS)
    return user, anonymous


class HistoryStage:
    """Insert each event once (a repeated message id is ignored: idempotent)."""

    name = "history"

    def process(self, session: Session, events: Sequence[Event]) -> None:
        connection = session.connection()
        dialect = connection.dialect.name
        rows: list[tuple[Any, ...]] = []
        sealing = crypto_of(session)
        if sealing is not None and sealing.seals:
            owners: dict[str, set[str]] = {}
            for e in events:
                if owner := e.annotations.get("profile_id"):
                    owners.setdefault(e.workspace_id, set()).add(owner)
            for workspace_id, profile_ids in owners.items():
                preload(session, workspace_id, profile_ids)
        rules = functools.cache(lambda workspace_id: rules_for(session, workspace_id))
        for event in events:
            m = event.message
            owner = event.annotations.get("profile_id")
            stored = seal_message(session, event.workspace_id, owner, m) if owner else m
            user_id, anonymous_id = _identities(session, event, rules)
            rows.append(
                (
                    event.workspace_id,
                    str(m["messageId"]),
                    str(m["type"]),
                    m.get("event") or m.get("name"),
                    user_id,
                    anonymous_id,
                    owner,
                    _time(m.get("timestamp"), dialect),
                    _time(m.get("receivedAt"), dialect),
                    orjson.dumps(stored).decode(),
                )
            )
        if not rows:
            return
        if dialect == "postgresql":  # one array a column: one statement, however many rows
            connection.exec_driver_sql(
                _INSERT_POSTGRES, tuple(list(c) for c in zip(*rows, strict=True))
            )
        else:
            insert_rows_sqlite(connection, _INSERT_SQLITE, rows)
