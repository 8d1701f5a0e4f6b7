"""The stages every worker runs, in order. Later capabilities add theirs here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from coreo.config import Settings, get_settings
from coreo.consent.stage import ConsentStage
from coreo.history.stage import HistoryStage
from coreo.identity.service import MergeHook, MergesHook
from coreo.identity.stage import IdentityStage
from coreo.privacy.crypto import hash_key
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage
from coreo.traits.stage import ComputedTraitsStage

__all__ = ["default_stages", "merge_hooks"]


def merge_hooks(computed: ComputedTraitsStage) -> tuple[MergeHook, ...]:
    """What follows the identities when the pipeline merges profiles: their traits at each
    merge, the computed traits of ``computed`` once for a batch's merges."""
    return (merge_traits, MergesHook(computed.merge_all))


def default_stages(settings: Settings | None = None) -> list[Stage]:
    """Identity (the event's canonical profile; merges carry traits and computed-trait
    state along), profile traits, consent signals, computed traits, then the event history
    (which must come last: computed traits use it to recognise an event applied before).
    Next: segments, ... ``settings`` name the master key (default: the process's)."""

    def proof_key(session: Session) -> bytes:  # read when an event carries a consent signal
        return hash_key(session, "consent-proof", settings or get_settings())

    def tombstone_key(session: Session) -> bytes:  # read when a workspace has erased people
        return hash_key(session, "tombstone", settings or get_settings())

    computed = ComputedTraitsStage()
    return [
        IdentityStage(on_merge=merge_hooks(computed), tombstone_key=tombstone_key),
        ProfileStage(),
        ConsentStage(proof_key),
        computed,
        HistoryStage(),
    ]
