"""Append to and verify the audit hash chains.

Each entry's hash is SHA-256 over a canonical JSON serialisation (sorted keys, UTC time with
microseconds) of its chain, sequence number, time, actor, action, target, details and the
previous entry's hash. Changing, inserting, deleting or reordering entries breaks the chain,
and ``verify`` names the first entry where it breaks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from coreo.audit.models import AuditChain, AuditEntry
from coreo.db import Database, conflict_insert, utcnow
from coreo.errors import InvalidInputError

__all__ = [
    "CONFIG_CHANGED",
    "GENESIS_HASH",
    "SYSTEM_CHAIN",
    "ChainBreak",
    "VerifyReport",
    "entry_hash",
    "list_entries",
    "record",
    "record_config",
    "record_reads",
    "verify",
]

SYSTEM_CHAIN = "system"
GENESIS_HASH = "0" * 64
_VERIFY_BATCH = 1000

_CHAINS = cast(Table, AuditChain.__table__)
_ENTRIES = cast(Table, AuditEntry.__table__)
_ENTRY_COLUMNS = tuple(c.name for c in _ENTRIES.columns)
# FOR UPDATE serialises appenders on PostgreSQL; SQLite write transactions already are.
_HEAD = (
    select(_CHAINS.c.last_seq, _CHAINS.c.last_hash)
    .where(_CHAINS.c.chain == bindparam("head_chain"))
    .with_for_update()
)
_MOVE_HEAD = (
    update(_CHAINS)
    .where(_CHAINS.c.chain == bindparam("head_chain"))
    .values(last_seq=bindparam("seq"), last_hash=bindparam("hash"))
)


def entry_hash(
    *,
    chain: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """Return the hex SHA-256 of the entry's canonical serialisation."""
    canonical = orjson.dumps(
        {
            "v": 1,
            "chain": chain,
            "seq": seq,
            "at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
            "prev": prev_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    """``entry_hash`` of an entry's own fields."""
    return entry_hash(
        chain=entry.chain,
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )


def _lock_chain_head(session: Session, chain: str) -> tuple[int, str]:
    """The chain head's sequence number and hash, locked for this transaction (the head is
    created when missing)."""
    connection = session.connection()
    head = connection.execute(_HEAD, {"head_chain": chain}).first()
    if head is None:
        connection.execute(
            conflict_insert(session, _CHAINS)
            .values(chain=chain, last_seq=0, last_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["chain"])
        )
        head = connection.execute(_HEAD, {"head_chain": chain}).one()
    return int(head.last_seq), str(head.last_hash)


def _append(
    session: Session, chain: str, items: Sequence[tuple[str, str, str, dict[str, Any]]]
) -> list[AuditEntry]:
    """Append ``(actor, action, target, details)`` entries to ``chain`` in the caller's
    transaction, with three statements however many entries (the head read and locked,
    the entries, the head moved)."""
    for *_, details in items:
        try:
            orjson.dumps(details)
        except TypeError as error:
            raise InvalidInputError(f"audit details must be plain JSON: {error}") from None
    seq, previous = _lock_chain_head(session, chain)
    now = utcnow()
    entries: list[AuditEntry] = []
    for actor, action, target, details in items:
        seq += 1
        entry = AuditEntry(
            chain=chain,
            seq=seq,
            occurred_at=now,
            actor=actor,
            action=action,
            target=target,
            details=details,
            prev_hash=previous,
        )
        entry.hash = previous = _hash_of(entry)
        entries.append(entry)
    connection = session.connection()
    connection.execute(
        insert(_ENTRIES),
        [{c: getattr(e, c) for c in _ENTRY_COLUMNS} for e in entries],
    )
    connection.execute(_MOVE_HEAD, {"head_chain": chain, "seq": seq, "hash": previous})
    return entries


def record(
    *,
    session: Session,
    chain: str,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry to ``chain`` in the caller's transaction and return it.

    Args:
        chain: the workspace id, or ``SYSTEM_CHAIN`` for installation-wide events.
        actor: who acted, e.g. ``key:coreo_sk_ab12cd34`` or ``cli``.
        action: dotted verb, e.g. ``api_key.revoked``.
        target: what was acted on, e.g. ``api_key:key_01…``.
        details: plain JSON facts (integers within 64 bits); never secrets, never personal
            data in clear.

    Raises:
        InvalidInputError: when ``details`` is not plain JSON.
    """
    session.flush()  # the caller's pending changes first, as an ORM add would have
    (entry,) = _append(session, chain, [(actor, action, target, dict(details or {}))])
    # Stored already: it joins the session as it is. Merged rather than added: an entry of
    # a rolled-back savepoint may still be in the session under the same (chain, seq).
    make_transient_to_detached(entry)
    return session.merge(entry, load=False)


CONFIG_CHANGED = "config.changed"


def record_config(*, session: Session, snapshot: dict[str, str], actor: str) -> AuditEntry | None:
    """Record the server configuration in the system chain when it differs from the last one.

    Args:
        snapshot: the settings as displayed (``Settings.public_snapshot()``: no secrets).

    Returns:
        The new ``config.changed`` entry, or None when nothing changed since the last start.
    """
    last = session.execute(
        select(AuditEntry)
        .where(AuditEntry.chain == SYSTEM_CHAIN, AuditEntry.action == CONFIG_CHANGED)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    previous: dict[str, str] = dict(last.details.get("settings", {})) if last else {}
    if last is not None and previous == snapshot:
        return None
    changed = {
        name: {"from": previous.get(name), "to": snapshot.get(name)}
        for name in sorted(set(previous) | set(snapshot))
        if previous.get(name) != snapshot.get(name)
    }
    return record(
        session=session,
        chain=SYSTEM_CHAIN,
        actor=actor,
        action=CONFIG_CHANGED,
        target="config:server",
        details={"settings": snapshot, "changed": changed if last is not None else {}},
    )


def list_entries(
    *,
    session: Session,
    chain: str,
    after_seq: int = 0,
    limit: int = 100,
    action: str | None = None,
) -> Sequence[AuditEntry]:
    """Return up to ``limit`` entries of ``chain`` after ``after_seq``, oldest first."""
    query = select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > after_seq)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return session.execute(query.order_by(AuditEntry.seq).limit(limit)).scalars().all()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain first fails verification, and why."""

    chain: str
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    chains: int
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks


def _verify_chain(session: Session, head: AuditChain) -> tuple[int, ChainBreak | None]:
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    last_seq = 0
    while True:
        batch = list_entries(
            session=session, chain=head.chain, after_seq=last_seq, limit=_VERIFY_BATCH
        )
        for entry in batch:
            checked += 1
            if entry.seq != expected_seq:
                return checked, ChainBreak(
                    head.chain, expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing"
                )
            if entry.prev_hash != prev_hash:
                return checked, ChainBreak(
                    head.chain, entry.seq, "previous-hash link does not match the entry before"
                )
            actual = _hash_of(entry)
            if actual != entry.hash:
                return checked, ChainBreak(
                    head.chain, entry.seq, "content does not match its hash (entry was altered)"
                )
            expected_seq, prev_hash, last_seq = entry.seq + 1, entry.hash, entry.seq
        if len(batch) < _VERIFY_BATCH:
            break
    if last_seq != head.last_seq or prev_hash != head.last_hash:
        return checked, ChainBreak(
            head.chain,
            last_seq + 1,
            f"chain ends at entry {last_seq} but its head records entry {head.last_seq} "
            "(entries were removed or the head was altered)",
        )
    return checked, None


def verify(*, session: Session, chain: str | None = None) -> VerifyReport:
    """Recompute every hash of ``chain`` (or of all chains) and report the first breaks."""
    query = select(AuditChain).order_by(AuditChain.chain)
    if chain is not None:
        query = query.where(AuditChain.chain == chain)
    heads = session.execute(query).scalars().all()
    known = {head.chain for head in heads}
    orphan_query = select(AuditEntry.chain).distinct()
    if chain is not None:
        orphan_query = orphan_query.where(AuditEntry.chain == chain)
    orphans = [c for c in session.execute(orphan_query).scalars() if c not in known]
    checked, breaks = 0, []
    for head in heads:
        count, found = _verify_chain(session, head)
        checked += count
        if found is not None:
            breaks.append(found)
    breaks.extend(ChainBreak(c, 1, "entries exist but the chain head is missing") for c in orphans)
    return VerifyReport(checked=checked, chains=len(heads) + len(orphans), breaks=tuple(breaks))


def record_reads(
    database: Database,
    workspace_id: str,
    *,
    actor: str,
    action: str,
    profile_ids: Sequence[str],
    details: dict[str, Any] | None = None,
) -> None:
    """Audit who read whose data: one entry per profile read (``action``, e.g.
    ``profile.read``), in a transaction of its own, committed before the caller answers, so
    a read the chain could not record fails instead of going unrecorded."""
    if not profile_ids:
        return
    facts = dict(details or {})
    with database.transaction(workspace_id=workspace_id) as session:
        _append(
            session,
            workspace_id,
            [(actor, action, f"profile:{p}", facts) for p in dict.fromkeys(profile_ids)],
        )
