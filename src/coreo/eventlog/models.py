"""Tables of the SQL event log (embedded SQLite and single-server PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, UTCDateTime, WorkspaceScoped

__all__ = ["LogConsumer", "LogHead", "LogLease", "LogMember", "LogRecord"]


class LogRecord(WorkspaceScoped, Base):
    """One appended record. (partition_no, log_offset) is its position."""

    __tablename__ = "event_log"

    partition_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    log_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(300))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogHead(Base):
    """The newest offset per partition; its row lock serialises appenders of a partition."""

    __tablename__ = "event_log_heads"

    partition_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_offset: Mapped[int] = mapped_column(BigInteger)


class LogConsumer(Base):
    """How far a consumer group has processed a partition."""

    __tablename__ = "event_log_consumers"

    consumer_group: Mapped[str] = mapped_column(String(100), primary_key=True)
    partition_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    log_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogMember(Base):
    """A live worker of a consumer group: it renews its row while it runs.

    The number of unexpired members is what partitions are balanced across.
    """

    __tablename__ = "event_log_members"

    consumer_group: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogLease(Base):
    """Which worker of a consumer group processes a partition, until ``expires_at``.

    A lease is taken over only once it has expired (the condition is part of the claiming
    statement, so two workers cannot both win it); its owner renews it well before.
    """

    __tablename__ = "event_log_leases"

    consumer_group: Mapped[str] = mapped_column(String(100), primary_key=True)
    partition_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
