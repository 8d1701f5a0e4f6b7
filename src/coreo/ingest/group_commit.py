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
request writes in a transaction of its own, concurrently with the others.

Whoever gets the turn leads (no extra thread): it takes the queued requests of its own
workspace, up to :attr:`GroupCommit.max_events`, and stores them. If the shared
transaction fails, each request of the group is retried in a transaction of its own, so
one request's failure (e.g. a lost connection during its statements) is reported to that
request alone. Retrying is safe: nothing of a failed transaction was kept, and a log
outside the database (NATS) drops repeated appends by their de-duplication id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from coreo.db import Database
from coreo.eventlog.base import EventLog
from coreo.ingest.service import IngestResult, PreparedMessages, store_prepared

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Pending:
    prepared: PreparedMessages
    result: IngestResult | None = None
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


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
            if self._on_commit is not None and any(p.result and p.result.accepted for p in group):
                self._on_commit()

    def _write(self, group: list[_Pending]) -> list[IngestResult]:
        workspace_id = group[0].prepared.workspace_id
        with self.database.transaction(workspace_id=workspace_id, urgent=True) as session:
            return [
                store_prepared(session=session, log=self.log, prepared=pending.prepared)
                for pending in group
            ]
