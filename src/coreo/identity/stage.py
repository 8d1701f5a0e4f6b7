"""The pipeline stage that resolves every event to its canonical profile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.consent.purposes import Taxonomy
from coreo.consent.stage import signals_of
from coreo.consent.taxonomy import taxonomy_for
from coreo.identity import service
from coreo.identity.identifiers import Identifier, identifiers_of, previous_id
from coreo.identity.models import ProfileIdentity
from coreo.identity.rules import IdentityRules
from coreo.privacy import suppression
from coreo.privacy.crypto import identity_key
from coreo.runtime.worker import Event

__all__ = ["IdentityStage"]

HISTORY_COLUMNS = ("user_id", "anonymous_id")  # identifier types the history keeps keyed


def _previous(session: Session, workspace_id: str, value: str) -> Identifier:
    """An alias's previous id: a known user id if there is one, else an anonymous id."""
    known = session.scalar(
        select(ProfileIdentity.type).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.type == "user_id",
            ProfileIdentity.value == identity_key(session, "user_id", value),
        )
    )
    return Identifier("user_id" if known else "anonymous_id", value)


class IdentityStage:
    """Resolve identifiers → profile; merges and refusals are recorded (idempotent: an
    event seen again finds its identifiers already in place and changes nothing)."""

    name = "identity"

    def __init__(
        self,
        on_merge: Sequence[service.MergeHook] = (),
        tombstone_key: Callable[[Session], bytes] | None = None,
    ) -> None:
        self.on_merge = tuple(on_merge)
        self.tombstone_key = tombstone_key

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
        if self.tombstone_key is not None:
            by_workspace = {ws: r.rules for ws, r in resolvers.items()}
            found = self._drop_erased(session, found, self.tombstone_key, by_workspace)
        for workspace_id, resolver in resolvers.items():
            resolver.preload(i for e, ids in found if e.workspace_id == workspace_id for i in ids)
        for event, identifiers in found:
            message = event.message
            resolver = resolvers[event.workspace_id]
            # The history's columns hold them keyed; None where the rules left one out, so
            # that the history stage knows they were read (and reads nothing itself).
            event.annotations.update((f"{kind}_key", None) for kind in HISTORY_COLUMNS)
            for identifier in identifiers:
                if identifier.type in HISTORY_COLUMNS:
                    event.annotations[f"{identifier.type}_key"] = resolver.key(identifier).value
            previous = previous_id(message)
            if previous is not None:
                identifiers.append(_previous(session, event.workspace_id, previous))
            resolution = resolver.resolve(
                identifiers,
                at=datetime.fromisoformat(str(message["timestamp"])),
                message_id=str(message.get("messageId")),
            )
            if resolution is not None:
                event.annotations["profile_id"] = resolution.profile_id
        for resolver in resolvers.values():
            resolver.finish()

    @staticmethod
    def _drop_erased(
        session: Session,
        found: list[tuple[Event, list[Identifier]]],
        tombstone_key: Callable[[Session], bytes],
        rules: dict[str, IdentityRules],
    ) -> list[tuple[Event, list[Identifier]]]:
        """Suppress the events of erased people (an identifier with a tombstone), unless the
        event brings new consent: then the tombstones it matched are lifted. E-mail
        addresses are looked up by their mailbox too (``suppression.lookup_forms``)."""
        workspaces = {e.workspace_id for e, _ in found}
        erased = {w for w in workspaces if suppression.any_tombstones(session, w)}
        if not erased:
            return found
        key = tombstone_key(session)
        hashes: dict[int, set[str]] = {}
        for n, (event, identifiers) in enumerate(found):
            if event.workspace_id in erased:
                ws = event.workspace_id
                forms = suppression.lookup_forms(
                    ((i.type, i.value) for i in identifiers),
                    mailbox_keys=rules[ws].email_key == "mailbox",
                )
                hashes[n] = {suppression.identifier_hash(key, ws, t, v) for t, v in forms}
        live: dict[str, dict[str, str]] = {}
        for ws in erased:
            wanted = set().union(*(h for n, h in hashes.items() if found[n][0].workspace_id == ws))
            live[ws] = suppression.tombstoned(session, ws, wanted)
        kept: list[tuple[Event, list[Identifier]]] = []
        taxonomies: dict[str, Taxonomy] = {}
        for n, (event, identifiers) in enumerate(found):
            matched = live.get(event.workspace_id, {})
            stones = {h: matched[h] for h in hashes.get(n, ()) if h in matched}
            if not stones:
                kept.append((event, identifiers))
                continue
            ws = event.workspace_id
            if ws not in taxonomies:
                taxonomies[ws] = taxonomy_for(session, ws)
            if _brings_consent(event.message, taxonomies[ws]):
                suppression.lift(
                    session,
                    event.workspace_id,
                    set(stones.values()),
                    f"new consent in event {event.message.get('messageId')}",
                    at=datetime.fromisoformat(str(event.message["timestamp"])),
                )
                for lifted in stones:
                    matched.pop(lifted, None)
                kept.append((event, identifiers))
            else:
                event.annotations["suppressed"] = "erased"
        return kept


def _brings_consent(message: dict[str, Any], taxonomy: Taxonomy) -> bool:
    """Whether the event grants some purpose of the workspace's ``taxonomy`` (a banner's
    category, an explicit purpose, a TC string); "necessary: true", which every banner
    sends, grants nothing."""
    return any(status == "granted" for _, status in signals_of(message, taxonomy))
