"""Reading profiles: a profile with its identities, merge history and recent events; its
timeline; lookup by identifier and search by trait."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from coreo.errors import InvalidInputError, NotFoundError
from coreo.history import service as history_service
from coreo.history.models import EventRecord
from coreo.identity import service as identity_service
from coreo.identity.identifiers import Identifier
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity
from coreo.identity.service import cluster_members
from coreo.privacy.crypto import (
    blind_index,
    crypto_of,
    identity_key,
    identity_values,
    open_message,
    open_rows,
)
from coreo.profiles.models import ProfileTrait, search_key
from coreo.profiles.traits import DEFAULT_SCHEMA, TraitSchema
from coreo.traits import service as computed_traits

__all__ = [
    "RECENT_EVENTS",
    "SUMMARY_TRAITS",
    "Merged",
    "ProfileView",
    "SearchPage",
    "TimelinePage",
    "describe",
    "describe_event",
    "find_profile",
    "lookup",
    "members",
    "open_events",
    "search",
    "timeline",
    "view",
]

RECENT_EVENTS = 10
SUMMARY_TRAITS = ("email", "firstName", "lastName")  # shown with each search hit


class Merged(Exception):
    """The profile was merged; ``survivor`` is where it lives on."""

    def __init__(self, survivor: str) -> None:
        super().__init__(survivor)
        self.survivor = survivor


@dataclass(frozen=True, slots=True)
class ProfileView:
    profile: Profile
    identities: list[ProfileIdentity]
    merges: list[MergeRecord]
    traits: list[ProfileTrait]
    events: Sequence[EventRecord]  # the most recent ones
    computed: dict[str, Any]  # computed traits, evaluated now
    messages: dict[str, dict[str, Any]]  # the recent events opened, by message id
    # (type, stored value) of its identities → their values (opened where sealed)
    values: dict[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class TimelinePage:
    events: Sequence[EventRecord]
    next: tuple[datetime, str] | None  # where the next page starts; None on the last


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[tuple[str, dict[str, Any]]]  # profile id and its summary traits
    next: tuple[str, str] | None  # (search value, profile id) after which the next starts


def find_profile(session: Session, workspace_id: str, profile_id: str) -> Profile:
    """The live profile ``profile_id``; raises Merged (with the survivor) or NotFoundError."""
    profile = session.get(Profile, profile_id)
    if profile is None or profile.workspace_id != workspace_id:
        raise NotFoundError(f"no profile {profile_id!r}")
    if profile.merged_into is not None:
        raise Merged(profile.merged_into)
    return profile


def members(session: Session, workspace_id: str, profile_id: str) -> list[str]:
    """A live profile's id and the ids of every profile merged into it (events keep the
    profile they were attributed to when processed)."""
    return list(cluster_members(session, workspace_id, [profile_id]))


def view(session: Session, workspace_id: str, profile_id: str) -> ProfileView:
    profile = find_profile(session, workspace_id, profile_id)
    # The few rows are sorted here: ordered in SQL, the key's (workspace, type, value) order
    # tempts SQLite into walking the whole workspace instead of the profile's index.
    identities = sorted(
        session.scalars(
            select(ProfileIdentity).where(
                ProfileIdentity.workspace_id == workspace_id,
                ProfileIdentity.profile_id == profile.id,
            )
        ),
        key=lambda i: (i.type, i.first_seen, i.value),
    )
    merges = list(
        session.scalars(
            select(MergeRecord)
            .where(
                MergeRecord.workspace_id == workspace_id,
                or_(MergeRecord.survivor_id == profile.id, MergeRecord.merged_id == profile.id),
            )
            .order_by(MergeRecord.at, MergeRecord.id)
        )
    )
    traits = list(
        session.scalars(
            select(ProfileTrait)
            .where(ProfileTrait.workspace_id == workspace_id, ProfileTrait.profile_id == profile.id)
            .order_by(ProfileTrait.name)
        )
    )
    events = history_service.profile_events(
        session=session,
        workspace_id=workspace_id,
        profile_ids=members(session, workspace_id, profile.id),
        limit=RECENT_EVENTS,
    )
    computed = computed_traits.values_of(session, workspace_id, profile.id)
    messages = open_events(session, workspace_id, events)
    values = identity_values(session, workspace_id, identities)
    return ProfileView(profile, identities, merges, traits, events, computed, messages, values)


def timeline(
    session: Session,
    *,
    workspace_id: str,
    profile_id: str,
    before: tuple[datetime, str] | None = None,
    types: Collection[str] = (),
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> TimelinePage:
    """A page of a live profile's events (and those of profiles merged into it), newest
    first; raises Merged or NotFoundError like ``find_profile``."""
    profile = find_profile(session, workspace_id, profile_id)
    found = history_service.profile_events(
        session=session,
        workspace_id=workspace_id,
        profile_ids=members(session, workspace_id, profile.id),
        before=before,
        types=types,
        event=event,
        since=since,
        until=until,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return TimelinePage(page, (page[-1].timestamp, page[-1].message_id) if more else None)


def _after_prefix(prefix: str) -> str | None:
    """The least text above every text that starts with ``prefix`` (code point order)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are no characters
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def search(
    session: Session,
    *,
    workspace_id: str,
    trait: str,
    value: str,
    prefix: bool = False,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> SearchPage:
    """Live profiles whose trait ``trait`` is ``value`` (or starts with it), a page at a
    time in (value, profile id) order, with their summary traits.

    Values compare as ``profiles.models.search_key`` stores them: exactly, except e-mail
    addresses (trimmed, lower-case).
    """
    key = search_key(trait, value)
    if key is None:
        return SearchPage([], None)
    crypto = crypto_of(session)
    if crypto is not None and crypto.seals and crypto.schema.rule(trait).personal:
        if prefix:
            raise InvalidInputError(
                f"{trait} is personal data, stored encrypted: it is found by its exact value, "
                "not by a prefix",
                field="query.prefix",
            )
        key = blind_index(session, trait, value)
        if key is None:
            return SearchPage([], None)
    column = ProfileTrait.search_value
    query = (
        select(ProfileTrait.profile_id, column)
        .join(Profile, Profile.id == ProfileTrait.profile_id)
        .where(
            ProfileTrait.workspace_id == workspace_id,
            ProfileTrait.name == trait,
            Profile.workspace_id == workspace_id,
            Profile.merged_into.is_(None),
        )
        .order_by(column, ProfileTrait.profile_id)
    )
    if not prefix:
        query = query.where(column == key)
    elif key:
        upper = _after_prefix(key)
        query = query.where(column >= key, *([column < upper] if upper is not None else []))
    else:
        query = query.where(column.is_not(None))
    if after is not None:
        query = query.where(
            or_(column > after[0], and_(column == after[0], ProfileTrait.profile_id > after[1]))
        )
    rows = session.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    summaries: dict[str, dict[str, Any]] = {r.profile_id: {} for r in page}
    names = sorted({trait, *SUMMARY_TRAITS})
    stored = session.execute(
        select(ProfileTrait.profile_id, ProfileTrait.name, ProfileTrait.value).where(
            ProfileTrait.workspace_id == workspace_id,
            ProfileTrait.profile_id.in_(sorted(summaries)),
            ProfileTrait.name.in_(names),
        )
    ).all()
    for profile_id, name, trait_value in open_rows(session, workspace_id, stored):
        summaries[profile_id][name] = trait_value
    last = page[-1] if len(rows) > limit else None
    return SearchPage(
        [(r.profile_id, summaries[r.profile_id]) for r in page],
        (str(last.search_value), str(last.profile_id)) if last is not None else None,
    )


def lookup(session: Session, workspace_id: str, identifier: Identifier) -> str:
    """The id of the profile holding ``identifier``; NotFoundError when none does."""
    profile_id = session.scalar(
        select(ProfileIdentity.profile_id).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.type == identifier.type,
            ProfileIdentity.value == identity_key(session, identifier.type, identifier.value),
        )
    )
    if profile_id is None:
        raise NotFoundError(f"no profile has {identifier.type} {identifier.value!r}")
    return str(profile_id)


def lookup_given(session: Session, workspace_id: str, kind: str, raw: str) -> str:
    """The profile holding the identifier a person gave (``kind``, ``raw``), keyed as the
    workspace's identity rules say (by default e-mail by mailbox); NotFoundError when none
    does, InvalidInputError for an e-mail that is no address."""
    rules = identity_service.rules_for(session, workspace_id)
    text = rules.key(kind, raw.strip())
    if text is None:
        raise InvalidInputError("not an e-mail address", field=f"query.{kind}")
    try:
        return lookup(session, workspace_id, Identifier(kind, text))
    except NotFoundError:
        # An address the upgrade left under its exact key (its mailbox key is another
        # person's: ``identity.service.rekey_emails``), or stored under ``email_key:
        # exact`` before the rules went back to mailbox keys.
        exact = raw.strip().lower()
        if kind != "email" or exact == text:
            raise
        return lookup(session, workspace_id, Identifier(kind, exact))


def open_events(
    session: Session, workspace_id: str, records: Sequence[EventRecord]
) -> dict[str, dict[str, Any]]:
    """message id → the event as received (personal fields opened with their keys)."""
    return {
        r.message_id: open_message(session, workspace_id, r.profile_id, r.payload) for r in records
    }


def describe_event(record: EventRecord, message: dict[str, Any]) -> dict[str, Any]:
    """An event as the API shows it: what happened, when, and its properties (a track,
    page or screen call's ``properties``, an identify or group call's ``traits``).
    ``message``: the event opened (``open_events``)."""
    details = message.get("traits" if record.type in ("identify", "group") else "properties")
    return {
        "message_id": record.message_id,
        "type": record.type,
        "event": record.event,
        "timestamp": record.timestamp,
        "received_at": record.received_at,
        "profile_id": record.profile_id,
        "properties": details if isinstance(details, dict) else {},
    }


def describe(shown: ProfileView, schema: TraitSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
    """A profile as the API shows it."""
    profile = shown.profile
    return {
        "id": profile.id,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "identities": [
            {
                "type": i.type,
                "value": shown.values.get((i.type, i.value), i.value),
                "first_seen": i.first_seen,
                "last_seen": i.last_seen,
                "shared": i.shared,
            }
            for i in shown.identities
        ],
        "traits": {
            t.name: {
                "value": t.value,
                "source": t.source,
                "observed_at": t.observed_at,
                "first_seen_at": t.first_seen_at,
                "personal": schema.rule(t.name).personal,
            }
            for t in shown.traits
        },
        "computed_traits": shown.computed,
        "recent_events": [describe_event(e, shown.messages[e.message_id]) for e in shown.events],
        "merges": [
            {
                "id": m.id,
                "undone_at": m.undone_at,
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "at": m.at,
                "reason": m.reason,
                "message_id": m.message_id,
                # What the merged profile brought (as stored where it has moved on since).
                "identities": [
                    {"type": t, "value": shown.values.get((t, v), v)} for t, v in m.identities
                ],
            }
            for m in shown.merges
        ],
    }
