"""Profile traits: one current value per profile and trait, with where and when it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["ProfileTrait"]


class ProfileTrait(WorkspaceScoped, Base):
    """The surviving value of a trait, with its provenance (source and event time)."""

    __tablename__ = "profile_traits"

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONValue)
    source: Mapped[str] = mapped_column(String(100))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the event's time
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(100))
