"""Group commit: on SQLite, the ingestion writes of concurrent requests share one transaction.

Every accepted request must be durable before it is answered, so each one used to open a
session, take SQLite's single write lock (or a PostgreSQL connection), write and commit.
Under load most of a small request's time went to that ceremony, and on SQLite the
requests queued for the lock anyway. Here the requests that arrive while a commit is
running wait for it to finish, and the next writer then stores all of them, each with its
own statements (its own de-duplication claim, dead letters and log records, exactly as if
alone), and commits once. A request is still answered only after the transaction that
holds its events has committed.

PostgreSQL takes concurrent writers and groups their WAL flushes itself, so there each
request of :meth:`GroupCommit.store` writes in a transaction of its own, concurrently with
the others.

On SQLite, single calls (``/v1/track`` and the like) come from the event loop through
:meth:`GroupCommit.commit`: they are queued for the writer's own committing thread, which
stores whatever was queued in one transaction (it would on PostgreSQL too, but there the
API keeps concurrent writers: measured faster) and wakes the loop once for the whole
group. No thread of the server's pool is
held waiting, and there is one thread switch a group instead of two a request.

Whoever gets the turn leads (no extra thread): it takes the queued requests of its own
workspace, up to :attr:`GroupCommit.max_events`, and stores them. If the shared
transaction fails, each request of the group is retried in a transaction of its own, so
one request's failure (e.g. a lost connection during its statements) is reported to that
request alone. Retrying is safe: nothing of a failed transaction was kept, and a log
outside the database (NATS) drops repeated appends by their de-duplication id.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from coreo.db import Database
from coreo.eventlog.base import EventLog
from coreo.ingest.service import IngestResult, PreparedMessages, store_prepared

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Pending:
    prepared: PreparedMessages
    result: IngestResult | None = None
    error: BaseException | None = None
    waiter: asyncio.Future[IngestResult] | None = None  # a request awaiting it (``commit``)

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


def _settle(pending: Sequence[_Pending]) -> None:
    """On the waiters' event loop: hand each request its outcome (one wake-up a group)."""
    for item in pending:
        waiter = item.waiter
        if waiter is None or waiter.done():  # the client went away meanwhile
            continue
        if item.error is not None:
            waiter.set_exception(item.error)
        else:
            waiter.set_result(cast(IngestResult, item.result))


class GroupCommit:
    """Store prepared requests (:func:`coreo.ingest.service.prepare_messages`) durably,
    concurrent ones in one transaction (see the module docstring).

    ``on_group`` (tests, metrics) is called with the number of requests of each committed
    group; ``on_commit`` after every commit that stored something (it wakes the worker of
    this process, see :class:`coreo.runtime.worker.Worker`).
    """

    def __init__(
        self,
        database: Database,
        log: EventLog,
        *,
        max_events: int = 5_000,
        on_group: Callable[[int], None] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.log = log
        self.max_events = max_events
        self._on_group = on_group
        self._on_commit = on_commit
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        self._submitted = threading.Condition(self._queue_lock)
        self._committer: threading.Thread | None = None
        self._closed = False

    async def commit(self, prepared: PreparedMessages) -> IngestResult:
        """Store ``prepared`` from an event loop: this writer's own thread commits it,
        together with whatever else was submitted meanwhile (on SQLite and PostgreSQL
        alike), and the loop is woken once a group; no thread of the loop's pool waits."""
        loop = asyncio.get_running_loop()
        pending = _Pending(prepared, waiter=loop.create_future())
        with self._submitted:
            self._queue.append(pending)
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_submitted, name="coreo-ingest-commit", daemon=True
                )
                self._committer.start()
            self._submitted.notify()
        assert pending.waiter is not None  # noqa: S101 - made above
        return await pending.waiter

    def close(self) -> None:
        """Commit what was submitted, then stop the committing thread (the server stops).
        A later ``commit`` starts one again: an app may be started more than once."""
        with self._submitted:
            self._closed = True
            self._submitted.notify()
            committer = self._committer
        if committer is not None:
            committer.join(timeout=30)
        with self._submitted:
            self._closed = False

    def _commit_submitted(self) -> None:
        while True:
            with self._submitted:
                while not self._queue and not self._closed:
                    self._submitted.wait()
                if not self._queue:  # closed and drained; a later commit starts anew
                    self._committer = None
                    return
                workspace_id = self._queue[0].prepared.workspace_id
            with self._turn:
                group = self._take(workspace_id)
                if group:
                    self._lead(group)

    def store(self, prepared: PreparedMessages) -> IngestResult:
        """Write ``prepared`` and commit; return once its transaction has committed."""
        pending = _Pending(prepared)
        if not self.database.is_sqlite:
            # PostgreSQL takes concurrent writers (and groups their WAL flushes itself):
            # queueing them here would only serialise their round trips.
            self._lead([pending])
            return self._outcome(pending)
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.done:
            with self._turn:
                if pending.done:  # an earlier leader stored it
                    break
                self._lead(self._take(pending.prepared.workspace_id))
        return self._outcome(pending)

    @staticmethod
    def _outcome(pending: _Pending) -> IngestResult:
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None  # noqa: S101 - done means one of the two is set
        return pending.result

    def _take(self, workspace_id: str) -> list[_Pending]:
        """The queued requests of ``workspace_id``, oldest first, up to the event budget
        (at least one); the rest stay queued."""
        group: list[_Pending] = []
        events = 0
        with self._queue_lock:
            rest: list[_Pending] = []
            for pending in self._queue:
                size = len(pending.prepared.ready) + len(pending.prepared.refused)
                fits = not group or events + size <= self.max_events
                if pending.prepared.workspace_id == workspace_id and fits:
                    group.append(pending)
                    events += size
                else:
                    rest.append(pending)
            self._queue = rest
        return group

    def _lead(self, group: list[_Pending]) -> None:
        try:
            try:
                results = self._write(group)
            except Exception as error:
                if len(group) == 1:
                    group[0].error = error
                    return
                for pending in group:  # alone, so that one failure stays with its request
                    try:
                        pending.result = self._write([pending])[0]
                    except Exception as own_error:
                        pending.error = own_error
                return
            for pending, result in zip(group, results, strict=True):
                pending.result = result
            if self._on_group is not None:
                self._on_group(len(group))
        finally:
            for pending in group:  # interrupted: no request of the group may wait forever
                if not pending.done:
                    pending.error = RuntimeError("the commit of this request was interrupted")
            waiting: dict[asyncio.AbstractEventLoop, list[_Pending]] = defaultdict(list)
            for pending in group:
                if pending.waiter is not None:
                    waiting[pending.waiter.get_loop()].append(pending)
            for loop, pending_there in waiting.items():
                with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits
                    loop.call_soon_threadsafe(_settle, pending_there)
            if self._on_commit is not None and any(p.result and p.result.accepted for p in group):
                self._on_commit()

    def _write(self, group: list[_Pending]) -> list[IngestResult]:
        workspace_id = group[0].prepared.workspace_id
        with self.database.transaction(workspace_id=workspace_id, urgent=True) as session:
            return [
                store_prepared(session=session, log=self.log, prepared=pending.prepared)
                for pending in group
            ]
