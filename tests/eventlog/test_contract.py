"""The event-log contract, run against every backend (ENGINEERING.md: one suite for all)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coreo.db import Database
from coreo.eventlog.base import EventLog, NewRecord, partition_for
from coreo.eventlog.sql import SqlEventLog
from tests.conftest import Tenant

PARTITIONS = 4
GOLDEN = [4, 5, 2]


@pytest.fixture
def event_log(database: Database) -> Iterator[EventLog]:
    log = SqlEventLog(database, PARTITIONS)
    yield log
    log.close()


def _records(tenant: Tenant, keys: list[str], tag: str = "") -> list[NewRecord]:
    return [
        NewRecord(key, tenant.workspace_id, f"{tag}{key}:{i}".encode())
        for i, key in enumerate(keys)
    ]


def test_partition_is_a_stable_hash() -> None:
    # Golden values: a change here would reorder every existing log on upgrade.
    assert [partition_for(k, 8) for k in ("user-1", "anon-42", "u0001")] == GOLDEN


def test_offsets_start_at_one_and_have_no_gaps(event_log: EventLog, tenant: Tenant) -> None:
    keys = [f"user-{i % 7}" for i in range(40)]
    positions = event_log.append(_records(tenant, keys))
    by_partition: dict[int, list[int]] = {}
    for (partition, offset), key in zip(positions, keys, strict=True):
        assert partition == event_log.partition_of(key)
        by_partition.setdefault(partition, []).append(offset)
    for offsets in by_partition.values():
        assert offsets == list(range(1, len(offsets) + 1))
    more = event_log.append(_records(tenant, ["user-0"]))
    assert more[0][1] == len(by_partition[more[0][0]]) + 1


def test_read_returns_records_in_append_order(event_log: EventLog, tenant: Tenant) -> None:
    keys = ["same-key"] * 25
    event_log.append(_records(tenant, keys))
    partition = event_log.partition_of("same-key")
    first = event_log.read(partition, 0, 10)
    assert [r.offset for r in first] == list(range(1, 11))
    assert [r.payload for r in first] == [f"same-key:{i}".encode() for i in range(10)]
    rest = event_log.read(partition, 10, 100)
    assert [r.offset for r in rest] == list(range(11, 26))
    assert all(r.workspace_id == tenant.workspace_id and r.key == "same-key" for r in rest)
    assert event_log.read(partition, 25, 10) == []
    empty = next(p for p in range(PARTITIONS) if p != partition)
    assert event_log.read(empty, 0, 10) == [] or event_log.end_offset(empty) > 0


def test_consumer_groups_commit_independently_and_never_backwards(
    event_log: EventLog, tenant: Tenant
) -> None:
    event_log.append(_records(tenant, ["k"] * 10))
    p = event_log.partition_of("k")
    assert event_log.committed("profiles", p) == 0
    assert event_log.lag("profiles", p) == 10
    event_log.commit("profiles", p, 6)
    event_log.commit("profiles", p, 4)  # older: ignored
    assert event_log.committed("profiles", p) == 6
    assert event_log.committed("segments", p) == 0
    assert event_log.lag("profiles", p) == 4
    assert event_log.end_offset(p) == 10


def test_concurrent_appenders_get_unique_gapless_offsets(
    event_log: EventLog, tenant: Tenant
) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for batch in range(5):
                event_log.append(_records(tenant, ["hot"] * 10, tag=f"w{n}b{batch}-"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    p = event_log.partition_of("hot")
    records = event_log.read(p, 0, 1000)
    assert [r.offset for r in records] == list(range(1, 201))
    for n in range(4):  # each appender's records keep their order
        mine = [r.payload for r in records if r.payload.startswith(f"w{n}".encode())]
        assert mine == sorted(
            mine, key=lambda b: (int(b.split(b"b")[1].split(b"-")[0]), int(b.rsplit(b":", 1)[1]))
        )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=12), max_size=6))
def test_any_sequence_of_batches_reads_back_exactly(
    database: Database, tenant: Tenant, batches: list[list[str]]
) -> None:
    log = SqlEventLog(database, PARTITIONS)
    start = {p: log.end_offset(p) for p in range(PARTITIONS)}
    expected: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for number, keys in enumerate(batches):
        records = _records(tenant, keys, tag=f"{number}-")
        log.append(records)
        for record in records:
            expected[log.partition_of(record.key)].append(record.payload)
    for p in range(PARTITIONS):
        got = log.read(p, start[p], 10_000)
        assert [r.payload for r in got] == expected[p]
        assert [r.offset for r in got] == list(range(start[p] + 1, start[p] + len(got) + 1))


def test_unreachable_database_is_service_unavailable() -> None:
    from coreo.errors import ServiceUnavailableError

    log = SqlEventLog(Database("postgresql+psycopg://nobody@127.0.0.1:1/none"), 2)
    with pytest.raises(ServiceUnavailableError):
        log.append([NewRecord("k", "ws", b"x")])
