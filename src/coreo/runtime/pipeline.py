"""The stages every worker runs, in order. Later capabilities add theirs here."""

from __future__ import annotations

from coreo.history.stage import HistoryStage
from coreo.runtime.worker import Stage

__all__ = ["default_stages"]


def default_stages() -> list[Stage]:
    """Today: append to the event history. Next: identity, profiles, traits, consent, ..."""
    return [HistoryStage()]
