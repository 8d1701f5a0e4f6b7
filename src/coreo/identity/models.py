"""Tables of the identity graph: profiles, the identifiers that point at them, merges and
the merges that the rules refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = [
    "IdentityRulesRow",
    "MatchReview",
    "MergeRecord",
    "Profile",
    "ProfileIdentity",
    "ProfileSplit",
    "RefusedMerge",
]


class Profile(WorkspaceScoped, Base):
    """A person as Coreo knows them. A merged profile points at its survivor."""

    __tablename__ = "profiles"
    # Only merged profiles: on a column that is mostly NULL, SQLite's statistics count the
    # NULLs as one value and make "merged_into = ?" look unselective (a full scan).
    __table_args__ = (
        Index(
            "ix_profiles_merged_into",
            "merged_into",
            sqlite_where=text("merged_into IS NOT NULL"),
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_into: Mapped[str | None] = mapped_column(String(32))
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProfileIdentity(WorkspaceScoped, Base):
    """One identifier (type and value) and the profile it belongs to.

    With personal data sealed (``encrypt_personal_data``), ``value`` is the identifier's
    blind index (``coreo.privacy.crypto.identity_key``: a keyed hash, what the resolver and
    the lookups search by) and ``sealed`` the value itself, sealed with the data key of
    profile ``sealed_by`` (the profile that first held it: a member of the cluster, so an
    erasure shreds its key). Unsealed, ``value`` is the value and ``sealed`` is NULL. Read
    the values with ``coreo.identity.service.plain_identities``.
    """

    __tablename__ = "profile_identities"
    __table_args__ = (Index("ix_profile_identities_profile", "workspace_id", "profile_id"),)

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(300), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(32))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    # Known users (their user ids' keys) seen with this device or cookie, up to the rules'
    # limit + 1.
    users: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    sealed: Mapped[str | None] = mapped_column(Text, default=None)
    sealed_by: Mapped[str | None] = mapped_column(String(32), default=None)


class MergeRecord(WorkspaceScoped, Base):
    """Two profiles became one: what, when, why and which event caused it."""

    __tablename__ = "profile_merges"
    __table_args__ = (Index("ix_profile_merges_profiles", "workspace_id", "survivor_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(32))
    merged_id: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    identifier_type: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(100))
    identities: Mapped[list[Any]] = mapped_column(JSONValue)  # what the merged one brought
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefusedMerge(WorkspaceScoped, Base):
    """An event linked profiles that the rules keep apart; kept with the reason."""

    __tablename__ = "profile_merge_refusals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    profile_ids: Mapped[list[str]] = mapped_column(JSONValue)
    identifier_type: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ProfileSplit(WorkspaceScoped, Base):
    """Two profiles an un-merge split apart: the identity graph never joins them again.

    The pair holds for whatever the two profiles become: a profile merged into one of them
    later is kept apart from the other one too.
    """

    __tablename__ = "profile_splits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_id: Mapped[str] = mapped_column(String(32))  # the pair, sorted
    second_id: Mapped[str] = mapped_column(String(32))
    merge_id: Mapped[str] = mapped_column(String(32))  # the merge that was undone
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdentityRulesRow(WorkspaceScoped, Base):
    """A workspace's identity rules (absent: the defaults)."""

    __tablename__ = "identity_rules"

    workspace_id: Mapped[str] = mapped_column(  # one row per workspace
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class MatchReview(WorkspaceScoped, Base):
    """A pair of profiles the matcher found likely but not certain to be one person."""

    __tablename__ = "identity_match_reviews"
    __table_args__ = (
        Index("ix_identity_match_reviews_pair", "workspace_id", "left_id", "right_id", unique=True),
        Index("ix_identity_match_reviews_status", "workspace_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    left_id: Mapped[str] = mapped_column(String(32))
    right_id: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list[Any]] = mapped_column(JSONValue)
    status: Mapped[str] = mapped_column(String(16))  # open | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(Text)
