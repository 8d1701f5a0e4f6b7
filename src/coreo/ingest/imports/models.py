"""The import job table: one row per imported file, which is also its resume point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["ImportJob"]


class ImportJob(WorkspaceScoped, Base):
    """A file being (or having been) imported; ``rows_read`` advances with each chunk."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_file", "workspace_id", "source", "file_sha256", "mapping_sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(1))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    mapping_sha256: Mapped[str] = mapped_column(String(64))  # "" without a mapping
    stored_path: Mapped[str | None] = mapped_column(Text)  # an uploaded file's copy
    key_id: Mapped[str | None] = mapped_column(String(32))  # the uploading source
    status: Mapped[str] = mapped_column(String(16))  # pending|running|interrupted|completed|failed
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_duplicate: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    resumed: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(120))  # the process running it
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the runner's heartbeat
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
