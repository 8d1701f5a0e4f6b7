"""The identity graph: resolve an event's identifiers to one canonical profile.

For each event the identifiers are taken in priority order (``user_id`` first). The first
one that is known names the event's group; every further identifier joins the group when
the rules allow it:

* a known identifier of another profile merges that profile in, unless the union would
  break a limit (two user ids, six e-mails…), which refuses the merge and records why;
* a new identifier is attached, unless the group already holds its type's maximum;
* a shared device or cookie (seen with more known users than allowed) links nothing, and
  no device or cookie merges two profiles that each hold a person's identifier (a login,
  e-mail, phone, card or external id): on a family tablet, one person's guest checkout
  must not join the profile of the person who logged in there;
* profiles that an un-merge split apart (``ProfileSplit``) are never joined again, nor are
  the profiles merged into them later.

Identifiers are searched by ``coreo.privacy.crypto.identity_key``: with personal data
sealed, the graph holds keyed hashes and the values sealed beside them (the resolver keys
what it is given; ``plain_identities`` reads the values back).

The oldest profile of the group survives; merged profiles point at it (``merged_into``),
their identifiers move to it, and the merge is recorded with the identifier that caused it
and the event's message id.

Concurrency: on PostgreSQL, identity resolution takes a transaction-level advisory lock
per workspace, so workers racing on the same people serialise here and the graph stays
consistent (the rest of their batches runs in parallel up to this stage). SQLite
serialises writers anyway.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, Text, func, select, text, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.documents import ParsedDocuments
from coreo.identity.identifiers import Identifier
from coreo.identity.models import (
    IdentityRulesRow,
    MergeRecord,
    Profile,
    ProfileIdentity,
    ProfileSplit,
    RefusedMerge,
)
from coreo.identity.rules import DEFAULT_RULES, IdentityRules
from coreo.ids import new_id
from coreo.privacy.crypto import (
    identity_key,
    identity_values,
    seal_identity,
    seal_identity_at_flush,
)

__all__ = [
    "MergeHook",
    "MergesHook",
    "Resolution",
    "Resolver",
    "canonical_ids",
    "canonical_profile_id",
    "cluster_members",
    "counts",
    "kept_apart",
    "keyed",
    "lock_workspace",
    "plain_identities",
    "profile_identities",
    "put_rules",
    "rekey_all_emails",
    "rekey_emails",
    "rules_for",
]

_IDENTITIES = cast(Table, ProfileIdentity.__table__)
_PROFILES = cast(Table, Profile.__table__)


@dataclass(frozen=True, slots=True)
class MergesHook:
    """A merge hook run once for all the merges a resolver made, in the order they were
    made, as ``many(session, workspace_id, [(survivor, merged), ...])`` when it finishes
    (:meth:`Resolver.finish`, which the pipeline's identity stage calls at the end of a
    batch): one read and one write of what follows the identities, not one a merge."""

    many: Callable[[Session, str, Sequence[tuple[str, str]]], None]


# A function called as hook(session, workspace_id, survivor, merged) at each merge, inside
# its transaction, or a MergesHook.
MergeHook = Callable[[Session, str, str, str], None] | MergesHook


@dataclass(slots=True)
class Resolution:
    """Where an event landed."""

    profile_id: str
    created: bool = False
    merged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


_PARSED_RULES = ParsedDocuments(IdentityRules.model_validate)


def rules_for(session: Session, workspace_id: str) -> IdentityRules:
    """Return the workspace's identity rules (the defaults when it has none).

    The stored document is read on every call, as text, so a change made by any process
    is seen at once; it is validated only when that text differs from the last one seen
    (validation costs far more than the read)."""
    stored = session.scalar(
        select(sql_cast(IdentityRulesRow.rules, Text)).where(
            IdentityRulesRow.workspace_id == workspace_id
        )
    )
    if stored is None:
        return DEFAULT_RULES
    return _PARSED_RULES.get(workspace_id, stored)


def put_rules(
    session: Session, workspace_id: str, rules: IdentityRules | None, *, actor: str
) -> IdentityRulesRow | None:
    """Set the workspace's identity rules (None: back to the defaults), audited. They
    apply to the events resolved from the commit on; profiles already linked stay as they
    are (an un-merge re-derives a cluster under the rules of its time). A new ``email_key``
    re-keys the stored addresses in the same transaction (``rekey_emails``)."""
    lock_workspace(session, workspace_id)  # not while a batch of this workspace resolves
    before = rules_for(session, workspace_id)
    row = session.get(IdentityRulesRow, workspace_id)
    version = (row.version + 1) if row is not None else 1
    if rules is None:
        if row is not None:
            session.delete(row)
    else:
        document = rules.model_dump(mode="json")
        if row is None:
            row = IdentityRulesRow(workspace_id=workspace_id, version=0)
            session.add(row)
        row.rules, row.version = document, version
        row.updated_at, row.updated_by = utcnow(), actor
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="identity.rules_reset" if rules is None else "identity.rules_changed",
        target=f"workspace:{workspace_id}",
        details={"version": version},
    )
    session.flush()
    after = rules or DEFAULT_RULES
    if after.email_key != before.email_key:  # the stored addresses follow the new key
        rekey_all_emails(session, workspace_id, after)
    return row if rules is not None else None


def rekey_all_emails(session: Session, workspace_id: str, rules: IdentityRules) -> Counter[str]:
    """``rekey_emails`` over the whole workspace, in this transaction."""
    counts: Counter[str] = Counter()
    after: str | None = ""
    while after is not None:
        done, after = rekey_emails(session, workspace_id, rules, after=after)
        counts += done
    return counts


@dataclass(slots=True)
class _Holder:
    """The row holding an e-mail key while a chunk is re-keyed: its person and times."""

    profile_id: str
    first_seen: datetime
    last_seen: datetime


def rekey_emails(
    session: Session, workspace_id: str, rules: IdentityRules, *, after: str = "", chunk: int = 1000
) -> tuple[Counter[str], str | None]:
    """One chunk (by stored key, after ``after``) of the workspace's e-mail identifiers
    brought to the key the ``rules`` give them now: an address stored before e-mail was
    keyed by mailbox (or under ``email_key: exact``) gets its mailbox key. A row whose new
    key another row of the same person holds is folded into it; one whose new key another
    person holds stays as it is (two people the rules now call one are not merged without
    an event: ``lookup`` still finds it by its exact key). Returns what happened and where
    the next chunk starts (None: done)."""
    counts: Counter[str] = Counter()
    rows = session.execute(
        select(_IDENTITIES)
        .where(
            _IDENTITIES.c.workspace_id == workspace_id,
            _IDENTITIES.c.type == "email",
            _IDENTITIES.c.value > after,
        )
        .order_by(_IDENTITIES.c.value)
        .limit(chunk)
    ).all()
    values = identity_values(session, workspace_id, rows)
    this = (_IDENTITIES.c.workspace_id == workspace_id) & (_IDENTITIES.c.type == "email")
    moves: list[tuple[Row[Any], str, str]] = []  # (row, its address keyed anew, its new key)
    for row in rows:
        plain = values[(row.type, row.value)]
        wanted = rules.key("email", plain) if plain != "[erased]" else None
        if wanted is None or wanted == plain:
            continue
        key = identity_key(session, "email", wanted)
        if key != row.value:
            moves.append((row, wanted, key))
    # The rows already holding the new keys, in one query; kept up to date below, as rows
    # of this chunk take keys (a second variant of a mailbox then folds into the first).
    holders: dict[str, _Holder] = {
        str(held.value): _Holder(held.profile_id, held.first_seen, held.last_seen)
        for start in range(0, len(moves), 500)
        for held in session.execute(
            select(_IDENTITIES).where(
                this, _IDENTITIES.c.value.in_(sorted({k for *_, k in moves[start : start + 500]}))
            )
        )
    }
    for row, wanted, key in moves:
        holder = holders.get(key)
        if holder is None:
            sealed: str | None = None
            if row.sealed_by is not None:
                sealed = seal_identity(session, workspace_id, row.sealed_by, "email", key, wanted)
            elif row.sealed is not None:
                sealed = wanted  # sealing off: the value is kept plain beside its key
            session.execute(
                update(_IDENTITIES)
                .where(this, _IDENTITIES.c.value == row.value)
                .values(value=key, sealed=sealed)
            )
            holders.pop(row.value, None)
            holders[key] = _Holder(row.profile_id, row.first_seen, row.last_seen)
            counts["re-keyed"] += 1
            continue
        owners = canonical_ids(session, workspace_id, [row.profile_id, holder.profile_id])
        if owners.get(row.profile_id) != owners.get(holder.profile_id):
            counts["kept apart"] += 1
            continue
        holder.first_seen = min(row.first_seen, holder.first_seen)
        holder.last_seen = max(row.last_seen, holder.last_seen)
        session.execute(
            update(_IDENTITIES)
            .where(this, _IDENTITIES.c.value == key)
            .values(first_seen=holder.first_seen, last_seen=holder.last_seen)
        )
        session.execute(_IDENTITIES.delete().where(this, _IDENTITIES.c.value == row.value))
        holders.pop(row.value, None)
        counts["folded"] += 1
    return counts, (rows[-1].value if len(rows) == chunk else None)


def lock_workspace(session: Session, workspace_id: str) -> None:
    """Serialise identity resolution of one workspace until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"identity:{workspace_id}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def canonical_profile_id(session: Session, workspace_id: str, profile_id: str) -> str | None:
    """The surviving profile of ``profile_id`` (itself when not merged); None if unknown."""
    row = session.execute(
        select(_PROFILES.c.merged_into).where(
            _PROFILES.c.workspace_id == workspace_id, _PROFILES.c.id == profile_id
        )
    ).first()
    if row is None:
        return None
    return str(row.merged_into) if row.merged_into else profile_id


def canonical_ids(
    session: Session, workspace_id: str, profile_ids: Iterable[str]
) -> dict[str, str]:
    """Each known id of ``profile_ids`` → its surviving profile (itself when not merged)."""
    ids = sorted(set(profile_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(_PROFILES.c.id, _PROFILES.c.merged_into).where(
                _PROFILES.c.workspace_id == workspace_id,
                _PROFILES.c.id.in_(ids[start : start + 500]),
            )
        )
        found.update({str(pid): str(into or pid) for pid, into in rows})
    return found


def cluster_members(
    session: Session,
    workspace_id: str,
    profile_ids: Sequence[str],
    *,
    merged_by: datetime | None = None,
) -> dict[str, str]:
    """Every profile whose events count for one of ``profile_ids``: each of them and the
    profiles merged into it (only those merged by ``merged_by``, when given) → the profile
    they count for. Events keep the profile they were attributed to when processed."""
    rows = session.execute(
        select(_PROFILES.c.id, _PROFILES.c.merged_into, _PROFILES.c.merged_at).where(
            _PROFILES.c.workspace_id == workspace_id,
            _PROFILES.c.id.in_(profile_ids) | _PROFILES.c.merged_into.in_(profile_ids),
        )
    )
    members: dict[str, str] = {}
    for pid, into, merged_at in rows:
        if into is None or pid in profile_ids:
            members[pid] = pid
        elif merged_by is None or (merged_at is not None and merged_at <= merged_by):
            members[pid] = into
    return members


def kept_apart(session: Session, workspace_id: str) -> dict[str, dict[str, str]]:
    """The pairs of live profiles that un-merges split, both ways: ``{a: {b: merge id}}``.

    A split pair is named by the profiles it split; each is mapped to its survivor here, so
    a profile merged into one of them since is kept apart from the other one too.
    """
    # The splits first, then their profiles' survivors: a workspace mostly has no split,
    # and a join from the profiles' side can cost a scan of them.
    pairs = session.execute(
        select(ProfileSplit.merge_id, ProfileSplit.first_id, ProfileSplit.second_id).where(
            ProfileSplit.workspace_id == workspace_id
        )
    ).all()
    if not pairs:
        return {}
    survivors = _survivors(session, {p for _, a, b in pairs for p in (a, b)})
    apart: dict[str, dict[str, str]] = {}
    for merge_id, first, second in pairs:
        left, right = survivors.get(first), survivors.get(second)
        if left is not None and right is not None and left != right:
            apart.setdefault(left, {})[right] = merge_id
            apart.setdefault(right, {})[left] = merge_id
    return apart


def _survivors(session: Session, profile_ids: set[str]) -> dict[str, str]:
    """Each known profile of ``profile_ids`` (of any workspace) → its survivor."""
    ids = sorted(profile_ids)
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(_PROFILES.c.id, _PROFILES.c.merged_into).where(
                _PROFILES.c.id.in_(ids[start : start + 500])
            )
        )
        found.update({str(pid): str(into or pid) for pid, into in rows})
    return found


def keyed(session: Session, identifier: Identifier) -> Identifier:
    """The identifier as the graph stores and searches it (``identity_key``)."""
    return Identifier(identifier.type, identity_key(session, identifier.type, identifier.value))


def plain_identities(
    session: Session, workspace_id: str, profile_ids: Iterable[str]
) -> dict[str, list[Identifier]]:
    """Each profile's identifiers with their values (opened where sealed), sorted."""
    ids = list(profile_ids)
    result: dict[str, list[Identifier]] = {p: [] for p in ids}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                _IDENTITIES.c.profile_id,
                _IDENTITIES.c.type,
                _IDENTITIES.c.value,
                _IDENTITIES.c.sealed,
                _IDENTITIES.c.sealed_by,
            ).where(
                _IDENTITIES.c.workspace_id == workspace_id,
                _IDENTITIES.c.profile_id.in_(ids[start : start + 500]),
            )
        ).all()
        values = identity_values(session, workspace_id, rows)
        for row in rows:
            result[row.profile_id].append(Identifier(row.type, values[(row.type, row.value)]))
    return {p: sorted(found) for p, found in result.items()}


def profile_identities(
    session: Session, workspace_id: str, profile_ids: Iterable[str]
) -> dict[str, list[Identifier]]:
    """Each profile's identifiers as the graph holds them (keyed: see ``keyed``)."""
    ids = list(profile_ids)
    result: dict[str, list[Identifier]] = {p: [] for p in ids}
    if not ids:
        return result
    rows = session.execute(
        select(_IDENTITIES.c.profile_id, _IDENTITIES.c.type, _IDENTITIES.c.value).where(
            _IDENTITIES.c.workspace_id == workspace_id, _IDENTITIES.c.profile_id.in_(ids)
        )
    )
    for row in rows:
        result[row.profile_id].append(Identifier(row.type, row.value))
    return result


class _Group:
    """The profiles and new identifiers an event gathers, with per-type counts.

    Each identifier belongs to exactly one profile, so the union of profiles has the sum of
    their per-type counts; that is all a limit check needs.
    """

    def __init__(self, rules: IdentityRules) -> None:
        self.rules = rules
        self.profiles: list[str] = []
        self.counts: Counter[str] = Counter()
        self.joined: Counter[str] = Counter()  # the counts of the profiles joined, not new ones
        self.new: list[Identifier] = []

    def _breaks(self, adding: Counter[str]) -> str | None:
        for kind, count in adding.items():
            total = self.counts[kind] + count
            limit = self.rules.rule(kind).max_per_profile
            if total > limit:
                return f"the profile would have {total} {kind} (limit {limit})"
        return None

    def _knows_someone(self, counts: Counter[str]) -> bool:
        rule = self.rules.rule
        return any(n and rule(kind).names_person for kind, n in counts.items())

    def strangers(self, counts: Counter[str]) -> str | None:
        """Why a device may not bring in a profile with these counts: both it and a profile
        the group already joined hold a person's identifier (unless the rules let devices
        link known people). Identifiers new to the graph are no second person: a login or an
        address seen first with a cookie is taken to be the cookie's person."""
        if self.rules.devices_link_known or not (
            self._knows_someone(self.joined) and self._knows_someone(counts)
        ):
            return None
        return "a device links no two known people (each holds a person's identifier)"

    def join_profile(self, profile_id: str, counts: Counter[str]) -> str | None:
        reason = self._breaks(counts)
        if reason is None:
            self.profiles.append(profile_id)
            self.counts.update(counts)
            self.joined.update(counts)
        return reason

    def attach(self, identifier: Identifier) -> str | None:
        reason = self._breaks(Counter({identifier.type: 1}))
        if reason is None:
            self.new.append(identifier)
            self.counts[identifier.type] += 1
        return reason


_SEEN_RESOLUTION = timedelta(hours=1)  # last_seen is kept to the hour: fewer writes


class Resolver:
    """Resolves the events of one batch of one workspace.

    The batch's identifiers are loaded in one query, their profiles' per-type counts and
    ages in two more; the events then resolve against these caches, which follow every
    change. An event whose identifiers all sit on one profile costs no query at all.
    The caller holds ``lock_workspace``.
    """

    def __init__(
        self,
        session: Session,
        workspace_id: str,
        rules: IdentityRules,
        on_merge: Sequence[MergeHook] = (),
    ) -> None:
        self.on_merge = tuple(h for h in on_merge if not isinstance(h, MergesHook))
        self.on_merges = tuple(h for h in on_merge if isinstance(h, MergesHook))
        self.merges: list[tuple[str, str]] = []  # (survivor, merged), for ``on_merges``
        self.session = session
        self.workspace_id = workspace_id
        self.rules = rules
        self.rows: dict[Identifier, ProfileIdentity] = {}
        self.counts: dict[str, Counter[str]] = {}
        self.created: dict[str, tuple[datetime, str]] = {}
        # Identifiers looked up and not found: only this resolver adds identifiers while it
        # holds the workspace's lock, and those it adds go to ``rows``.
        self.absent: set[Identifier] = set()
        self._apart: dict[str, dict[str, str]] | None = None  # loaded when first needed
        # Identifiers as given → as stored (their keyed form), and the values of new ones.
        self._keys: dict[Identifier, Identifier] = {}
        self._plain: dict[Identifier, str] = {}

    def finish(self) -> None:
        """Run the ``MergesHook`` hooks over the merges made since the last call."""
        merges, self.merges = self.merges, []
        if merges:
            for hook in self.on_merges:
                hook.many(self.session, self.workspace_id, merges)

    def key(self, identifier: Identifier) -> Identifier:
        found = self._keys.get(identifier)
        if found is None:
            found = self._keys[identifier] = keyed(self.session, identifier)
            self._plain[found] = identifier.value
        return found

    def _split_from(self, profiles: Sequence[str], candidate: str) -> str | None:
        """Why ``candidate`` may not join ``profiles`` (an un-merge split them), or None."""
        if not profiles:
            return None
        if self._apart is None:
            self._apart = kept_apart(self.session, self.workspace_id)
        splits = self._apart.get(candidate, {})
        for profile_id in profiles:
            if profile_id in splits:
                return (
                    f"{profile_id} and {candidate} were split by undoing merge "
                    f"{splits[profile_id]}: they stay apart"
                )
        return None

    def preload(self, identifiers: Iterable[Identifier]) -> None:
        """Load the rows of these identifiers (as given: keyed here)."""
        self._preload(self.key(i) for i in identifiers)

    def _preload(self, identifiers: Iterable[Identifier]) -> None:
        by_type: dict[str, set[str]] = {}
        for i in identifiers:
            if i not in self.rows and i not in self.absent:
                by_type.setdefault(i.type, set()).add(i.value)
        if not by_type:
            return
        # One query per type: SQLite plans ``(type, value) IN (VALUES ...)`` as a full scan
        # of the table, while ``type = ? AND value IN (...)`` uses the primary key.
        for kind, found in sorted(by_type.items()):
            values = sorted(found)
            for start in range(0, len(values), 500):
                rows = self.session.scalars(
                    select(ProfileIdentity).where(
                        ProfileIdentity.workspace_id == self.workspace_id,
                        ProfileIdentity.type == kind,
                        ProfileIdentity.value.in_(values[start : start + 500]),
                    )
                )
                for row in rows:
                    self.rows[Identifier(row.type, row.value)] = row
            self.absent.update(i for v in values if (i := Identifier(kind, v)) not in self.rows)
        self._load_profiles({r.profile_id for r in self.rows.values()} - set(self.counts))

    def _load_profiles(self, profile_ids: set[str]) -> None:
        ids = sorted(profile_ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for profile_id in part:
                self.counts[profile_id] = Counter()
            counted = self.session.execute(
                select(_IDENTITIES.c.profile_id, _IDENTITIES.c.type, func.count())
                .where(
                    _IDENTITIES.c.workspace_id == self.workspace_id,
                    _IDENTITIES.c.profile_id.in_(part),
                )
                .group_by(_IDENTITIES.c.profile_id, _IDENTITIES.c.type)
            )
            for profile_id, kind, count in counted:
                self.counts[profile_id][kind] = int(count)
            ages = self.session.execute(
                select(_PROFILES.c.id, _PROFILES.c.created_at).where(_PROFILES.c.id.in_(part))
            )
            for profile_id, created_at in ages:
                self.created[profile_id] = (created_at, profile_id)

    def resolve(
        self, identifiers: Sequence[Identifier], *, at: datetime, message_id: str | None
    ) -> Resolution | None:
        """Attribute an event's identifiers (as given: keyed here) to one profile, merging
        and attaching by the rules; None for an event without identifiers."""
        if not identifiers:
            return None
        rules = self.rules
        keyed_ids = {self.key(i) for i in identifiers}
        ordered = sorted(keyed_ids, key=lambda i: (rules.rule(i.type).priority, i))
        if any(i not in self.rows and i not in self.absent for i in ordered):
            self._preload(ordered)  # new to this batch (or new altogether)
        rows = {i: self.rows[i] for i in ordered if i in self.rows}
        user = next((i.value for i in ordered if i.type == "user_id"), None)
        group = _Group(rules)
        refusals = [
            (
                device,
                [rows[device].profile_id],
                f"seen with more than {rules.shared_after_users} known user(s): shared, it "
                "links no profiles any more",
            )
            for device in _note_users(rows, user, rules)
        ]
        fallback: str | None = None  # a shared device's own profile, for device-only events
        for identifier in ordered:
            row = rows.get(identifier)
            if row is None:
                reason = group.attach(identifier)
                if reason is not None:
                    refusals.append((identifier, list(group.profiles), reason))
                continue
            if row.profile_id in group.profiles:
                continue
            if not rules.rule(identifier.type).links or row.shared:
                fallback = fallback or row.profile_id
                continue
            counts = self.counts[row.profile_id]
            strangers = group.strangers(counts) if rules.rule(identifier.type).device else None
            if strangers is not None and _seen_with_another(row, group, ordered, rules):
                strangers = (
                    f"{strangers}; seen with more than {rules.shared_after_users} known "
                    "people: shared, it links no profiles any more"
                )
            reason = (
                self._split_from(group.profiles, row.profile_id)
                or strangers
                or group.join_profile(row.profile_id, counts)
            )
            if reason is not None:
                refusals.append((identifier, [*group.profiles, row.profile_id], reason))
        result = self._apply(group, fallback, at, message_id)
        for identifier in group.new:
            added = ProfileIdentity(
                workspace_id=self.workspace_id,
                type=identifier.type,
                value=identifier.value,
                profile_id=result.profile_id,
                first_seen=at,
                last_seen=at,
                users=[user] if user and rules.rule(identifier.type).device else [],
                shared=False,
            )
            self.session.add(added)
            seal_identity_at_flush(self.session, added, self._plain[identifier])
            self.rows[identifier] = added
            self.counts[result.profile_id][identifier.type] += 1
        for row in rows.values():
            if at - row.last_seen > _SEEN_RESOLUTION:
                row.last_seen = at
        for identifier, profiles, reason in refusals:
            self.session.add(
                RefusedMerge(
                    id=new_id("mrf"),
                    workspace_id=self.workspace_id,
                    profile_ids=sorted(set(profiles)),
                    identifier_type=identifier.type,
                    reason=f"{identifier.type} {identifier.value!r}: {reason}",
                    message_id=message_id,
                    at=at,
                )
            )
            result.refused.append(reason)
        return result

    def _apply(
        self, group: _Group, fallback: str | None, at: datetime, message_id: str | None
    ) -> Resolution:
        if not group.profiles and not group.new and fallback is not None:
            return Resolution(fallback)
        if not group.profiles:
            profile_id = new_id("prof")
            self.session.add(
                Profile(id=profile_id, workspace_id=self.workspace_id, created_at=at, updated_at=at)
            )
            self.counts[profile_id] = Counter()
            self.created[profile_id] = (at, profile_id)
            return Resolution(profile_id, created=True)
        survivor = min(group.profiles, key=lambda p: self.created[p])
        result = Resolution(survivor)
        for merged in group.profiles:
            if merged != survivor:
                self._merge(survivor, merged, at, message_id)
                result.merged.append(merged)
        return result

    def merge_profiles(self, first: str, second: str, *, reason: str, at: datetime) -> str | None:
        """Merge two profiles outright (a confirmed match of master records).

        Returns the survivor, or None when the identity rules refuse the merge (recorded
        with the reason, like a refusal met by an event)."""
        first = canonical_profile_id(self.session, self.workspace_id, first) or first
        second = canonical_profile_id(self.session, self.workspace_id, second) or second
        if first == second:
            return first
        self._load_profiles({first, second} - set(self.counts))
        group = _Group(self.rules)
        group.join_profile(first, self.counts[first])
        refusal = self._split_from([first], second) or group.join_profile(
            second, self.counts[second]
        )
        if refusal is not None:
            self.session.add(
                RefusedMerge(
                    id=new_id("mrf"),
                    workspace_id=self.workspace_id,
                    profile_ids=sorted([first, second]),
                    identifier_type="match",
                    reason=f"{reason}: {refusal}",
                    message_id=None,
                    at=at,
                )
            )
            return None
        survivor, merged = sorted((first, second), key=lambda p: self.created[p])
        self._merge(survivor, merged, at, None, reason=reason)
        return survivor

    def _merge(
        self,
        survivor: str,
        merged: str,
        at: datetime,
        message_id: str | None,
        *,
        reason: str | None = None,
    ) -> None:
        session, workspace_id = self.session, self.workspace_id
        link = min((i for i, r in self.rows.items() if r.profile_id == merged), default=None)
        session.flush()
        moved = profile_identities(session, workspace_id, [merged])[merged]
        session.execute(
            update(_IDENTITIES)
            .where(_IDENTITIES.c.workspace_id == workspace_id, _IDENTITIES.c.profile_id == merged)
            .values(profile_id=survivor)
            .execution_options(synchronize_session=False)
        )
        for row in self.rows.values():  # the cached rows follow the table
            if row.profile_id == merged:
                set_committed_value(row, "profile_id", survivor)
        self.counts[survivor].update(self.counts.pop(merged))
        if self._apart is not None and merged in self._apart:  # the survivor inherits its splits
            for other, merge_id in self._apart.pop(merged).items():
                self._apart.setdefault(survivor, {})[other] = merge_id
                self._apart[other].pop(merged, None)
                self._apart[other][survivor] = merge_id
        for hook in self.on_merge:  # e.g. the profile's traits follow their identities
            hook(session, workspace_id, survivor, merged)
        if self.on_merges:
            self.merges.append((survivor, merged))
        session.execute(
            update(_PROFILES)
            .where(
                _PROFILES.c.workspace_id == workspace_id,
                (_PROFILES.c.id == merged) | (_PROFILES.c.merged_into == merged),
            )
            .values(merged_into=survivor, merged_at=func.coalesce(_PROFILES.c.merged_at, at))
        )
        session.add(
            MergeRecord(
                id=new_id("mrg"),
                workspace_id=workspace_id,
                survivor_id=survivor,
                merged_id=merged,
                reason=reason
                or (
                    f"{link} of {merged} arrived in one event with identifiers of {survivor}"
                    if link
                    else "linked by the event"
                ),
                identifier_type="match" if reason else link.type if link else "",
                message_id=message_id,
                identities=[[i.type, i.value] for i in sorted(moved)],
                at=at,
            )
        )


def _note_users(
    rows: dict[Identifier, ProfileIdentity], user: str | None, rules: IdentityRules
) -> list[Identifier]:
    """Remember which known users a device was seen with; mark it shared past the limit.

    Returns the devices that became shared now."""
    shared: list[Identifier] = []
    if user is None:
        return shared
    for identifier, row in rows.items():
        if not rules.rule(identifier.type).device or row.shared:
            continue
        users = list(row.users or [])
        if user not in users:
            users.append(user)
            row.users = users[: rules.shared_after_users + 1]
            if len(users) > rules.shared_after_users:
                row.shared = True
                shared.append(identifier)
    return shared


def _seen_with_another(
    row: ProfileIdentity, group: _Group, ordered: Sequence[Identifier], rules: IdentityRules
) -> bool:
    """Note on a device that it was seen with the person ``group`` is (its login, else its
    first person identifier) besides the person of its own profile; mark it shared past
    ``shared_after_users``. True when it became shared now."""
    person = next(
        (
            i.value if i.type == "user_id" else str(i)
            for i in ordered
            if rules.rule(i.type).names_person
        ),
        None,
    )
    users = list(row.users or [])
    # Both people count, the device's own (its profile) and the group's, whichever way
    # either was noted before (a login noted by _note_users, or an earlier refusal).
    for someone in (f"profile:{row.profile_id}", person):
        if someone is not None and someone not in users:
            users.append(someone)
    row.users = users[: rules.shared_after_users + 1]
    if len(users) > rules.shared_after_users and not row.shared:
        row.shared = True
        return True
    return False


def counts(session: Session, workspace_id: str) -> Counter[str]:
    """Live profiles, merged profiles and identifiers of a workspace."""
    live = session.scalar(
        select(func.count())
        .select_from(_PROFILES)
        .where(_PROFILES.c.workspace_id == workspace_id, _PROFILES.c.merged_into.is_(None))
    )
    total = session.scalar(
        select(func.count()).select_from(_PROFILES).where(_PROFILES.c.workspace_id == workspace_id)
    )
    identifiers = session.scalar(
        select(func.count())
        .select_from(_IDENTITIES)
        .where(_IDENTITIES.c.workspace_id == workspace_id)
    )
    return Counter(
        profiles=int(live or 0),
        merged=int((total or 0) - (live or 0)),
        identifiers=int(identifiers or 0),
    )
