"""Profile traits: one current value per profile and trait, with where and when it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from coreo.db import Base, JSONValue, UTCDateTime, WorkspaceScoped

__all__ = ["SEALED_PREFIX", "SEARCH_MAX_CHARS", "ProfileTrait", "search_key"]

SEARCH_MAX_CHARS = 200
SEALED_PREFIX = "enc:v1:"  # a personal trait sealed with its person's key (privacy.crypto)
# Code point order on both databases (PostgreSQL's default collation sorts by language
# rules), so that a prefix is one range of the index and pages follow the index order.
_SearchText = String(SEARCH_MAX_CHARS).with_variant(
    String(SEARCH_MAX_CHARS, collation="C"), "postgresql"
)


def search_key(name: str, value: Any) -> str | None:
    """The text a trait value is searched by; None when it is not searchable.

    Strings up to 200 characters, numbers and booleans as JSON writes them (``42``,
    ``4.5``, ``true``). E-mail addresses are trimmed and lower-cased, as ingestion stores
    them. Objects, lists and longer texts are not searchable.
    """
    if isinstance(value, str):
        text = value.strip().lower() if name == "email" else value
    elif isinstance(value, bool | int | float):
        text = orjson.dumps(value).decode()
    else:
        return None
    return text if len(text) <= SEARCH_MAX_CHARS and "\x00" not in text else None


class ProfileTrait(WorkspaceScoped, Base):
    """The surviving value of a trait, with its provenance (source and event time).

    ``search_value`` follows ``value`` (``search_key``) whenever the ORM writes a row; a
    Core INSERT or UPDATE of ``value`` must set it too.
    """

    __tablename__ = "profile_traits"
    __table_args__ = (
        Index("ix_profile_traits_search", "workspace_id", "name", "search_value", "profile_id"),
    )

    workspace_id: Mapped[str] = mapped_column(  # part of the key, so declared here
        String(32), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    profile_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONValue)
    source: Mapped[str] = mapped_column(String(100))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the event's time
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(100))
    search_value: Mapped[str | None] = mapped_column(_SearchText)


@event.listens_for(ProfileTrait, "before_insert")
@event.listens_for(ProfileTrait, "before_update")
def _keep_search_value(_mapper: Mapper[Any], _connection: Any, target: ProfileTrait) -> None:
    if isinstance(target.value, str) and target.value.startswith(SEALED_PREFIX):
        return  # sealed: its blind index was set when it was sealed
    target.search_value = search_key(target.name, target.value)
