"""Tables of computed traits: definitions, per-profile state and value, back-fill jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["TraitBackfill", "TraitDefinitionRow", "TraitDirty", "TraitValue"]


class TraitDefinitionRow(WorkspaceScoped, Base):
    """A workspace's computed trait. ``status`` is ``backfilling`` while its state is being
    rebuilt from history (the pipeline then leaves it alone) and ``ready`` after."""

    __tablename__ = "computed_trait_definitions"

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TraitValue(WorkspaceScoped, Base):
    """One profile's state and current value of one computed trait. ``expires_at`` is when
    the value may change without a new event (a window moving on); readers re-evaluate
    from ``state`` past it."""

    __tablename__ = "computed_trait_values"
    __table_args__ = (Index("ix_computed_trait_values_expiry", "workspace_id", "expires_at"),)

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    value: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TraitDirty(WorkspaceScoped, Base):
    """A profile the pipeline touched while a back-fill ran: the back-fill recomputes it
    from history before it ends, so no event falls between the bulk pass and the stream."""

    __tablename__ = "computed_trait_dirty"

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class TraitBackfill(WorkspaceScoped, Base):
    """A back-fill of computed traits from the event history, with its progress."""

    __tablename__ = "computed_trait_backfills"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    names: Mapped[list[str]] = mapped_column(JSONValue)
    status: Mapped[str] = mapped_column(String(20))  # pending running completed failed
    phase: Mapped[str] = mapped_column(String(40), default="")
    events_total: Mapped[int] = mapped_column(Integer, default=0)
    profiles_written: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner: Mapped[str | None] = mapped_column(String(200))  # host/pid/random of its runner
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
