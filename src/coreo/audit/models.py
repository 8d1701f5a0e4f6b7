"""Tables of the audit trail.

Entries form one hash chain per workspace (``chain`` is the workspace id, or ``system`` for
installation-wide events). Entries are never updated or deleted; ``audit_chains`` holds each
chain's head so that removing entries at the end is detected too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime

__all__ = ["AuditChain", "AuditEntry"]

# SQLite only auto-increments INTEGER PRIMARY KEY; the variant keeps BIGINT on PostgreSQL.
_Sequence = BigInteger().with_variant(Integer(), "sqlite")


class AuditChain(Base):
    """Head of one chain: the newest sequence number and hash."""

    __tablename__ = "audit_chains"

    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(_Sequence)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One audited action; ``hash`` covers its content and the previous entry's hash."""

    __tablename__ = "audit_entries"

    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(_Sequence, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
