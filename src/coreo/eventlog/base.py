"""The event log contract every backend implements (and one test suite checks).

A log has a fixed number of partitions. A record's partition is a stable hash of its key
(the event's identity key), so all events of one identity stay in order in one partition.
Offsets start at 1 and grow by one per record within a partition, without gaps (a record
forgotten later, as erasure does, leaves its offset unused: reads skip it). Consumer
groups remember the last offset they have processed per partition; a group that commits
offset ``n`` next reads from ``n + 1``.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["EventLog", "NewRecord", "Record", "partition_for"]


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record to append: its partitioning key, its workspace and its bytes.

    ``dedupe_id`` names the record for a backend that publishes outside the caller's
    transaction (NATS): the same id published again within the backend's window is kept
    once, so a retry after a failed commit does not append twice. The SQL log appends in
    the caller's transaction and needs none."""

    key: str
    workspace_id: str
    payload: bytes
    dedupe_id: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A record read back, with its position."""

    partition: int
    offset: int
    key: str
    workspace_id: str
    payload: bytes


def partition_for(key: str, partitions: int) -> int:
    """The partition of ``key``: CRC-32 of its UTF-8 bytes modulo the partition count
    (stable across processes and versions, unlike ``hash()``)."""
    return zlib.crc32(key.encode()) % partitions


class EventLog(ABC):
    """Append, read by partition and offset, and track consumer groups' progress."""

    def __init__(self, partitions: int) -> None:
        if partitions < 1:
            raise ValueError("an event log needs at least one partition")
        self.partitions = partitions

    def partition_of(self, key: str) -> int:
        return partition_for(key, self.partitions)

    @abstractmethod
    def append(self, records: Sequence[NewRecord]) -> list[tuple[int, int]]:
        """Durably append ``records``; return each one's (partition, offset), in order.

        When this returns, the records survive a crash of this process. Order within a
        partition follows the order of ``records``.
        """

    @abstractmethod
    def read(self, partition: int, after: int, limit: int) -> list[Record]:
        """Return up to ``limit`` records of ``partition`` with offsets greater than ``after``."""

    def read_many(self, starts: Mapping[int, int], limit: int) -> dict[int, list[Record]]:
        """:meth:`read` of several partitions at once: for each ``partition: after`` of
        ``starts``, up to ``limit`` records (a backend may do it in one round trip)."""
        return {
            partition: self.read(partition, after, limit) for partition, after in starts.items()
        }

    @abstractmethod
    def end_offset(self, partition: int) -> int:
        """The offset of the newest record in ``partition`` (0 when empty)."""

    @abstractmethod
    def committed(self, group: str, partition: int) -> int:
        """The last offset ``group`` has committed for ``partition`` (0 when none)."""

    @abstractmethod
    def commit(self, group: str, partition: int, offset: int) -> None:
        """Record that ``group`` has processed ``partition`` up to and including ``offset``.

        Commits never move backwards: committing an older offset is a no-op.
        """

    @abstractmethod
    def forget(self, positions: Sequence[tuple[int, int]]) -> int:
        """Delete the records at these (partition, offset) positions; return how many there
        were. Erasure and suppressed events use it: the log keeps nothing of an erased
        person. Offsets are not reused and reads skip the gaps."""

    @abstractmethod
    def trim(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the records appended before ``before`` that every consumer group has
        committed (retention); return how many (a dry run only counts them). A record no
        group has processed yet is kept, however old: nothing accepted is lost."""

    def lag(self, group: str, partition: int) -> int:
        """Records in ``partition`` that ``group`` has not committed yet."""
        return max(0, self.end_offset(partition) - self.committed(group, partition))

    @abstractmethod
    def ping(self) -> None:
        """Raise ServiceUnavailableError when the log cannot be reached."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
