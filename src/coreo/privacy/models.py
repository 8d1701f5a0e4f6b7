"""Tables of data subject rights: requests and their steps, the suppression list (erasure
tombstones, restrictions, objections), files written with personal data, legal holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = [
    "DataFile",
    "DataKey",
    "KeyStoreBinding",
    "KeyringEntry",
    "LegalHold",
    "PrivacyRequest",
    "Suppression",
]


class PrivacyRequest(WorkspaceScoped, Base):
    """A data subject request (GDPR Art. 15-21) from receipt to completion.

    The subject is named by profile id only: the identifier the person gave is used to
    find the profile and is not kept. After an erasure the id names nobody (a tombstone)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_status", "workspace_id", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # access portability rectification ...
    profile_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # received in_progress completed rejected
    verification: Mapped[str] = mapped_column(String(12))  # pending verified failed
    verification_method: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONValue)  # rectification's changes ...
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # extended: the new deadline
    extended: Mapped[bool] = mapped_column(default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)  # what was done
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Suppression(WorkspaceScoped, Base):
    """The global suppression list, applied by the policy check and the pipeline.

    ``erasure``: a tombstone, the keyed hash of one identifier of an erased person (events
    carrying it are dropped until new consent arrives); ``restriction`` (Art. 18) and
    ``objection`` (Art. 21(1)) hold a live profile id."""

    __tablename__ = "privacy_suppressions"
    __table_args__ = (
        Index("ix_privacy_suppressions_key", "workspace_id", "key_hash"),
        Index("ix_privacy_suppressions_profile", "workspace_id", "profile_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # erasure restriction objection
    key_hash: Mapped[str | None] = mapped_column(String(64))
    profile_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_reason: Mapped[str | None] = mapped_column(Text)


class DataFile(WorkspaceScoped, Base):
    """A file Coreo wrote with personal data in it (an event export): erasure rewrites it
    without the person, retention deletes it when it expires."""

    __tablename__ = "privacy_data_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # events-export
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(12))  # parquet
    rows: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last rewritten


class LegalHold(WorkspaceScoped, Base):
    """Data that retention must not purge: a person's (``profile_id``) or a whole data
    category's, until released."""

    __tablename__ = "privacy_legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    profile_id: Mapped[str | None] = mapped_column(String(32), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(200))


class DataKey(WorkspaceScoped, Base):
    """A person's data key (AES-256), wrapped by the key-encryption key derived from the
    master key. Erasure deletes it: whatever it sealed, backups included, is unreadable."""

    __tablename__ = "privacy_data_keys"

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyringEntry(Base):
    """An installation secret (the HMAC secret behind consent proofs, tombstones and the
    blind index), wrapped by the master key like the data keys, so rotating the master key
    keeps every hash comparable."""

    __tablename__ = "privacy_keyring"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyStoreBinding(Base):
    """Which key store of its own holds this database's keys (``COREO_KEY_DATABASE_URL``):
    at most one row. No row: the keys are the database's own tables. Every process checks
    it against the store it was given before touching a key, so a process that names
    another store, or none, never makes or destroys keys where nobody looks for them."""

    __tablename__ = "privacy_key_store_binding"
    __table_args__ = (CheckConstraint("id = 1", name="ck_privacy_key_store_binding_one"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    store_id: Mapped[str] = mapped_column(String(32))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime())
