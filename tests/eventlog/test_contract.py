"""The event-log contract, run against every backend (ENGINEERING.md: one suite for all)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coreo.auth import service as auth_service
from coreo.db import Database
from coreo.errors import ServiceUnavailableError
from coreo.eventlog.base import EventLog, NewRecord, partition_for
from coreo.eventlog.sql import SqlEventLog
from tests.conftest import truncate_all

PARTITIONS = 4
GOLDEN = [4, 5, 2]


@dataclass(frozen=True)
class Backend:
    log: EventLog
    workspace_id: str


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sql-sqlite"),
        pytest.param("postgres", id="sql-postgres", marks=pytest.mark.postgres),
        pytest.param("nats", id="nats", marks=pytest.mark.nats),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every event-log backend, each with a workspace its records belong to."""
    if request.param == "nats":
        yield Backend(request.getfixturevalue("make_nats_log")(PARTITIONS), "ws_nats_contract")
        return
    if request.param == "sqlite":
        path = tmp_path / "coreo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        truncate_all(database)
    with database.transaction() as session:
        workspace = auth_service.create_workspace(session=session, slug="log", actor="test")
    yield Backend(SqlEventLog(database, PARTITIONS), workspace.id)
    database.dispose()


def _records(backend: Backend, keys: list[str], tag: str = "") -> list[NewRecord]:
    return [
        NewRecord(key, backend.workspace_id, f"{tag}{key}:{i}".encode())
        for i, key in enumerate(keys)
    ]


def test_partition_is_a_stable_hash() -> None:
    # Golden values: a change here would reorder every existing log on upgrade.
    assert [partition_for(k, 8) for k in ("user-1", "anon-42", "u0001")] == GOLDEN


def test_offsets_start_at_one_and_have_no_gaps(backend: Backend) -> None:
    event_log = backend.log
    keys = [f"user-{i % 7}" for i in range(40)]
    positions = event_log.append(_records(backend, keys))
    by_partition: dict[int, list[int]] = {}
    for (partition, offset), key in zip(positions, keys, strict=True):
        assert partition == event_log.partition_of(key)
        by_partition.setdefault(partition, []).append(offset)
    for offsets in by_partition.values():
        assert offsets == list(range(1, len(offsets) + 1))
    more = event_log.append(_records(backend, ["user-0"]))
    assert more[0][1] == len(by_partition[more[0][0]]) + 1


def test_read_returns_records_in_append_order(backend: Backend) -> None:
    event_log = backend.log
    keys = ["same-key"] * 25
    event_log.append(_records(backend, keys))
    partition = event_log.partition_of("same-key")
    first = event_log.read(partition, 0, 10)
    assert [r.offset for r in first] == list(range(1, 11))
    assert [r.payload for r in first] == [f"same-key:{i}".encode() for i in range(10)]
    rest = event_log.read(partition, 10, 100)
    assert [r.offset for r in rest] == list(range(11, 26))
    assert all(r.workspace_id == backend.workspace_id and r.key == "same-key" for r in rest)
    assert event_log.read(partition, 25, 10) == []
    empty = next(p for p in range(PARTITIONS) if p != partition)
    assert event_log.read(empty, 0, 10) == [] or event_log.end_offset(empty) > 0


def test_reading_many_partitions_at_once_is_reading_each(backend: Backend) -> None:
    """``read_many`` (a worker's one read a batch) gives exactly what ``read`` gives for
    each partition: its own offsets, the limit per partition, gaps skipped, empty ones."""
    event_log = backend.log
    keys = [f"user-{i % 9}" for i in range(60)]
    event_log.append(_records(backend, keys))
    some = event_log.partition_of("user-3")
    event_log.forget([(some, 2)])
    starts = {p: p % 3 for p in range(PARTITIONS)}
    for limit in (1, 4, 100):
        got = event_log.read_many(starts, limit)
        assert set(got) == set(starts)
        for partition, after in starts.items():
            assert got[partition] == event_log.read(partition, after, limit)
            assert len(got[partition]) <= limit
    assert event_log.read_many({}, 10) == {}
    ends = {p: event_log.end_offset(p) for p in range(PARTITIONS)}
    assert event_log.read_many(ends, 10) == {p: [] for p in range(PARTITIONS)}


def test_forgotten_records_leave_gaps_that_reads_skip(backend: Backend) -> None:
    event_log = backend.log
    event_log.append(_records(backend, ["erased"] * 6))
    partition = event_log.partition_of("erased")
    assert event_log.forget([(partition, 2), (partition, 5), (partition, 6)]) == 3
    assert event_log.forget([(partition, 2), (partition, 99)]) == 0  # gone, or never there
    assert [r.offset for r in event_log.read(partition, 0, 10)] == [1, 3, 4]
    assert [r.offset for r in event_log.read(partition, 1, 2)] == [3, 4]
    assert event_log.read(partition, 4, 10) == []
    assert event_log.end_offset(partition) >= 4
    (after,) = event_log.append(_records(backend, ["erased"]))
    assert after == (partition, 7)  # offsets are never reused


def test_trim_deletes_only_old_records_every_group_has_processed(backend: Backend) -> None:
    """Retention of the log itself: the slowest consumer group decides, gaps are not
    counted, a dry run counts without deleting, and a record no group processed stays."""
    event_log = backend.log
    event_log.append(_records(backend, ["old"] * 4))
    time.sleep(0.05)
    cutoff = datetime.now(UTC)
    time.sleep(0.05)
    event_log.append(_records(backend, ["old"] * 3))  # offsets 5..7, after the cutoff
    p = event_log.partition_of("old")
    far_future = cutoff + timedelta(days=1)
    assert event_log.trim(far_future) == 0  # no group has processed anything
    event_log.commit("profiles", p, 7)
    event_log.commit("segments", p, 3)  # the slowest group: only 1..3 are done
    event_log.forget([(p, 2)])
    assert event_log.trim(far_future, dry_run=True) == 2  # 1 and 3; 2 is a gap already
    assert [r.offset for r in event_log.read(p, 0, 10)] == [1, 3, 4, 5, 6, 7]
    assert event_log.trim(far_future) == 2
    assert [r.offset for r in event_log.read(p, 0, 10)] == [4, 5, 6, 7]
    event_log.commit("segments", p, 7)
    assert event_log.trim(cutoff) == 1  # 4; 5..7 were appended after the cutoff
    assert [r.offset for r in event_log.read(p, 0, 10)] == [5, 6, 7]
    assert event_log.trim(cutoff) == 0
    (after,) = event_log.append(_records(backend, ["old"]))
    assert after == (p, 8)  # offsets are never reused


def test_consumer_groups_commit_independently_and_never_backwards(backend: Backend) -> None:
    event_log = backend.log
    event_log.append(_records(backend, ["k"] * 10))
    p = event_log.partition_of("k")
    assert event_log.committed("profiles", p) == 0
    assert event_log.lag("profiles", p) == 10
    event_log.commit("profiles", p, 6)
    event_log.commit("profiles", p, 4)  # older: ignored
    assert event_log.committed("profiles", p) == 6
    assert event_log.committed("segments", p) == 0
    assert event_log.lag("profiles", p) == 4
    assert event_log.end_offset(p) == 10


def test_concurrent_appenders_get_unique_gapless_offsets(backend: Backend) -> None:
    event_log = backend.log
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for batch in range(5):
                event_log.append(_records(backend, ["hot"] * 10, tag=f"w{n}b{batch}-"))
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
    backend: Backend, batches: list[list[str]]
) -> None:
    log = backend.log
    start = {p: log.end_offset(p) for p in range(PARTITIONS)}
    expected: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for number, keys in enumerate(batches):
        records = _records(backend, keys, tag=f"{number}-")
        log.append(records)
        for record in records:
            expected[log.partition_of(record.key)].append(record.payload)
    for p in range(PARTITIONS):
        got = log.read(p, start[p], 10_000)
        assert [r.payload for r in got] == expected[p]
        assert [r.offset for r in got] == list(range(start[p] + 1, start[p] + len(got) + 1))


def test_unreachable_database_is_service_unavailable() -> None:
    log = SqlEventLog(Database("postgresql+psycopg://nobody@127.0.0.1:1/none"), 2)
    with pytest.raises(ServiceUnavailableError):
        log.append([NewRecord("k", "ws", b"x")])


@pytest.mark.nats
def test_nats_keeps_a_republished_record_once(make_nats_log: Any) -> None:
    """A retry after a failed commit publishes the same record again: JetStream keeps one
    (``Nats-Msg-Id``), and the retry is acknowledged with the first offset."""
    event_log = make_nats_log(PARTITIONS)
    record = NewRecord("user-1", "ws", b"order", dedupe_id="ws:m-1")
    first = event_log.append([record, NewRecord("user-1", "ws", b"other", dedupe_id="ws:m-2")])
    again = event_log.append([record])
    assert again == [first[0]]
    partition = event_log.partition_of("user-1")
    assert [r.payload for r in event_log.read(partition, 0, 10)] == [b"order", b"other"]
    plain = event_log.append([NewRecord("user-1", "ws", b"order")] * 2)  # no id: both kept
    assert [offset for _, offset in plain] == [3, 4]
