"""API shapes of the dead-letter queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DeadLetterPage",
    "DeadLetterRead",
    "DeadLetterSummary",
    "PurgeRequest",
    "PurgeResult",
    "ReplayRequest",
    "ReplayResult",
]


class DeadLetterSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    stage: str = Field(description="Where it failed: validation, or a worker stage's name.")
    reason: str
    event_type: str | None
    event_name: str | None
    message_id: str | None
    status: Literal["open", "replayed"]
    replay_count: int
    received_at: datetime
    created_at: datetime
    replayed_at: datetime | None


class DeadLetterRead(DeadLetterSummary):
    payload: Any = Field(description="The event as it was received (or as the stage saw it).")


class DeadLetterPage(BaseModel):
    items: list[DeadLetterSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page; null at end.")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(
        default=None, max_length=1000, description="Letters to replay; omit for all open ones."
    )
    stage: str | None = Field(default=None, max_length=40, description="Only this stage.")


class ReplayResult(BaseModel):
    replayed: list[str]
    failed: dict[str, str] = Field(description="Letter id -> why it failed again.")


class PurgeRequest(BaseModel):
    """Which letters to delete: ``ids``, or every letter matching ``status`` and/or ``before``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"type": "array"}}},
                {"required": ["status"], "properties": {"status": {"type": "string"}}},
                {"required": ["before"], "properties": {"before": {"type": "string"}}},
            ]
        },
    )

    ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    status: Literal["open", "replayed"] | None = None
    before: datetime | None = Field(default=None, description="Only letters created before.")

    @model_validator(mode="after")
    def _something_is_named(self) -> PurgeRequest:
        if not self.ids and self.status is None and self.before is None:
            raise ValueError("name the dead letters to purge: ids, a status or a date")
        return self


class PurgeResult(BaseModel):
    purged: int
