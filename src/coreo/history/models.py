"""The event history table: one row per processed event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, UTCDateTime, WorkspaceScoped

__all__ = ["EventRecord"]


class EventRecord(WorkspaceScoped, Base):
    """A processed event: the normalised message, indexed by identity and time."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user", "workspace_id", "user_id", "timestamp"),
        Index("ix_events_anonymous", "workspace_id", "anonymous_id", "timestamp"),
        Index("ix_events_name", "workspace_id", "event", "timestamp"),
        Index("ix_events_profile", "workspace_id", "profile_id", "timestamp"),
    )

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    event: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(300))
    anonymous_id: Mapped[str | None] = mapped_column(String(300))
    # The profile identity resolution gave the event when it was processed (the profile
    # may since have merged into another: follow Profile.merged_into).
    profile_id: Mapped[str | None] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)
