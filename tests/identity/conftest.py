"""Fixtures for identity: messages at chosen times and a feed through the identity stage."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coreo.db import Database
from coreo.identity.rules import DEFAULT_RULES
from coreo.identity.service import put_rules
from coreo.identity.stage import IdentityStage
from coreo.runtime.worker import Event

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def message(kind: str = "track", at: int = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": kind,
        "messageId": f"m{next(_ids)}",
        "timestamp": (T0 + timedelta(minutes=at)).isoformat(),
    }
    if kind == "track":
        base["event"] = "Viewed"
    return {**base, **fields}


Feed = Callable[..., list[str | None]]

DEVICES_LINK_KNOWN = DEFAULT_RULES.model_copy(update={"devices_link_known": True})


def let_devices_link_known(database: Database, workspace_id: str) -> None:
    """Rules under which a cookie may merge two known people (the defaults keep them apart)."""
    with database.transaction() as session:
        put_rules(session, workspace_id, DEVICES_LINK_KNOWN, actor="test")


@pytest.fixture
def feed(database: Database, tenant: Any) -> Feed:
    """Run messages through the identity stage, one batch; return each one's profile id."""

    def run(*messages: dict[str, Any], workspace_id: str | None = None) -> list[str | None]:
        events = [
            Event(0, n, workspace_id or tenant.workspace_id, m) for n, m in enumerate(messages)
        ]
        with database.transaction() as session:
            IdentityStage().process(session, events)
        return [e.annotations.get("profile_id") for e in events]

    return run


@pytest.fixture
def feed_profiles(database: Database, tenant: Any) -> Callable[..., list[str | None]]:
    """Run messages through the identity and profile stages, as the pipeline does."""
    from coreo.profiles.stage import ProfileStage, merge_traits

    def run(*messages: dict[str, Any]) -> list[str | None]:
        events = [Event(0, n, tenant.workspace_id, m) for n, m in enumerate(messages)]
        with database.transaction() as session:
            IdentityStage(on_merge=(merge_traits,)).process(session, events)
            ProfileStage().process(session, events)
        return [e.annotations.get("profile_id") for e in events]

    return run


@pytest.fixture
def feed_pipeline(database: Database, tenant: Any) -> Callable[..., list[str | None]]:
    """Run messages through the identity, profile and history stages in one batch, as the
    pipeline does (the history keeps each event's profile: what un-merge replays)."""
    from coreo.history.stage import HistoryStage
    from coreo.profiles.stage import ProfileStage, merge_traits

    def run(*messages: dict[str, Any]) -> list[str | None]:
        events = [
            Event(0, n, tenant.workspace_id, {"receivedAt": m["timestamp"], **m})
            for n, m in enumerate(messages)
        ]
        with database.transaction() as session:
            IdentityStage(on_merge=(merge_traits,)).process(session, events)
            ProfileStage().process(session, events)
            HistoryStage().process(session, events)
        return [e.annotations.get("profile_id") for e in events]

    return run
