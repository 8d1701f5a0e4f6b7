"""The consent ledger: append-only records; the current state is derived from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, UTCDateTime, WorkspaceScoped

__all__ = ["ConsentRecord"]


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
