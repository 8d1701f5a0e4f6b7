"""The pipeline stage that appends processed events to the event history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

import orjson
from sqlalchemy import Table
from sqlalchemy.orm import Session

from coreo.db import conflict_insert
from coreo.history.models import EventRecord
from coreo.runtime.worker import Event

__all__ = ["HistoryStage"]

_EVENTS = cast(Table, EventRecord.__table__)


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("the event has no timestamp")
    return datetime.fromisoformat(value)


class HistoryStage:
    """Insert each event once (a repeated message id is ignored: idempotent)."""

    name = "history"

    def process(self, session: Session, events: Sequence[Event]) -> None:
        rows = []
        for event in events:
            m = event.message
            rows.append(
                {
                    "workspace_id": event.workspace_id,
                    "message_id": str(m["messageId"]),
                    "type": str(m["type"]),
                    "event": m.get("event") or m.get("name"),
                    "user_id": m.get("userId"),
                    "anonymous_id": m.get("anonymousId"),
                    "timestamp": _time(m.get("timestamp")),
                    "received_at": _time(m.get("receivedAt")),
                    "payload": orjson.dumps(m).decode(),
                }
            )
        session.execute(
            conflict_insert(session, _EVENTS).on_conflict_do_nothing(
                index_elements=["workspace_id", "message_id"]
            ),
            rows,
        )
