"""The pipeline stage that keeps each profile's traits, by the survivorship rules.

It runs after the identity stage and reads the profile id it left on each event. Profiles
merged later in the same batch are followed to their survivor. Traits come from identify
calls (``traits``) and from any call's ``context.traits``; their source is the import's
source for imported rows and ``events`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from coreo.history import service as history_service
from coreo.identity.models import Profile
from coreo.identity.service import canonical_ids
from coreo.privacy import crypto
from coreo.profiles.models import ProfileTrait
from coreo.profiles.traits import DEFAULT_SCHEMA, TraitSchema, wins
from coreo.runtime.worker import Event

__all__ = ["ProfileStage", "merge_traits", "rederive_traits", "source_of", "traits_of"]

_TRAITS = cast(Table, ProfileTrait.__table__)
_MAX_TRAITS = 200


def source_of(message: dict[str, Any]) -> str:
    context = message.get("context")
    if isinstance(context, dict):
        imported = context.get("import")
        if isinstance(imported, dict) and isinstance(imported.get("source"), str):
            return str(imported["source"])[:100]
    return "events"


def traits_of(message: dict[str, Any]) -> dict[str, Any]:
    """The person's traits a message states (a group's traits are the group's)."""
    found: dict[str, Any] = {}
    context = message.get("context")
    if isinstance(context, dict) and isinstance(context.get("traits"), dict):
        found.update(context["traits"])
    if message.get("type") == "identify" and isinstance(message.get("traits"), dict):
        found.update(message["traits"])
    return {str(k)[:200]: v for k, v in list(found.items())[:_MAX_TRAITS] if v is not None}


class ProfileStage:
    """Apply each event's traits to its profile (idempotent: the same event again changes
    nothing, since its values are already the kept ones or lost to better ones)."""

    name = "profile"

    def __init__(self, schema: TraitSchema = DEFAULT_SCHEMA) -> None:
        self.schema = schema

    def process(self, session: Session, events: Sequence[Event]) -> None:
        work = [(e, traits_of(e.message)) for e in events]
        work = [(e, t) for e, t in work if t and e.annotations.get("profile_id")]
        if not work:
            return
        canonical: dict[str, str] = {}
        for workspace_id in {e.workspace_id for e, _ in work}:
            mine = {e.annotations["profile_id"] for e, _ in work if e.workspace_id == workspace_id}
            canonical.update(canonical_ids(session, workspace_id, mine))
        keys = {(e.workspace_id, canonical[e.annotations["profile_id"]]) for e, _ in work}
        kept: dict[tuple[str, str, str], ProfileTrait] = {}
        for workspace_id in {w for w, _ in keys}:
            profiles = sorted(p for w, p in keys if w == workspace_id)
            crypto.preload(session, workspace_id, profiles)  # one query, not one per row
            rows = session.scalars(
                select(ProfileTrait).where(
                    ProfileTrait.workspace_id == workspace_id,
                    ProfileTrait.profile_id.in_(profiles),
                )
            )
            for row in rows:
                kept[(row.workspace_id, row.profile_id, row.name)] = row
        for event, traits in work:
            profile_id = canonical[event.annotations["profile_id"]]
            message = event.message
            at = datetime.fromisoformat(str(message["timestamp"]))
            source = source_of(message)
            for name, value in traits.items():
                key = (event.workspace_id, profile_id, name)
                found = kept.get(key)
                if found is None:
                    kept[key] = ProfileTrait(
                        workspace_id=event.workspace_id,
                        profile_id=profile_id,
                        name=name,
                        value=value,
                        source=source,
                        observed_at=at,
                        first_seen_at=at,
                        message_id=message.get("messageId"),
                    )
                    session.add(kept[key])
                    continue
                row = found
                if at < row.first_seen_at:
                    row.first_seen_at = at
                rule = self.schema.rule(name)
                if row.value != value and wins(
                    rule,
                    new_source=source,
                    new_at=at,
                    old_source=row.source,
                    old_at=row.observed_at,
                ):
                    row.value, row.source, row.observed_at = value, source, at
                    row.message_id = message.get("messageId")


def merge_traits(
    session: Session,
    workspace_id: str,
    survivor: str,
    merged: str,
    schema: TraitSchema = DEFAULT_SCHEMA,
) -> None:
    """Fold a merged profile's traits into its survivor by the survivorship rules."""
    rows = session.scalars(
        select(ProfileTrait).where(
            ProfileTrait.workspace_id == workspace_id,
            ProfileTrait.profile_id.in_([survivor, merged]),
        )
    ).all()
    kept = {r.name: r for r in rows if r.profile_id == survivor}
    incoming = [r for r in rows if r.profile_id == merged]
    additions = []
    for row in incoming:
        current = kept.get(row.name)
        if current is None:
            # A new row, not a copy of the stored one: a sealed value is sealed again with
            # the survivor's key when the session flushes (privacy.crypto).
            additions.append(
                ProfileTrait(
                    workspace_id=workspace_id,
                    profile_id=survivor,
                    name=row.name,
                    value=row.value,
                    source=row.source,
                    observed_at=row.observed_at,
                    first_seen_at=row.first_seen_at,
                    message_id=row.message_id,
                )
            )
            continue
        current.first_seen_at = min(current.first_seen_at, row.first_seen_at)
        if wins(
            schema.rule(row.name),
            new_source=row.source,
            new_at=row.observed_at,
            old_source=current.source,
            old_at=current.observed_at,
        ):
            current.value, current.source = row.value, row.source
            current.observed_at, current.message_id = row.observed_at, row.message_id
    for row in incoming:
        session.expunge(row)
    session.execute(
        delete(_TRAITS).where(
            _TRAITS.c.workspace_id == workspace_id, _TRAITS.c.profile_id == merged
        )
    )
    session.add_all(additions)


def rederive_traits(
    session: Session,
    workspace_id: str,
    profile_ids: Sequence[str],
    schema: TraitSchema = DEFAULT_SCHEMA,
) -> None:
    """Rebuild the traits of live profiles from their events in the history, through the
    profile stage (an un-merge's ``on_rederive`` hook).

    Each profile's events include those of the profiles merged into it. Traits of events
    that never reached the history (it keeps each event's profile only since revision
    2135567017ec) are not rebuilt.
    """
    canonical = {p: p for p in profile_ids}
    for merged_id, survivor in session.execute(
        select(Profile.id, Profile.merged_into).where(
            Profile.workspace_id == workspace_id, Profile.merged_into.in_(sorted(profile_ids))
        )
    ):
        canonical[merged_id] = str(survivor)
    session.execute(
        delete(ProfileTrait).where(
            ProfileTrait.workspace_id == workspace_id,
            ProfileTrait.profile_id.in_(sorted(canonical)),
        )
    )
    stage = ProfileStage(schema)
    for chunk in history_service.messages_of_profiles(
        session=session, workspace_id=workspace_id, profile_ids=canonical
    ):
        events = [
            Event(0, n, workspace_id, message, {"profile_id": canonical[profile_id]})
            for n, (profile_id, message) in enumerate(chunk)
        ]
        stage.process(session, events)
