"""The stages every worker runs, in order. Later capabilities add theirs here."""

from __future__ import annotations

from coreo.config import Settings, get_settings
from coreo.consent.stage import ConsentStage
from coreo.history.stage import HistoryStage
from coreo.identity.stage import IdentityStage
from coreo.privacy.keys import derived_key, master_key
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage
from coreo.traits.stage import ComputedTraitsStage

__all__ = ["default_stages"]


def default_stages(settings: Settings | None = None) -> list[Stage]:
    """Identity (the event's canonical profile; merges carry traits and computed-trait
    state along), profile traits, consent signals, computed traits, then the event history
    (which must come last: computed traits use it to recognise an event applied before).
    Next: segments, ... ``settings`` name the master key (default: the process's)."""

    def proof_key() -> bytes:  # read when an event first carries a consent signal
        return derived_key(master_key(settings or get_settings()), "consent-proof")

    def tombstone_key() -> bytes:  # read when a workspace first has an erased person
        return derived_key(master_key(settings or get_settings()), "tombstone")

    computed = ComputedTraitsStage()
    return [
        IdentityStage(on_merge=(merge_traits, computed.merge), tombstone_key=tombstone_key),
        ProfileStage(),
        ConsentStage(proof_key),
        computed,
        HistoryStage(),
    ]
