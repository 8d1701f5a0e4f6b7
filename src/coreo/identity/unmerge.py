"""Un-merge: split a wrong merge and re-derive both profiles from the event history.

Undoing merge R (survivor S absorbed profile M):

1. M comes back: its ``merged_into`` is cleared, and the profiles merged into M before R
   point at M again. S and M are recorded as a :class:`ProfileSplit`, which the resolver
   honours from then on (an event or a match that would join them is refused and recorded).
2. Identifiers: what M held at the merge (``R.identities``) goes back to M. Identifiers that
   reached S's cluster later are re-derived by replaying the cluster's events from the
   history in timestamp order, as the resolver would have seen them with the two kept
   apart: the first known identifier of an event (by priority) names its side, and the
   event's new identifiers join that side. A profile merged into S after R moves with the
   side its identifiers were linked to; untouched ones stay with S.
3. Every event of the cluster is attributed to its side (events of profiles merged into a
   side keep their finer attribution), then the ``on_rederive`` hooks rebuild what derives
   from events, for both profiles: their traits (``coreo.profiles.stage.rederive_traits``,
   the profile stage's own survivorship) and whatever else is plugged in.

A merge can be undone while its survivor is live. When S has itself been merged into
another profile since, that merge must be undone first (``409``). The whole un-merge holds
the workspace's identity lock, so a worker resolving events at the same time waits for it
(and then sees the split).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.errors import ConflictError, NotFoundError
from coreo.history import service as history_service
from coreo.identity import service as identity_service
from coreo.identity.identifiers import Identifier, identifiers_of, previous_id
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity, ProfileSplit
from coreo.identity.rules import IdentityRules
from coreo.ids import new_id
from coreo.privacy.crypto import data_keys, identity_values, seal_identity

__all__ = ["RederiveHook", "Unmerge", "undo_merge"]

# Called as hook(session, workspace_id, profile_ids) after an un-merge re-attributed events:
# rebuild what derives from the events of these live profiles.
RederiveHook = Callable[[Session, str, list[str]], None]
_IDENTITIES = cast(Table, ProfileIdentity.__table__)


@dataclass(frozen=True, slots=True)
class Unmerge:
    """What undoing a merge changed."""

    merge_id: str
    survivor_id: str
    merged_id: str
    split_id: str
    undone_at: datetime
    identities: dict[str, list[Identifier]]  # survivor and merged profile: what each holds
    events_moved: int
    profiles_moved: list[str] = field(default_factory=list)  # merged since, now with M


class _Sides:
    """Union-find over the cluster's units: the two sides (S, M) and each profile merged in
    after R, whose side the replay decides. The two sides are never united."""

    def __init__(self, survivor: str, merged: str) -> None:
        self.sides = (survivor, merged)
        self.parent: dict[str, str] = {}

    def find(self, unit: str) -> str:
        root = unit
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while unit != root:  # path compression
            self.parent[unit], unit = root, self.parent[unit]
        return root

    def join(self, units: Sequence[str]) -> str:
        """Unite ``units`` (at most one side among them) under the side, or the first."""
        roots = list(dict.fromkeys(self.find(u) for u in units))
        head = next((r for r in roots if r in self.sides), roots[0])
        for root in roots:
            if root != head:
                self.parent[root] = head
        return head


def _merge_record(session: Session, workspace_id: str, merge_id: str) -> MergeRecord:
    record = session.scalars(
        select(MergeRecord)
        .where(MergeRecord.workspace_id == workspace_id, MergeRecord.id == merge_id)
        .execution_options(populate_existing=True)
    ).first()
    if record is None:
        raise NotFoundError(f"no merge {merge_id!r}")
    return record


def _check_undoable(session: Session, workspace_id: str, record: MergeRecord) -> None:
    if record.undone_at is not None:
        raise ConflictError(
            f"merge {record.id} was already undone at {record.undone_at.isoformat()}"
        )
    survivor = session.get(Profile, record.survivor_id, populate_existing=True)
    merged = session.get(Profile, record.merged_id, populate_existing=True)
    if survivor is None or merged is None:
        raise ConflictError(f"merge {record.id} names a profile that no longer exists")
    if survivor.merged_into is not None:
        later = session.scalars(
            select(MergeRecord.id)
            .where(
                MergeRecord.workspace_id == workspace_id,
                MergeRecord.merged_id == survivor.id,
                MergeRecord.undone_at.is_(None),
            )
            .order_by(MergeRecord.id.desc())
        ).first()
        raise ConflictError(
            f"profile {survivor.id}, the survivor of merge {record.id}, has since been merged "
            f"into {survivor.merged_into}"
            + (f" (merge {later}); undo that merge first" if later else "")
        )
    if merged.merged_into != survivor.id:
        raise ConflictError(
            f"profile {merged.id} is no longer merged into {survivor.id}; "
            f"merge {record.id} cannot be undone"
        )


def _subtree(root: str, children: dict[str, list[MergeRecord]]) -> list[str]:
    """``root`` and every profile merged into it, directly or through others."""
    found, todo = [root], [root]
    while todo:
        for record in children.get(todo.pop(), []):
            found.append(record.merged_id)
            todo.append(record.merged_id)
    return found


def _event_identifiers(
    session: Session, message: dict[str, Any], user_ids: set[str], rules: IdentityRules
) -> list[Identifier]:
    """An event's identifiers as the graph holds them (keyed)."""
    found = [identity_service.keyed(session, i) for i in identifiers_of(message, rules)]
    previous = previous_id(message)
    if previous is not None:  # as the identity stage reads an alias
        user = identity_service.keyed(session, Identifier("user_id", previous))
        if user.value in user_ids:
            found.append(user)
        else:
            found.append(identity_service.keyed(session, Identifier("anonymous_id", previous)))
    return found


def _replay_unit(
    identifiers: Iterable[Identifier],
    owner: dict[Identifier, str],
    rows: dict[Identifier, Any],
    sides: _Sides,
    rules: IdentityRules,
    knowing: set[str] | None = None,
) -> str | None:
    """The unit an event belongs to with the two sides kept apart, as the resolver decides:
    the first known identifier by priority names it, linking identifiers join theirs, and
    a device or cookie joins no two units that each hold a person's identifier
    (``knowing``: the units that do, any member of a unit will do) unless the rules let
    devices link known people."""
    group: list[str] = []
    fallback: str | None = None
    known_roots = {sides.find(u) for u in knowing or ()}
    ordered = sorted(identifiers, key=lambda i: (rules.rule(i.type).priority, i))
    for identifier in ordered:
        if identifier not in owner:
            continue
        unit = sides.find(owner[identifier])
        rule = rules.rule(identifier.type)
        if not rule.links or rows[identifier].shared:
            fallback = fallback or unit
            continue
        if unit in group:
            continue
        if unit in sides.sides and any(g in sides.sides for g in group):
            continue  # the split: refused, as the resolver refuses it from now on
        if (
            rule.device
            and not rules.devices_link_known
            and unit in known_roots
            and any(g in known_roots for g in group)
        ):
            continue  # strangers: the resolver's device rule (identity.service._Group)
        group.append(unit)
    if group:
        sides.join(group)
        return sides.find(group[0])
    return fallback


class _Split:
    """The state of one un-merge: S's cluster, its units and the replay's verdicts."""

    def __init__(self, session: Session, workspace_id: str, record: MergeRecord) -> None:
        self.session, self.workspace_id, self.record = session, workspace_id, record
        self.survivor, self.merged = record.survivor_id, record.merged_id
        self.sides = _Sides(self.survivor, self.merged)
        survivor, merged = self.survivor, self.merged
        self.members = [
            survivor,
            *session.scalars(
                select(Profile.id).where(
                    Profile.workspace_id == workspace_id, Profile.merged_into == survivor
                )
            ),
        ]
        self.records = list(
            session.scalars(
                select(MergeRecord)
                .where(
                    MergeRecord.workspace_id == workspace_id,
                    MergeRecord.survivor_id.in_(self.members),
                    MergeRecord.undone_at.is_(None),
                )
                .order_by(MergeRecord.id)
            )
        )
        children: dict[str, list[MergeRecord]] = defaultdict(list)
        for merge in self.records:
            if merge.id != record.id:
                children[merge.survivor_id].append(merge)
        # Merges into S after R (ids sort by time): their side is for the replay to decide.
        self.later = [m for m in children[survivor] if m.id > record.id]
        children[survivor] = [m for m in children[survivor] if m.id < record.id]
        # Each profile of the cluster belongs to a unit: S's side, M's side, or a later one.
        self.unit_of = dict.fromkeys(_subtree(survivor, children), survivor)
        self.unit_of.update(dict.fromkeys(_subtree(merged, children), merged))
        for merge in self.later:
            self.unit_of.update(dict.fromkeys(_subtree(merge.merged_id, children), merge.merged_id))
        self.rows = {
            Identifier(r.type, r.value): r
            for r in session.execute(
                select(_IDENTITIES.c.type, _IDENTITIES.c.value, _IDENTITIES.c.shared).where(
                    _IDENTITIES.c.workspace_id == workspace_id,
                    _IDENTITIES.c.profile_id == survivor,
                )
            )
        }
        # What merges tell about whose an identifier is; the replay decides the rest.
        self.owner: dict[Identifier, str] = {}
        for merge in [record, *self.later]:
            unit = merged if merge is record else merge.merged_id
            self._own(merge.identities, unit)
        for merge in self.records:
            if self.unit_of.get(merge.merged_id) == survivor:
                self._own(merge.identities, survivor)
        self.attributed: list[tuple[str, str, str]] = []  # message id, profile, unit

    def _own(self, identities: list[Any], unit: str) -> None:
        for kind, value in identities:
            if Identifier(kind, value) in self.rows:
                self.owner.setdefault(Identifier(kind, value), unit)

    def replay(self, rules: IdentityRules) -> None:
        """Go through the cluster's events in time order, deciding each one's unit and the
        unit of the identifiers it brings."""
        user_ids = {i.value for i in self.rows if i.type == "user_id"}
        knowing = {unit for i, unit in self.owner.items() if rules.rule(i.type).names_person}
        for chunk in history_service.messages_of_profiles(
            session=self.session, workspace_id=self.workspace_id, profile_ids=self.members
        ):
            for profile_id, message in chunk:
                found = [
                    i
                    for i in _event_identifiers(self.session, message, user_ids, rules)
                    if i in self.rows
                ]
                unit = _replay_unit(found, self.owner, self.rows, self.sides, rules, knowing)
                unit = unit or self.unit_of.get(profile_id, self.survivor)
                for identifier in found:
                    owned = self.owner.setdefault(identifier, unit) == unit
                    if owned and rules.rule(identifier.type).names_person:
                        knowing.add(unit)
                self.attributed.append((str(message.get("messageId")), profile_id, unit))

    def side(self, unit: str) -> str:
        """S or M: where a unit ends; one the replay never linked to M stays with S."""
        root = self.sides.find(unit)
        return root if root in self.sides.sides else self.survivor

    def move_identifiers(self) -> int:
        """Give M the identifiers of its side; return how many."""
        to_merged = sorted(
            (i.type, i.value)
            for i in self.rows
            if self.side(self.owner.get(i, self.survivor)) == self.merged
        )
        for start in range(0, len(to_merged), 500):
            self.session.execute(
                update(_IDENTITIES)
                .where(
                    _IDENTITIES.c.workspace_id == self.workspace_id,
                    _IDENTITIES.c.profile_id == self.survivor,
                    tuple_(_IDENTITIES.c.type, _IDENTITIES.c.value).in_(
                        to_merged[start : start + 500]
                    ),
                )
                .values(profile_id=self.merged)
                .execution_options(synchronize_session=False)
            )
        return len(to_merged)

    def move_profiles(self, now: datetime) -> list[str]:
        """Bring M back with the profiles of its side; return those merged in after R."""
        profiles = {
            p.id: p
            for p in self.session.scalars(
                select(Profile)
                .where(Profile.workspace_id == self.workspace_id, Profile.id.in_(self.members))
                .execution_options(populate_existing=True)
            )
        }
        for profile_id, unit in self.unit_of.items():
            if self.side(unit) == self.merged and profile_id in profiles:
                profiles[profile_id].merged_into = self.merged
        back = profiles[self.merged]
        back.merged_into = back.merged_at = None
        back.updated_at = profiles[self.survivor].updated_at = now
        self.record.undone_at = now
        moved = [m for m in self.later if self.side(m.merged_id) == self.merged]
        for merge in moved:
            merge.undone_at = now
            self.session.add(
                MergeRecord(
                    id=new_id("mrg"),
                    workspace_id=self.workspace_id,
                    survivor_id=self.merged,
                    merged_id=merge.merged_id,
                    reason=f"undoing merge {self.record.id} moved it to {self.merged}, whose "
                    f"identifiers linked it (superseding merge {merge.id})",
                    identifier_type=merge.identifier_type,
                    message_id=merge.message_id,
                    identities=merge.identities,
                    at=now,
                )
            )
        return [m.merged_id for m in moved]

    def move_events(self) -> int:
        """Attribute each event to its side (keeping a finer attribution on the same side)."""
        moves: dict[str, list[str]] = defaultdict(list)
        for message_id, profile_id, unit in self.attributed:
            target = self.side(unit)
            if self.side(self.unit_of.get(profile_id, self.survivor)) != target:
                moves[target].append(message_id)
        self.session.flush()
        return history_service.reattribute_events(
            session=self.session, workspace_id=self.workspace_id, moves=moves
        )


def _reseal(session: Session, workspace_id: str, live: list[str]) -> None:
    """Re-seal what the move left sealed with the key of a profile now on the other side,
    so that erasing either person shreds exactly their own identifiers."""
    cluster = identity_service.cluster_members(session, workspace_id, live)  # member → live
    stray = [
        row
        for row in session.execute(
            select(_IDENTITIES).where(
                _IDENTITIES.c.workspace_id == workspace_id,
                _IDENTITIES.c.profile_id.in_(live),
                _IDENTITIES.c.sealed_by.is_not(None),
            )
        )
        if cluster.get(row.sealed_by) != row.profile_id
    ]
    if not stray:
        return
    values = identity_values(session, workspace_id, stray)
    data_keys(session, workspace_id, {row.profile_id for row in stray})
    for row in stray:
        plain = values[(row.type, row.value)]
        session.execute(
            update(_IDENTITIES)
            .where(
                _IDENTITIES.c.workspace_id == workspace_id,
                _IDENTITIES.c.type == row.type,
                _IDENTITIES.c.value == row.value,
            )
            .values(
                sealed=seal_identity(
                    session, workspace_id, row.profile_id, row.type, row.value, plain
                ),
                sealed_by=row.profile_id,
            )
        )


def undo_merge(
    session: Session,
    *,
    workspace_id: str,
    merge_id: str,
    actor: str,
    on_rederive: Sequence[RederiveHook] = (),
) -> Unmerge:
    """Undo merge ``merge_id``: split the two profiles for good and re-derive both from the
    event history (see the module docstring); audited as ``identity.merge.undone``.

    Raises:
        NotFoundError: no such merge in the workspace.
        ConflictError: the merge was already undone, or its survivor has since been merged
            into another profile (undo that merge first).
    """
    identity_service.lock_workspace(session, workspace_id)
    record = _merge_record(session, workspace_id, merge_id)
    _check_undoable(session, workspace_id, record)
    now = utcnow()
    split = _Split(session, workspace_id, record)
    split.replay(identity_service.rules_for(session, workspace_id))
    identifiers_moved = split.move_identifiers()
    profiles_moved = split.move_profiles(now)
    survivor, merged = record.survivor_id, record.merged_id
    pair = ProfileSplit(
        id=new_id("spl"),
        workspace_id=workspace_id,
        first_id=min(survivor, merged),
        second_id=max(survivor, merged),
        merge_id=record.id,
        actor=actor,
        at=now,
    )
    session.add(pair)
    events_moved = split.move_events()
    _reseal(session, workspace_id, [survivor, merged])
    for hook in on_rederive:
        hook(session, workspace_id, [survivor, merged])
    held = identity_service.plain_identities(session, workspace_id, [survivor, merged])
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="identity.merge.undone",
        target=f"profile_merges:{record.id}",
        details={
            "survivor": survivor,
            "merged": merged,
            "split": pair.id,
            "identifiers_moved": identifiers_moved,
            "events_moved": events_moved,
            "profiles_moved": profiles_moved,
        },
    )
    return Unmerge(
        merge_id=record.id,
        survivor_id=survivor,
        merged_id=merged,
        split_id=pair.id,
        undone_at=now,
        identities={p: sorted(ids) for p, ids in held.items()},
        events_moved=events_moved,
        profiles_moved=profiles_moved,
    )
