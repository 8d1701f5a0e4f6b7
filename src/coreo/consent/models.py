"""The consent ledger: append-only records; the current state is derived from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["ConsentRecord", "PurposesRow"]


class ConsentRecord(WorkspaceScoped, Base):
    """One decision of a person about one purpose (and channel): never updated, never
    deleted except by erasure."""

    __tablename__ = "consent_records"
    __table_args__ = (
        Index("ix_consent_records_subject", "workspace_id", "profile_id", "purpose", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(32))  # the subject, as recorded
    purpose: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(20))  # None: every channel
    status: Mapped[str] = mapped_column(String(12))  # granted | denied | withdrawn
    objection: Mapped[bool] = mapped_column(Boolean, default=False)  # GDPR Art. 21
    legal_basis: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(40))  # api, cli, import, event
    collection_point: Mapped[str | None] = mapped_column(String(200))
    notice_version: Mapped[str | None] = mapped_column(String(64))
    notice_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the notice text
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # keyed: proof, not the address
    user_agent_hash: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the person decided
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PurposesRow(WorkspaceScoped, Base):
    """A workspace's purposes and banner categories (absent: the installation's)."""

    __tablename__ = "consent_purposes"

    workspace_id: Mapped[str] = mapped_column(  # one row per workspace
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    taxonomy: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
