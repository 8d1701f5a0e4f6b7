"""The stages every worker runs, in order. Later capabilities add theirs here."""

from __future__ import annotations

from coreo.history.stage import HistoryStage
from coreo.identity.stage import IdentityStage
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage
from coreo.traits.stage import ComputedTraitsStage

__all__ = ["default_stages"]


def default_stages() -> list[Stage]:
    """Identity (the event's canonical profile; merges carry traits and computed-trait
    state along), profile traits, computed traits, then the event history (which must come
    last: computed traits use it to recognise an event applied before). Next: consent,
    segments, ..."""
    computed = ComputedTraitsStage()
    return [
        IdentityStage(on_merge=(merge_traits, computed.merge)),
        ProfileStage(),
        computed,
        HistoryStage(),
    ]
