"""API shapes of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditBreak", "AuditEntryRead", "AuditPage", "AuditVerification"]


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_after: int | None = Field(description="Pass as `after` to get the next page; null at end.")


class AuditBreak(BaseModel):
    seq: int
    reason: str


class AuditVerification(BaseModel):
    ok: bool
    checked: int = Field(description="Entries whose hash was recomputed.")
    breaks: list[AuditBreak]
