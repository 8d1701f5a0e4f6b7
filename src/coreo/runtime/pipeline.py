"""The stages every worker runs, in order. Later capabilities add theirs here."""

from __future__ import annotations

from coreo.history.stage import HistoryStage
from coreo.identity.stage import IdentityStage
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage

__all__ = ["default_stages"]


def default_stages() -> list[Stage]:
    """Identity (the event's canonical profile; merges carry traits along), profile traits,
    then the event history. Next: computed traits, consent, segments, ..."""
    return [IdentityStage(on_merge=(merge_traits,)), ProfileStage(), HistoryStage()]
