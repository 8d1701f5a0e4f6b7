"""API shapes of the auth domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    Tag,
)

from coreo.auth.service import KeyKind

# At least one character that is neither whitespace nor a control character, in a form that
# Python, pydantic's Rust regex and JSON Schema (ECMA) read alike; str.strip() then never
# empties the value.
VISIBLE = r"[^\s\x00-\x1f\x7f\u0085]"


def _integral_float(value: Any) -> Any:
    """JSON Schema counts 30.0 as an integer; so do we. Booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ExpiryDays = Annotated[StrictInt, Ge(1), Le(3650), BeforeValidator(_integral_float)]

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPage",
    "ApiKeyRead",
    "ScopeName",
    "SecretKeyCreate",
    "WhoAmI",
    "WorkspaceRead",
    "WorkspaceUpdate",
    "WriteKeyCreate",
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

    display_name: str = Field(min_length=1, max_length=200, pattern=VISIBLE)


ScopeName = Literal[
    "ingest", "profiles:read", "profiles:write", "consent:write", "privacy:admin", "admin"
]


class _KeyCreateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=VISIBLE, examples=["crm-sync"])
    expires_in_days: ExpiryDays | None = None
    rate_limit_per_second: StrictFloat | None = Field(
        default=None, gt=0, le=1_000_000, description="Overrides the server's default per key."
    )


class SecretKeyCreate(_KeyCreateBase):
    """A server-side key with the scopes it needs."""

    kind: Literal["secret"] = "secret"
    scopes: list[ScopeName] = Field(min_length=1, max_length=16, examples=[["profiles:read"]])


class WriteKeyCreate(_KeyCreateBase):
    """A Segment-style write key: ingestion only, safe to ship inside a client app."""

    kind: Literal["write"]


def _key_kind(value: Any) -> str:
    kind = value.get("kind", "secret") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in ("secret", "write") else "secret"


ApiKeyCreate = Annotated[
    Annotated[SecretKeyCreate, Tag("secret")] | Annotated[WriteKeyCreate, Tag("write")],
    Discriminator(_key_kind),
]


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
