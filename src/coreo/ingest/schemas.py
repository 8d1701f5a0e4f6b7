"""API shapes of the dead-letter queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

__all__ = [
    "DeadLetterPage",
    "DeadLetterRead",
    "DeadLetterSummary",
    "PlanViolationPage",
    "PlanViolationRead",
    "PurgeRequest",
    "PurgeResult",
    "ReplayRequest",
    "ReplayResult",
    "TrackingPlanRead",
    "TrackingPlanWrite",
    "ViolationCount",
    "ViolationSummary",
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


def _text_time(value: Any) -> Any:
    """Times are ISO-8601 strings here; a number is not silently read as a Unix epoch."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO-8601 date-time string")
    return value


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
    before: Annotated[datetime | None, BeforeValidator(_text_time)] = Field(
        default=None, description="Only letters created before (ISO-8601)."
    )

    @model_validator(mode="after")
    def _something_is_named(self) -> PurgeRequest:
        if not self.ids and self.status is None and self.before is None:
            raise ValueError("name the dead letters to purge: ids, a status or a date")
        return self


class PurgeResult(BaseModel):
    purged: int


class TrackingPlanWrite(BaseModel):
    """A source's tracking plan. Each event maps to a JSON Schema for its properties."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "warn", "block"] = Field(
        description="off: not checked; warn: keep and record; block: dead-letter."
    )
    events: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        max_length=2000,
        description="Event name -> JSON Schema (2020-12) of its properties.",
    )
    traits: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of identify traits (none: not checked)."
    )
    allow_unplanned: StrictBool = Field(
        default=False, description="Accept track events that are not in the plan."
    )


class TrackingPlanRead(TrackingPlanWrite):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    version: int
    updated_at: datetime
    updated_by: str


class PlanViolationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    plan_version: int
    event_type: str
    event_name: str | None
    message_id: str | None
    errors: list[str]
    action: Literal["kept", "blocked"]
    created_at: datetime


class PlanViolationPage(BaseModel):
    items: list[PlanViolationRead]
    next_after: str | None


class ViolationCount(BaseModel):
    event_name: str | None
    violations: int
    latest: datetime


class ViolationSummary(BaseModel):
    items: list[ViolationCount]
