"""Workspaces and API keys: creation, lookup by token, revocation. Every change is audited.

A token looks like ``coreo_sk_<prefix>_<secret>`` (secret keys) or ``coreo_wk_<prefix>_<secret>``
(write keys for ingestion). The prefix is public and identifies the key; only the SHA-256 of
the whole token is stored. Tokens carry 256 random bits, so a fast hash is sufficient: there
is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.auth.models import ApiKey, Workspace
from coreo.db import utcnow
from coreo.errors import ConflictError, CoreoError, InvalidInputError, NotFoundError
from coreo.ids import new_id

__all__ = [
    "SCOPES",
    "InvalidCredentialsError",
    "KeyKind",
    "NewKey",
    "Principal",
    "authenticate",
    "create_api_key",
    "create_starter_keys",
    "create_workspace",
    "get_api_key",
    "get_workspace",
    "get_workspace_by_slug",
    "hash_token",
    "list_api_keys",
    "list_workspaces",
    "revoke_api_key",
    "touch_api_key",
    "update_workspace",
]

SCOPES: dict[str, str] = {
    "ingest": "send events through the Segment-compatible ingestion API",
    "profiles:read": "read customer profiles, identities and timelines",
    "profiles:write": "change customer profiles and identities",
    "consent:write": "record consent decisions",
    "privacy:admin": "run data subject requests, retention and erasure",
    "admin": "everything, including keys, workspace settings and the audit log",
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOKEN = re.compile(r"^coreo_(sk|wk)_([0-9a-z]{12})_([A-Za-z0-9_-]{43})$")
_PREFIX_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class KeyKind(StrEnum):
    SECRET = "secret"  # noqa: S105 (a key kind, not a password): server-side keys with chosen scopes
    WRITE = "write"  # Segment-style write keys: ingestion only, safe to embed in a client


_KIND_TAG = {KeyKind.SECRET: "sk", KeyKind.WRITE: "wk"}


class InvalidCredentialsError(CoreoError):
    """The token is malformed, unknown, revoked or expired."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified key and what it may do."""

    workspace_id: str
    key_id: str
    key_prefix: str
    kind: KeyKind
    scopes: frozenset[str]
    rate_limit_per_second: float | None

    @property
    def actor(self) -> str:
        return f"key:{self.key_prefix}"

    def has_scope(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key; ``token`` exists only here and is never stored."""

    key: ApiKey
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- workspaces ------------------------------------------------------------------------------


def create_workspace(
    *, session: Session, slug: str, display_name: str | None = None, actor: str
) -> Workspace:
    """Create a workspace; ``slug`` is its unique, URL-safe name."""
    if not _SLUG.fullmatch(slug):
        raise InvalidInputError(
            f"workspace name {slug!r} must be 1-63 lower-case letters, digits or '-', "
            "starting with a letter or digit"
        )
    if get_workspace_by_slug(session=session, slug=slug) is not None:
        raise ConflictError(f"workspace {slug!r} already exists")
    now = utcnow()
    workspace = Workspace(
        id=new_id("ws"),
        slug=slug,
        display_name=display_name or slug,
        created_at=now,
        updated_at=now,
    )
    session.add(workspace)
    session.flush()
    audit_service.record(
        session=session,
        chain=workspace.id,
        actor=actor,
        action="workspace.created",
        target=f"workspace:{workspace.id}",
        details={"slug": slug, "display_name": workspace.display_name},
    )
    return workspace


def get_workspace(*, session: Session, workspace_id: str) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def get_workspace_by_slug(*, session: Session, slug: str) -> Workspace | None:
    return session.execute(select(Workspace).where(Workspace.slug == slug)).scalar_one_or_none()


def list_workspaces(*, session: Session) -> Sequence[Workspace]:
    return session.execute(select(Workspace).order_by(Workspace.id)).scalars().all()


def update_workspace(
    *, session: Session, workspace_id: str, display_name: str, actor: str
) -> Workspace:
    """Rename a workspace (its slug stays), auditing the old and new values."""
    workspace = get_workspace(session=session, workspace_id=workspace_id)
    if workspace is None:
        raise NotFoundError(f"workspace {workspace_id} does not exist")
    before = workspace.display_name
    workspace.display_name = display_name
    workspace.updated_at = utcnow()
    audit_service.record(
        session=session,
        chain=workspace.id,
        actor=actor,
        action="workspace.updated",
        target=f"workspace:{workspace.id}",
        details={"display_name": {"from": before, "to": display_name}},
    )
    return workspace


# -- keys ------------------------------------------------------------------------------------


def _check_scopes(kind: KeyKind, scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if kind is KeyKind.WRITE:
        if chosen not in ([], ["ingest"]):
            raise InvalidInputError(
                "write keys carry exactly the 'ingest' scope", field="body.scopes"
            )
        return ["ingest"]
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInputError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}",
            field="body.scopes",
        )
    if not chosen:
        raise InvalidInputError("a secret key needs at least one scope", field="body.scopes")
    return chosen


def create_api_key(
    *,
    session: Session,
    workspace_id: str,
    name: str,
    kind: KeyKind,
    scopes: Iterable[str],
    actor: str,
    expires_in: timedelta | None = None,
    rate_limit_per_second: float | None = None,
) -> NewKey:
    """Create a key and return it with its token, which is shown once and never stored."""
    if get_workspace(session=session, workspace_id=workspace_id) is None:
        raise NotFoundError(f"workspace {workspace_id} does not exist")
    chosen = _check_scopes(kind, scopes)
    name = name.strip()
    if not name:
        raise InvalidInputError("a key needs a name", field="body.name")
    public = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))
    prefix = f"coreo_{_KIND_TAG[kind]}_{public}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    key = ApiKey(
        id=new_id("key"),
        workspace_id=workspace_id,
        kind=kind.value,
        name=name,
        prefix=prefix,
        secret_hash=hash_token(token),
        scopes=chosen,
        rate_limit_per_second=rate_limit_per_second,
        created_at=now,
        created_by=actor,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="api_key.created",
        target=f"api_key:{key.id}",
        details={"prefix": prefix, "kind": kind.value, "name": name, "scopes": chosen},
    )
    return NewKey(key=key, token=token)


def create_starter_keys(
    *, session: Session, workspace_id: str, label: str, actor: str
) -> tuple[NewKey, NewKey]:
    """Create the usual pair for a new workspace: an admin key and a write key.

    They are named "<label> admin key" and "<label> write key".
    """
    admin = create_api_key(
        session=session,
        workspace_id=workspace_id,
        name=f"{label} admin key",
        kind=KeyKind.SECRET,
        scopes=["admin"],
        actor=actor,
    )
    write = create_api_key(
        session=session,
        workspace_id=workspace_id,
        name=f"{label} write key",
        kind=KeyKind.WRITE,
        scopes=["ingest"],
        actor=actor,
    )
    return admin, write


def list_api_keys(
    *, session: Session, workspace_id: str, include_revoked: bool = False
) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.execute(query.order_by(ApiKey.id)).scalars().all()


def get_api_key(*, session: Session, workspace_id: str, key_ref: str) -> ApiKey:
    """Return a key of the workspace by id or public prefix, or raise NotFoundError."""
    column = ApiKey.prefix if key_ref.startswith("coreo_") else ApiKey.id
    key = session.execute(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id, column == key_ref)
    ).scalar_one_or_none()
    if key is None:
        raise NotFoundError(f"no API key {key_ref} in this workspace")
    return key


def revoke_api_key(*, session: Session, workspace_id: str, key_ref: str, actor: str) -> ApiKey:
    """Revoke a key for good; using it afterwards fails with 401."""
    key = get_api_key(session=session, workspace_id=workspace_id, key_ref=key_ref)
    if key.revoked_at is not None:
        raise ConflictError(f"API key {key.prefix} was already revoked")
    key.revoked_at = utcnow()
    key.revoked_by = actor
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="api_key.revoked",
        target=f"api_key:{key.id}",
        details={"prefix": key.prefix},
    )
    return key


def authenticate(*, session: Session, token: str, now: datetime | None = None) -> Principal:
    """Return the principal for ``token`` or raise InvalidCredentialsError."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidCredentialsError("the API key is malformed")
    prefix = f"coreo_{match.group(1)}_{match.group(2)}"
    key = session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_token(token)):
        raise InvalidCredentialsError("the API key is not valid")
    now = now or utcnow()
    if key.revoked_at is not None:
        raise InvalidCredentialsError("the API key was revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise InvalidCredentialsError("the API key has expired")
    return Principal(
        workspace_id=key.workspace_id,
        key_id=key.id,
        key_prefix=key.prefix,
        kind=KeyKind(key.kind),
        scopes=frozenset(key.scopes),
        rate_limit_per_second=key.rate_limit_per_second,
    )


def touch_api_key(*, session: Session, key_id: str, at: datetime) -> None:
    """Record that a key was used (callers throttle this; it is not on every request)."""
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = at
