"""The history stage stores what the message says, with the driver's own statements."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select

from coreo.db import Database
from coreo.history.models import EventRecord
from coreo.history.stage import HistoryStage
from coreo.identity.rules import DEFAULT_RULES
from coreo.identity.service import put_rules
from coreo.runtime.worker import Event
from tests.conftest import Tenant

TIMES = [
    "2025-03-14T09:21:33.123Z",  # as ingestion writes it
    "2025-03-14T10:21:33.5+01:00",
    "2025-03-14T09:21:33Z",
    "2025-03-14T09:21:33.000001+00:00",
]


def _event(tenant: Tenant, n: int, timestamp: object, **extra: object) -> Event:
    message = {
        "type": "page" if n % 2 else "track",
        "messageId": f"m{n}",
        "anonymousId": f"a{n}",
        "timestamp": timestamp,
        "receivedAt": "2025-03-14T09:30:00.000Z",
    } | extra
    return Event(0, n + 1, tenant.workspace_id, message)


def test_rows_match_the_messages(database: Database, tenant: Tenant) -> None:
    events = [_event(tenant, n, t, event="Viewed", userId="u") for n, t in enumerate(TIMES)]
    events.append(_event(tenant, 9, TIMES[0], name="Home"))
    events[0].annotations["profile_id"] = "p" * 32  # as the identity stage leaves it
    with database.transaction() as session:
        HistoryStage().process(session, events)
        HistoryStage().process(session, events[:2])  # repeats are ignored
    with database.transaction(write=False) as session:
        rows = {r.message_id: r for r in session.execute(select(EventRecord)).scalars()}
    assert len(rows) == 5
    for event in events:
        row, message = rows[event.message["messageId"]], event.message
        assert row.timestamp == datetime.fromisoformat(str(message["timestamp"]))
        assert row.received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
        assert row.type == message["type"]
        assert row.event == (message.get("event") or message.get("name"))
        assert (row.user_id, row.anonymous_id) == (message.get("userId"), message["anonymousId"])
        assert row.profile_id == event.annotations.get("profile_id")
        assert orjson.loads(row.payload) == message


@pytest.mark.parametrize(
    "timestamp", [None, 12, "2025-13-01T00:00:00.000Z", "yesterday", "2025-03-14T09:21:33"]
)
def test_a_bad_timestamp_fails_the_batch(
    database: Database, tenant: Tenant, timestamp: object
) -> None:
    with pytest.raises(ValueError), database.transaction() as session:
        HistoryStage().process(session, [_event(tenant, 0, timestamp)])


def test_without_the_identity_stages_note_ids_are_read_as_it_reads_them(
    database: Database, tenant: Tenant
) -> None:
    """The history's id columns hold what the identity graph would: trimmed values, and
    nothing for a placeholder the workspace's rules say is never read."""
    rules = DEFAULT_RULES.model_copy(update={"ignore": {"user_id": ("undefined",)}})
    with database.transaction() as session:
        put_rules(session, tenant.workspace_id, rules, actor="test")
    events = [
        _event(tenant, 0, TIMES[0], userId=" anna ", anonymousId=42),
        _event(tenant, 1, TIMES[0], userId="undefined"),
        _event(tenant, 2, TIMES[0], userId="ben"),
    ]
    events[2].annotations["user_id_key"] = "noted"  # the identity stage's note wins
    with database.transaction() as session:
        HistoryStage().process(session, events)
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(EventRecord.message_id, EventRecord.user_id, EventRecord.anonymous_id)
        ).all()
    assert sorted(rows) == [("m0", "anna", "42"), ("m1", None, "a1"), ("m2", "noted", "a2")]
