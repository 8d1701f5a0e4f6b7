"""Tables of ingestion: de-duplication of message ids and the dead-letter queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, UTCDateTime, WorkspaceScoped

__all__ = ["DeadLetter", "SeenMessage"]


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
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
