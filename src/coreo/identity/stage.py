"""The pipeline stage that resolves every event to its canonical profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.identity import service
from coreo.identity.identifiers import Identifier, identifiers_of, previous_id
from coreo.identity.models import ProfileIdentity
from coreo.runtime.worker import Event

__all__ = ["IdentityStage"]


def _previous(session: Session, workspace_id: str, value: str) -> Identifier:
    """An alias's previous id: a known user id if there is one, else an anonymous id."""
    known = session.scalar(
        select(ProfileIdentity.type).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.type == "user_id",
            ProfileIdentity.value == value,
        )
    )
    return Identifier("user_id" if known else "anonymous_id", value)


class IdentityStage:
    """Resolve identifiers → profile; merges and refusals are recorded (idempotent: an
    event seen again finds its identifiers already in place and changes nothing)."""

    name = "identity"

    def __init__(self, on_merge: Sequence[service.MergeHook] = ()) -> None:
        self.on_merge = tuple(on_merge)

    def process(self, session: Session, events: Sequence[Event]) -> None:
        resolvers: dict[str, service.Resolver] = {}
        for workspace_id in sorted({e.workspace_id for e in events}):
            service.lock_workspace(session, workspace_id)
            rules = service.rules_for(session, workspace_id)
            resolvers[workspace_id] = service.Resolver(session, workspace_id, rules, self.on_merge)
        found = [
            (event, identifiers_of(event.message, resolvers[event.workspace_id].rules))
            for event in events
        ]
        for workspace_id, resolver in resolvers.items():
            resolver.preload(i for e, ids in found if e.workspace_id == workspace_id for i in ids)
        for event, identifiers in found:
            message = event.message
            previous = previous_id(message)
            if previous is not None:
                identifiers.append(_previous(session, event.workspace_id, previous))
            resolution = resolvers[event.workspace_id].resolve(
                identifiers,
                at=datetime.fromisoformat(str(message["timestamp"])),
                message_id=str(message.get("messageId")),
            )
            if resolution is not None:
                event.annotations["profile_id"] = resolution.profile_id
