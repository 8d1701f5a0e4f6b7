"""Group commit: concurrent ingestion requests share a transaction, with the semantics of
separate ones (coreo.ingest.group_commit)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest import group_commit
from coreo.ingest.group_commit import GroupCommit
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.service import IngestResult, PreparedMessages, prepare_messages
from tests.conftest import Tenant
from tests.helpers import logged_messages

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PARTITIONS = 4
# Groups form on SQLite, whose writers queue for one lock anyway.
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def _prepared(workspace_id: str, *message_ids: str, user: str = "u") -> PreparedMessages:
    messages = [
        {"type": "track", "userId": user, "event": "Viewed", "messageId": m} for m in message_ids
    ]
    return prepare_messages(
        workspace_id=workspace_id,
        messages=messages,
        received_at=NOW,
        options=NormaliseOptions(),
        dedupe_window=timedelta(hours=24),
    )


def _logged(log: SqlEventLog) -> list[tuple[str, str]]:
    """(workspace id, message id) of every record in the log."""
    return sorted((ws, m["messageId"]) for ws, m in logged_messages(log.database, log))


class _Held:
    """Requests submitted from threads while the test holds the writer's turn, so that all
    of them are queued before the first one leads."""

    def __init__(self, writer: GroupCommit) -> None:
        self.writer = writer
        self.results: dict[int, IngestResult] = {}
        self.errors: dict[int, BaseException] = {}
        self.threads: list[threading.Thread] = []

    def submit(self, index: int, prepared: PreparedMessages) -> None:
        def run() -> None:
            try:
                self.results[index] = self.writer.store(prepared)
            except Exception as error:
                self.errors[index] = error

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def release_when_queued(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.writer._queue) < count:
            assert time.monotonic() < deadline, "the requests never queued"
            time.sleep(0.005)
        self.writer._turn.release()
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def held(database: Database) -> Iterator[Callable[..., _Held]]:
    def make(**kwargs: Any) -> _Held:
        writer = GroupCommit(database, SqlEventLog(database, PARTITIONS), **kwargs)
        writer._turn.acquire()
        return _Held(writer)

    yield make


@sqlite_only
def test_concurrent_requests_are_stored_by_one_transaction_each_with_its_own_result(
    database: Database, tenant: Tenant, held: Callable[..., _Held]
) -> None:
    groups: list[int] = []
    run = held(on_group=groups.append)
    for n in range(5):
        run.submit(n, _prepared(tenant.workspace_id, f"m{n}a", f"m{n}b"))
    run.release_when_queued(5)
    assert run.errors == {}
    assert groups == [5]
    for n in range(5):
        assert [a.message_id for a in run.results[n].accepted] == [f"m{n}a", f"m{n}b"]
    expected = sorted((tenant.workspace_id, f"m{n}{s}") for n in range(5) for s in "ab")
    assert _logged(SqlEventLog(database, PARTITIONS)) == expected


@sqlite_only
def test_a_message_id_in_two_requests_of_one_group_is_processed_once(
    database: Database, tenant: Tenant, held: Callable[..., _Held]
) -> None:
    """A client retry that arrives while the first attempt is still queued: the two share a
    transaction, and the id is claimed once, as with separate transactions."""
    groups: list[int] = []
    run = held(on_group=groups.append)
    run.submit(0, _prepared(tenant.workspace_id, "again"))
    run.submit(1, _prepared(tenant.workspace_id, "again", "other"))
    run.release_when_queued(2)
    assert run.errors == {}
    assert groups == [2]
    outcomes = {
        n: ([a.message_id for a in r.accepted], [d.message_id for d in r.duplicates])
        for n, r in run.results.items()
    }
    # Whichever was queued first claims "again"; the other acknowledges it as a duplicate.
    assert outcomes in (
        {0: (["again"], []), 1: (["other"], ["again"])},
        {0: ([], ["again"]), 1: (["again", "other"], [])},
    )
    assert _logged(SqlEventLog(database, PARTITIONS)) == [
        (tenant.workspace_id, "again"),
        (tenant.workspace_id, "other"),
    ]


@sqlite_only
def test_a_failing_request_fails_alone_and_the_others_of_its_group_are_kept(
    database: Database, tenant: Tenant, held: Callable[..., _Held], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _prepared(tenant.workspace_id, "broken")
    real = group_commit.store_prepared

    def store(*, session: Any, log: Any, prepared: PreparedMessages) -> IngestResult:
        result = real(session=session, log=log, prepared=prepared)  # written, then it fails
        if prepared is broken:
            raise RuntimeError("the connection went away")
        return result

    monkeypatch.setattr(group_commit, "store_prepared", store)
    groups: list[int] = []
    run = held(on_group=groups.append)
    run.submit(0, _prepared(tenant.workspace_id, "kept-1"))
    run.submit(1, broken)
    run.submit(2, _prepared(tenant.workspace_id, "kept-2"))
    run.release_when_queued(3)
    assert set(run.errors) == {1}
    assert str(run.errors[1]) == "the connection went away"
    assert sorted(run.results) == [0, 2]
    assert groups == []  # the shared transaction failed; each was retried on its own
    # The failed group left nothing behind: every kept event is in the log exactly once,
    # and nothing of the broken request (whose retry failed too).
    assert [m for _, m in _logged(SqlEventLog(database, PARTITIONS))] == ["kept-1", "kept-2"]


@sqlite_only
def test_workspaces_never_share_a_transaction(
    database: Database, make_tenant: Callable[[str], Tenant], held: Callable[..., _Held]
) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    groups: list[int] = []
    run = held(on_group=groups.append)
    run.submit(0, _prepared(acme.workspace_id, "a1"))
    run.submit(1, _prepared(globex.workspace_id, "g1"))
    run.submit(2, _prepared(acme.workspace_id, "a2"))
    run.release_when_queued(3)
    assert run.errors == {}
    assert sorted(groups) == [1, 2]
    assert _logged(SqlEventLog(database, PARTITIONS)) == sorted(
        [(acme.workspace_id, "a1"), (acme.workspace_id, "a2"), (globex.workspace_id, "g1")]
    )


@sqlite_only
def test_a_group_stops_at_its_event_budget_and_the_rest_follow(
    database: Database, tenant: Tenant, held: Callable[..., _Held]
) -> None:
    groups: list[int] = []
    run = held(on_group=groups.append, max_events=4)
    for n in range(5):
        run.submit(n, _prepared(tenant.workspace_id, f"b{n}x", f"b{n}y"))
    run.release_when_queued(5)
    assert run.errors == {}
    assert sum(groups) == 5
    assert max(groups) == 2  # two requests of two events fill the budget of four
    assert len(_logged(SqlEventLog(database, PARTITIONS))) == 10


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_on_postgresql_each_request_commits_on_its_own_concurrently(
    database: Database, tenant: Tenant
) -> None:
    groups: list[int] = []
    writer = GroupCommit(database, SqlEventLog(database, PARTITIONS), on_group=groups.append)
    writer._turn.acquire()
    results: dict[int, IngestResult] = {}

    def store(n: int) -> None:
        results[n] = writer.store(_prepared(tenant.workspace_id, f"p{n}"))

    threads = [threading.Thread(target=store, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert groups == [1, 1, 1]
    assert sorted(r.accepted[0].message_id for r in results.values()) == ["p0", "p1", "p2"]
    assert [m for _, m in _logged(SqlEventLog(database, PARTITIONS))] == ["p0", "p1", "p2"]


def test_on_commit_follows_each_commit_that_stored_something_and_sees_it(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker of the process is woken through ``on_commit``: only once the events are
    committed (a reader sees them), and not by a request that brought nothing new or
    failed."""
    log = SqlEventLog(database, PARTITIONS)
    visible: list[int] = []
    writer = GroupCommit(database, log, on_commit=lambda: visible.append(len(_logged(log))))
    writer.store(_prepared(tenant.workspace_id, "c1", "c2"))
    writer.store(_prepared(tenant.workspace_id, "c3"))
    assert visible == [2, 3]
    writer.store(_prepared(tenant.workspace_id, "c3"))  # a retry: nothing new to process
    assert visible == [2, 3]
    real = group_commit.store_prepared

    def failing(*, session: Any, log: Any, prepared: PreparedMessages) -> IngestResult:
        real(session=session, log=log, prepared=prepared)
        raise RuntimeError("the connection went away")

    monkeypatch.setattr(group_commit, "store_prepared", failing)
    with pytest.raises(RuntimeError):
        writer.store(_prepared(tenant.workspace_id, "c4"))
    assert visible == [2, 3]


def test_calls_from_an_event_loop_are_committed_together_by_the_writers_thread(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``commit``: what the loop submits while the writer's thread is busy is stored in one
    transaction (on PostgreSQL too), each request gets its own result and one failing
    request fails alone; closing the writer commits what is queued, then refuses more."""
    broken = _prepared(tenant.workspace_id, "broken")
    real = group_commit.store_prepared

    def store(*, session: Any, log: Any, prepared: PreparedMessages) -> IngestResult:
        result = real(session=session, log=log, prepared=prepared)
        if prepared is broken:
            raise RuntimeError("the connection went away")
        return result

    monkeypatch.setattr(group_commit, "store_prepared", store)
    groups: list[int] = []
    writer = GroupCommit(database, SqlEventLog(database, PARTITIONS), on_group=groups.append)
    requests = [_prepared(tenant.workspace_id, f"m{n}", user=f"u{n}") for n in range(6)]

    async def send() -> list[Any]:
        writer._turn.acquire()  # busy: everything sent meanwhile queues
        calls = [asyncio.ensure_future(writer.commit(p)) for p in [*requests, broken]]
        while len(writer._queue) < len(calls):
            await asyncio.sleep(0.001)
        writer._turn.release()
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(send())
    assert [[a.message_id for a in r.accepted] for r in outcomes[:6]] == [
        [f"m{n}"] for n in range(6)
    ]
    assert isinstance(outcomes[6], RuntimeError)
    assert groups == []  # the shared transaction failed; each was retried on its own
    assert [m for _, m in _logged(SqlEventLog(database, PARTITIONS))] == [f"m{n}" for n in range(6)]
    monkeypatch.setattr(group_commit, "store_prepared", real)
    groups.clear()

    async def burst() -> list[IngestResult]:
        writer._turn.acquire()
        calls = [
            asyncio.ensure_future(writer.commit(_prepared(tenant.workspace_id, f"late{n}")))
            for n in range(3)
        ]
        while len(writer._queue) < len(calls):
            await asyncio.sleep(0.001)
        writer._turn.release()
        return await asyncio.gather(*calls)

    assert [len(r.accepted) for r in asyncio.run(burst())] == [1, 1, 1]
    assert groups == [3]
    writer.close()  # the server stops: its thread ends ...
    assert writer._committer is None
    again = asyncio.run(writer.commit(_prepared(tenant.workspace_id, "after")))
    assert [a.message_id for a in again.accepted] == ["after"]  # ... and a restart commits
    writer.close()
