"""API shapes of the auth domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from coreo.auth.service import SCOPES, KeyKind

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPage",
    "ApiKeyRead",
    "WhoAmI",
    "WorkspaceRead",
    "WorkspaceUpdate",
]


class WorkspaceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    display_name: str
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"\S", examples=["crm-sync"])
    kind: KeyKind = Field(
        default=KeyKind.SECRET,
        description="secret: server-side key with chosen scopes; write: ingestion-only key.",
    )
    scopes: list[str] = Field(
        default_factory=list,
        max_length=len(SCOPES),
        description="Scopes of a secret key; write keys always get ['ingest'].",
        json_schema_extra={"items": {"type": "string", "enum": list(SCOPES)}},
        examples=[["profiles:read"]],
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    rate_limit_per_second: float | None = Field(
        default=None, gt=0, le=1_000_000, description="Overrides the server's default per key."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    prefix: str = Field(description="Public part of the key; identifies it in logs and lists.")
    kind: KeyKind
    name: str
    scopes: list[str]
    rate_limit_per_second: float | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    token: str = Field(description="The key itself. Shown only in this response; store it now.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]


class WhoAmI(BaseModel):
    workspace: WorkspaceRead
    key_id: str
    key_prefix: str
    kind: KeyKind
    scopes: list[str]
