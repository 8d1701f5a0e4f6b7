"""Read the event history: counts and events of an identity in a time range."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreo.history.models import EventRecord

__all__ = ["count_events", "events_of"]


def count_events(*, session: Session, workspace_id: str) -> int:
    """Return how many events the workspace's history holds."""
    return int(
        session.execute(
            select(func.count())
            .select_from(EventRecord)
            .where(EventRecord.workspace_id == workspace_id)
        ).scalar_one()
    )


def events_of(
    *,
    session: Session,
    workspace_id: str,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> Sequence[EventRecord]:
    """Return an identity's events in time order, optionally within [since, until)."""
    if user_id is None and anonymous_id is None:
        raise ValueError("give a user id or an anonymous id")
    query = select(EventRecord).where(EventRecord.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(EventRecord.user_id == user_id)
    if anonymous_id is not None:
        query = query.where(EventRecord.anonymous_id == anonymous_id)
    if since is not None:
        query = query.where(EventRecord.timestamp >= since)
    if until is not None:
        query = query.where(EventRecord.timestamp < until)
    query = query.order_by(EventRecord.timestamp, EventRecord.message_id).limit(limit)
    return session.execute(query).scalars().all()
