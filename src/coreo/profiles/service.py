"""Reading profiles: a profile with its identities and merge history, lookup by identifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coreo.errors import NotFoundError
from coreo.identity.identifiers import Identifier
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity
from coreo.profiles.models import ProfileTrait
from coreo.profiles.traits import DEFAULT_SCHEMA, TraitSchema

__all__ = ["Merged", "ProfileView", "find_profile", "lookup", "view"]


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


def find_profile(session: Session, workspace_id: str, profile_id: str) -> Profile:
    """The live profile ``profile_id``; raises Merged (with the survivor) or NotFoundError."""
    profile = session.get(Profile, profile_id)
    if profile is None or profile.workspace_id != workspace_id:
        raise NotFoundError(f"no profile {profile_id!r}")
    if profile.merged_into is not None:
        raise Merged(profile.merged_into)
    return profile


def view(session: Session, workspace_id: str, profile_id: str) -> ProfileView:
    profile = find_profile(session, workspace_id, profile_id)
    identities = list(
        session.scalars(
            select(ProfileIdentity)
            .where(
                ProfileIdentity.workspace_id == workspace_id,
                ProfileIdentity.profile_id == profile.id,
            )
            .order_by(ProfileIdentity.type, ProfileIdentity.first_seen, ProfileIdentity.value)
        )
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
    return ProfileView(profile, identities, merges, traits)


def lookup(session: Session, workspace_id: str, identifier: Identifier) -> str:
    """The id of the profile holding ``identifier``; NotFoundError when none does."""
    profile_id = session.scalar(
        select(ProfileIdentity.profile_id).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.type == identifier.type,
            ProfileIdentity.value == identifier.value,
        )
    )
    if profile_id is None:
        raise NotFoundError(f"no profile has {identifier.type} {identifier.value!r}")
    return str(profile_id)


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
                "value": i.value,
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
        "merges": [
            {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "at": m.at,
                "reason": m.reason,
                "message_id": m.message_id,
                "identities": [{"type": t, "value": v} for t, v in m.identities],
            }
            for m in shown.merges
        ],
    }
