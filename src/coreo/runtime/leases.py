"""Partition leases: which worker of a consumer group processes which partitions.

Every worker registers as a member of its group and renews that row, and the leases it
holds, every ``renew_interval`` seconds; rows live ``ttl`` seconds. A worker holds at most
``ceil(partitions / live members)`` partitions: it gives back the excess and claims
partitions that nobody holds or whose lease has expired. A claim is one conditional
statement (insert, or take over only where ``expires_at`` has passed), so two workers can
never both win a partition, also on PostgreSQL under concurrency.

A worker trusts its leases for ``ttl`` seconds from the moment it *started* renewing them,
which is never later than the moment the database lets another worker take them over.
A worker that stalls for longer than ``ttl`` loses its partitions and finds out at its next
renewal; the SQL log's row lock on the committed offset (and, with NATS, the idempotent
stages) absorb a batch that was already running when its lease expired.

Example (two workers of one group share eight partitions)::

    a = PartitionLeases(database, group="g", partitions=8)
    b = PartitionLeases(database, group="g", partitions=8)
    a.refresh()  # a holds 0-7 (it is the only member)
    b.refresh()  # b is a member now, but every partition is still held by a
    a.refresh()  # two members: a gives back four partitions
    b.refresh()  # and b claims them
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from coreo.db import Database, conflict_insert, utcnow
from coreo.eventlog.models import LogLease, LogMember

__all__ = ["LeaseChange", "PartitionLeases", "new_owner_id"]

_LEASES = cast(Table, LogLease.__table__)
_MEMBERS = cast(Table, LogMember.__table__)
_CLEANUP_INTERVAL = 60.0  # seconds between removals of long-departed members


def new_owner_id() -> str:
    """A worker identity that is never reused (a restarted process is a new owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class LeaseChange:
    """The outcome of a renewal: partitions held now, newly claimed and given up or lost."""

    held: frozenset[int]
    claimed: frozenset[int]
    lost: frozenset[int]


def _database_now(session: Session) -> datetime:
    # One clock for every worker on PostgreSQL: the server's. Embedded SQLite is one host.
    if session.get_bind().dialect.name == "postgresql":
        value: datetime = session.execute(select(func.now())).scalar_one()
        return value
    return utcnow()


class PartitionLeases:
    """The leases of one worker (``owner``) in a consumer group."""

    def __init__(
        self,
        database: Database,
        *,
        group: str,
        partitions: int,
        owner: str | None = None,
        ttl: float = 10.0,
        renew_interval: float = 2.0,
    ) -> None:
        if not 0 <= renew_interval < ttl:
            raise ValueError("the renew interval must be shorter than the lease TTL")
        self.database = database
        self.group = group
        self.partitions = partitions
        self.owner = owner or new_owner_id()
        self.ttl = ttl
        self.renew_interval = renew_interval
        self._held: frozenset[int] = frozenset()
        self._valid_until = float("-inf")  # time.monotonic() after which _held is not trusted
        self._next_refresh = float("-inf")
        self._next_cleanup = float("-inf")
        self._tenure: dict[int, int] = {}

    def held(self) -> tuple[int, ...]:
        """The partitions this worker may process now (none once its leases may have lapsed)."""
        if time.monotonic() >= self._valid_until:
            return ()
        return tuple(sorted(self._held))

    def holds(self, partition: int) -> bool:
        """Whether this worker may process ``partition`` now."""
        return partition in self._held and time.monotonic() < self._valid_until

    def due(self) -> bool:
        """Whether it is time to renew (always, once the leases may have lapsed)."""
        now = time.monotonic()
        return now >= self._next_refresh or now >= self._valid_until

    def refresh(self) -> LeaseChange:
        """Renew membership and leases, give back the excess, claim what is free and due."""
        started = time.monotonic()
        with self.database.transaction() as session:
            now = _database_now(session)
            expires = now + timedelta(seconds=self.ttl)
            member = conflict_insert(session, _MEMBERS)
            session.execute(
                member.values(
                    consumer_group=self.group, owner=self.owner, expires_at=expires
                ).on_conflict_do_update(
                    index_elements=["consumer_group", "owner"], set_={"expires_at": expires}
                )
            )
            live = session.execute(
                select(func.count())
                .select_from(_MEMBERS)
                .where(_MEMBERS.c.consumer_group == self.group, _MEMBERS.c.expires_at > now)
            ).scalar_one()
            self._lock_own_leases(session)
            renewed = session.execute(
                update(_LEASES)
                .where(_LEASES.c.consumer_group == self.group, _LEASES.c.owner == self.owner)
                .values(expires_at=expires)
                .returning(_LEASES.c.partition_no)
            ).scalars()
            held = {p for p in renewed if 0 <= p < self.partitions}
        previous = self._held
        # From here on, the local view follows each statement that changes the database, so
        # a failure half-way (the caller retries later) never leaves a partition believed
        # held that another worker may already have claimed.
        self._held = frozenset(held)
        self._valid_until = started + self.ttl
        quota = math.ceil(self.partitions / max(1, int(live)))
        claimed: set[int] = set()
        others_over_quota = False
        if len(held) > quota:  # a worker joined: make room for it
            excess = sorted(held)[quota:]
            self._held = frozenset(held.difference(excess))
            self._delete_leases(excess)
        elif len(held) < quota:
            free, others_over_quota = self._free_partitions(now, held, quota)
            while free and len(self._held) < quota:
                wanted, free = free[: quota - len(self._held)], free[quota - len(self._held) :]
                won = self._claim(wanted, now, expires)
                for partition in won:
                    self._tenure[partition] = self._tenure.get(partition, 0) + 1
                self._held = self._held | won
                claimed.update(won)
        if started >= self._next_cleanup:
            self._forget_departed_members(now)
            self._next_cleanup = started + _CLEANUP_INTERVAL
        # Short of its share while another worker holds more than its own: that one gives
        # partitions back at its next renewal, so look again soon.
        starved = len(self._held) < quota and others_over_quota
        self._next_refresh = started + (self.renew_interval / 4 if starved else self.renew_interval)
        return LeaseChange(held=self._held, claimed=frozenset(claimed), lost=previous - self._held)

    def tenure(self, partition: int) -> int:
        """How many times this worker has claimed ``partition``: a position remembered
        under an older tenure is stale (another worker may have moved on meanwhile)."""
        return self._tenure.get(partition, 0)

    def release(self) -> None:
        """Give back every lease and leave the group (graceful stop)."""
        self._held = frozenset()
        self._valid_until = float("-inf")
        with self.database.transaction() as session:
            self._lock_own_leases(session)
            session.execute(
                delete(_LEASES).where(
                    _LEASES.c.consumer_group == self.group, _LEASES.c.owner == self.owner
                )
            )
            session.execute(
                delete(_MEMBERS).where(
                    _MEMBERS.c.consumer_group == self.group, _MEMBERS.c.owner == self.owner
                )
            )

    def _free_partitions(self, now: datetime, held: set[int], quota: int) -> tuple[list[int], bool]:
        """Partitions nobody holds, in this owner's order; whether another holds too many."""
        with self.database.transaction(write=False) as session:
            rows = session.execute(
                select(_LEASES.c.partition_no, _LEASES.c.owner).where(
                    _LEASES.c.consumer_group == self.group, _LEASES.c.expires_at > now
                )
            ).all()
        taken = {partition for partition, _ in rows}
        per_owner = Counter(owner for _, owner in rows if owner != self.owner)
        # Start at a place of this owner's own, so workers starting together rarely collide.
        start = zlib.crc32(self.owner.encode()) % self.partitions
        order = [(start + i) % self.partitions for i in range(self.partitions)]
        free = [p for p in order if p not in taken and p not in held]
        return free, any(count > quota for count in per_owner.values())

    def _claim(self, partitions: Sequence[int], now: datetime, expires: datetime) -> set[int]:
        """Take the partitions that are free or expired; return the ones won."""
        # Its own transaction, rows in ascending order: concurrent claimers lock rows in the
        # same order and wait for nothing else, so they cannot deadlock. The expiry check is
        # part of the statement: of two claimers of one expired lease, the second re-checks
        # the row the first has just renewed and leaves it.
        rows = [
            {
                "consumer_group": self.group,
                "partition_no": partition,
                "owner": self.owner,
                "expires_at": expires,
            }
            for partition in sorted(partitions)
        ]
        with self.database.transaction() as session:
            insert = conflict_insert(session, _LEASES)
            won = session.execute(
                insert.values(rows)
                .on_conflict_do_update(
                    index_elements=["consumer_group", "partition_no"],
                    set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at},
                    where=_LEASES.c.expires_at <= now,
                )
                .returning(_LEASES.c.partition_no)
            ).scalars()
            return set(won)

    def _lock_own_leases(self, session: Session, partitions: Sequence[int] | None = None) -> None:
        # Row locks in ascending partition order, as claims take them: a renewal or release
        # racing a claim of the same (expired) leases waits instead of deadlocking.
        query = select(_LEASES.c.partition_no).where(
            _LEASES.c.consumer_group == self.group, _LEASES.c.owner == self.owner
        )
        if partitions is not None:
            query = query.where(_LEASES.c.partition_no.in_(partitions))
        session.execute(query.order_by(_LEASES.c.partition_no).with_for_update())

    def _delete_leases(self, partitions: Sequence[int]) -> None:
        with self.database.transaction() as session:
            self._lock_own_leases(session, partitions)
            session.execute(
                delete(_LEASES).where(
                    _LEASES.c.consumer_group == self.group,
                    _LEASES.c.owner == self.owner,
                    _LEASES.c.partition_no.in_(partitions),
                )
            )

    def _forget_departed_members(self, now: datetime) -> None:
        # Members that stopped renewing long ago (killed processes); a stalled worker that
        # comes back simply registers again.
        cutoff = now - timedelta(seconds=self.ttl)
        with self.database.transaction() as session:
            session.execute(
                delete(_MEMBERS).where(
                    _MEMBERS.c.consumer_group == self.group, _MEMBERS.c.expires_at < cutoff
                )
            )
