"""The pipeline stage that keeps computed traits up to date, event by event.

It runs after identity (it needs the event's profile) and before the history stage, and
the history is its guard against counting an event twice: a message id already in the
history was applied before (a redelivery, a replayed dead letter), so it is skipped —
counts are not idempotent the way "set this trait" is. Traits being back-filled are left
to the back-fill; the profiles touched meanwhile are marked for it to recompute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from coreo.db import utcnow
from coreo.history.models import EventRecord
from coreo.identity.service import canonical_ids
from coreo.privacy import suppression
from coreo.runtime.worker import Event
from coreo.traits import engine, service
from coreo.traits.definitions import Definition
from coreo.traits.models import TraitValue

__all__ = ["ComputedTraitsStage", "merge_computed_traits", "rederive_computed_traits"]

Clock = Callable[[], datetime]
_VALUES = cast(Table, TraitValue.__table__)


def _already_applied(session: Session, workspace_id: str, message_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(message_ids), 500):
        found.update(
            session.scalars(
                select(EventRecord.message_id).where(
                    EventRecord.workspace_id == workspace_id,
                    EventRecord.message_id.in_(message_ids[start : start + 500]),
                )
            )
        )
    return found


def apply(
    session: Session,
    workspace_id: str,
    definitions: Sequence[Definition],
    observed: dict[str, list[tuple[Definition, engine.Observation]]],
    now: datetime,
) -> None:
    """Add observations (profile → [(definition, observation)]) to the stored state and
    store the rows whose state or value changed (a trait no event has touched has no row:
    readers evaluate it from an empty state).

    A trait the batch did not observe keeps its row while that row is current (its value
    cannot have moved, see :func:`engine.expires_at`): only the observed ones, rfm scores
    and expired rows are evaluated again."""
    stored = service.stored_states(session, workspace_id, observed)
    ordered = sorted(definitions, key=lambda d: d.function == "rfm")  # rfm after its inputs
    inputs = {name for d in definitions if d.function == "rfm" for name in d.inputs}
    rows = []
    for profile_id, seen in observed.items():
        mine = stored.get(profile_id, {})
        states: dict[str, engine.State] = {}
        for definition, observation in seen:
            name = definition.name
            if name not in states:
                states[name] = mine[name].state if name in mine else {}
            states[name] = engine.add(definition, states[name], observation)
        values: dict[str, Any] = {}
        for definition in ordered:
            name = definition.name
            old = mine.get(name)
            if name not in states and definition.function != "rfm":
                if old is None:  # no row, and none to write: an empty state
                    if name in inputs:
                        values[name] = engine.evaluate(definition, {}, now)
                    continue
                if old.current(now):
                    values[name] = old.value
                    continue
            state = states.get(name, old.state if old else {})
            values[name] = engine.evaluate(definition, state, now, values)
            pruned = engine.prune(definition, state, now)
            unchanged = old.state == pruned and old.value == values[name] if old else not pruned
            if not unchanged or (old is None and definition.function == "rfm" and values[name]):
                rows.append(
                    service.row_for(definition, workspace_id, profile_id, pruned, values[name], now)
                )
    service.write_rows(session, rows)


class ComputedTraitsStage:
    """Fold each new event into its profile's computed traits."""

    name = "computed_traits"

    def __init__(self, clock: Clock = utcnow) -> None:
        self.clock = clock

    def process(self, session: Session, events: Sequence[Event]) -> None:
        by_workspace: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if event.annotations.get("profile_id"):
                by_workspace[event.workspace_id].append(event)
        for workspace_id, mine in sorted(by_workspace.items()):
            self._process(session, workspace_id, mine)

    def _process(self, session: Session, workspace_id: str, events: list[Event]) -> None:
        loaded = service.definitions_of(session, workspace_id)
        if not loaded.ready and not loaded.backfilling:
            return
        now = self.clock()
        ids = [str(e.message.get("messageId")) for e in events]
        applied = _already_applied(session, workspace_id, ids)
        canonical = canonical_ids(
            session, workspace_id, {str(e.annotations["profile_id"]) for e in events}
        )
        # Restricted people (GDPR Art. 18): their events are stored, not profiled; lifting
        # the restriction recomputes their traits from the history.
        restricted = suppression.restricted(session, workspace_id, set(canonical.values()))
        observed: dict[str, list[tuple[Definition, engine.Observation]]] = defaultdict(list)
        touched: set[str] = set()
        for event, message_id in zip(events, ids, strict=True):
            if message_id in applied:
                continue
            applied.add(message_id)  # the same message twice in one batch counts once
            profile_id = canonical[str(event.annotations["profile_id"])]
            if profile_id in restricted:
                continue
            touched.add(profile_id)
            for definition in loaded.observing(event.message):
                seen = engine.observe(definition, event.message)
                if seen is not None and engine.accepts(definition, seen, now):
                    observed[profile_id].append((definition, seen))
        if loaded.backfilling:
            service.mark_dirty(session, workspace_id, touched)
        if observed:
            apply(session, workspace_id, loaded.ready, observed, now)

    def merge(self, session: Session, workspace_id: str, survivor: str, merged: str) -> None:
        """Merge hook: the survivor's state becomes both profiles' states together."""
        self.merge_all(session, workspace_id, [(survivor, merged)])

    def merge_all(
        self, session: Session, workspace_id: str, merges: Sequence[tuple[str, str]]
    ) -> None:
        """Merge hook for a batch's merges (``identity.service.MergesHook``), in order: one
        read of the profiles' states and one write, whatever the number of merges. A
        profile merged into a survivor that is merged itself later ends in the last one."""
        loaded = service.definitions_of(session, workspace_id)
        if loaded.backfilling:
            service.mark_dirty(session, workspace_id, sorted({s for s, _ in merges}))
        if not loaded.ready:
            return
        now = self.clock()
        involved = {profile for merge in merges for profile in merge}
        states = {
            profile: {name: row.state for name, row in rows.items()}
            for profile, rows in service.stored_states(session, workspace_id, involved).items()
        }
        gone: set[str] = set()
        changed: set[str] = set()
        for survivor, merged in merges:
            if merged not in states:  # nothing to carry over
                continue
            ours, theirs = states.get(survivor, {}), states.pop(merged)
            states[survivor] = {
                d.name: engine.prune(
                    d, engine.merge_states(d, ours.get(d.name, {}), theirs.get(d.name, {})), now
                )
                for d in loaded.ready
            }
            gone.add(merged)
            changed.add(survivor)
        if not gone:
            return
        rows = []
        for survivor in sorted(changed - gone):
            values = engine.evaluate_all(loaded.ready, states[survivor], now)
            rows += [
                service.row_for(
                    d, workspace_id, survivor, states[survivor][d.name], values[d.name], now
                )
                for d in loaded.ready
            ]
        service.write_rows(session, rows)
        session.execute(
            delete(_VALUES).where(
                _VALUES.c.workspace_id == workspace_id, _VALUES.c.profile_id.in_(sorted(gone))
            )
        )


def merge_computed_traits(session: Session, workspace_id: str, survivor: str, merged: str) -> None:
    """Merge hook on the wall clock (for merges outside the pipeline: matching, reviews)."""
    ComputedTraitsStage().merge(session, workspace_id, survivor, merged)


def rederive_computed_traits(
    session: Session, workspace_id: str, profile_ids: Sequence[str]
) -> None:
    """Re-derive hook (after an un-merge): rebuild the profiles' computed traits from their
    events (traits being back-filled: the back-fill's catch-up does it)."""
    if service.definitions_of(session, workspace_id).backfilling:
        service.mark_dirty(session, workspace_id, profile_ids)
    service.recompute_profiles(session, workspace_id, profile_ids, now=utcnow())
