"""Tables of ingestion: de-duplication of message ids and the dead-letter queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["DeadLetter", "PlanViolation", "SeenMessage", "TrackingPlan"]


class SeenMessage(WorkspaceScoped, Base):
    """A message id accepted recently; a retry with the same id is acknowledged, not kept."""

    __tablename__ = "ingest_seen_messages"
    __table_args__ = (Index("ix_ingest_seen_messages_received_at", "received_at"),)

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeadLetter(WorkspaceScoped, Base):
    """An event that failed validation or processing, kept with its original payload."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_ws_status", "workspace_id", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    stage: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str | None] = mapped_column(String(20))
    event_name: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(100))
    key_id: Mapped[str | None] = mapped_column(String(32))  # the source that sent it
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TrackingPlan(WorkspaceScoped, Base):
    """The events and shapes a source (a write key) is expected to send."""

    __tablename__ = "tracking_plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), unique=True
    )
    mode: Mapped[str] = mapped_column(String(8))  # off | warn | block
    events: Mapped[dict[str, Any]] = mapped_column(JSONValue)  # name -> properties schema
    traits: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)  # identify traits schema
    allow_unplanned: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class PlanViolation(WorkspaceScoped, Base):
    """An event that broke its source's tracking plan (kept in warn mode, refused in block)."""

    __tablename__ = "tracking_plan_violations"
    __table_args__ = (
        Index("ix_plan_violations_event", "workspace_id", "key_id", "event_name", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    plan_version: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(20))
    event_name: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(100))
    errors: Mapped[list[str]] = mapped_column(JSONValue)
    action: Mapped[str] = mapped_column(String(8))  # kept | blocked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
