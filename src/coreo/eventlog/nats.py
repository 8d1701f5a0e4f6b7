"""The event log on NATS JetStream (cluster mode).

Each partition is its own stream (``<name>_P<n>`` on subject ``<name>.p.<n>``), so a
stream's sequence numbers are the partition's gapless offsets. Consumer-group offsets live
in a JetStream key-value bucket and only move forwards (compare-and-set). NATS delivers at
least once: a worker commits its offset after its database transaction, and stages are
idempotent per message id, so a redelivered record changes nothing.

The client library is asynchronous; this class owns an event loop on a background thread
and offers the same synchronous interface as the SQL log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import (
    APIError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from coreo.errors import ServiceUnavailableError
from coreo.eventlog.base import EventLog, NewRecord, Record

__all__ = ["NatsEventLog"]

T = TypeVar("T")
_KEY_HEADER = "Coreo-Key"
_WORKSPACE_HEADER = "Coreo-Workspace"
_MSG_ID_HEADER = "Nats-Msg-Id"
# JetStream's answers to deleting a message that is not there: deleted already (10037,
# 10043) or beyond the end of the stream (10057).
_NO_MESSAGE = frozenset({10037, 10043, 10057})


def _no_message(error: APIError) -> bool:
    """Whether JetStream answered that the message is not there ("not found" does not
    always come as NotFoundError)."""
    return isinstance(error, NotFoundError) or error.err_code in _NO_MESSAGE


class NatsEventLog(EventLog):
    """``EventLog`` on JetStream streams, one per partition."""

    def __init__(
        self, url: str, partitions: int, *, name: str = "COREO_EVENTS", timeout: float = 10.0
    ) -> None:
        super().__init__(partitions)
        self.url = url
        self.name = name
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="coreo-nats", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None
        self._connect_lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=self.timeout * 3)
        except (NatsError, OSError, TimeoutError, NatsTimeoutError) as error:
            raise ServiceUnavailableError(
                f"the NATS event log at {self.url} is unavailable: {type(error).__name__}"
            ) from None

    def _stream(self, partition: int) -> str:
        return f"{self.name}_P{partition}"

    def _subject(self, partition: int) -> str:
        return f"{self.name}.p.{partition}"

    async def _ensure(self) -> tuple[JetStreamContext, KeyValue]:
        ready = self._js is not None and self._kv is not None and self._nc is not None
        if ready and self._nc is not None and self._nc.is_connected:
            assert self._js is not None and self._kv is not None  # noqa: S101 - for mypy
            return self._js, self._kv
        self._nc = await nats.connect(
            self.url, connect_timeout=self.timeout, max_reconnect_attempts=3, allow_reconnect=True
        )
        js = self._nc.jetstream(timeout=self.timeout)
        for partition in range(self.partitions):
            config = StreamConfig(name=self._stream(partition), subjects=[self._subject(partition)])
            try:
                await js.stream_info(self._stream(partition))
            except NotFoundError:
                await js.add_stream(config)
        bucket = f"{self.name}_OFFSETS"
        try:
            kv = await js.key_value(bucket)
        except Exception:
            kv = await js.create_key_value(bucket=bucket, history=1)
        self._js, self._kv = js, kv
        return js, kv

    def _connected(self) -> tuple[JetStreamContext, KeyValue]:
        with self._connect_lock:
            return self._run(self._ensure())

    # -- the contract ------------------------------------------------------------------------

    def append(self, records: Sequence[NewRecord]) -> list[tuple[int, int]]:
        if not records:
            return []
        js, _ = self._connected()

        async def publish() -> list[tuple[int, int]]:
            futures = []
            for record in records:  # one connection keeps publish order per subject
                partition = self.partition_of(record.key)
                headers = {_KEY_HEADER: record.key, _WORKSPACE_HEADER: record.workspace_id}
                if record.dedupe_id is not None:  # JetStream keeps one per duplicate window
                    # hashed: headers lose blanks and line breaks that make ids differ
                    headers[_MSG_ID_HEADER] = hashlib.sha256(record.dedupe_id.encode()).hexdigest()
                futures.append(
                    (
                        partition,
                        await js.publish_async(
                            self._subject(partition), record.payload, headers=headers
                        ),
                    )
                )
            acks = await asyncio.gather(*(future for _, future in futures))
            return [(partition, ack.seq) for (partition, _), ack in zip(futures, acks, strict=True)]

        return self._run(publish())

    def read(self, partition: int, after: int, limit: int) -> list[Record]:
        js, _ = self._connected()

        async def state() -> tuple[int, int, int]:
            info = await js.stream_info(self._stream(partition))
            first = int(info.state.first_seq or 1)
            return first, int(info.state.last_seq), int(info.state.num_deleted or 0)

        first, last, deleted = self._run(state())
        # Records before the first were trimmed (retention): the range starts there.
        available = min(limit, last - max(after, first - 1))
        if available <= 0:
            return []

        async def fetch() -> list[Record]:
            nonlocal available
            subscription = await js.pull_subscribe(
                self._subject(partition),
                stream=self._stream(partition),
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=after + 1,
                    ack_policy=AckPolicy.NONE,
                    inactive_threshold=30.0,
                ),
            )
            try:
                if deleted:  # forgotten records: count what is there to read
                    info = await subscription.consumer_info()
                    available = min(available, int(info.num_pending or 0))
                records: list[Record] = []
                pending = available
                while len(records) < available and pending > 0:
                    batch = await subscription.fetch(available - len(records), timeout=self.timeout)
                    for message in batch:
                        # Nothing more to deliver: the rest of the range was forgotten.
                        pending = message.metadata.num_pending
                        headers = message.headers or {}
                        records.append(
                            Record(
                                partition,
                                message.metadata.sequence.stream,
                                headers.get(_KEY_HEADER, ""),
                                headers.get(_WORKSPACE_HEADER, ""),
                                message.data,
                            )
                        )
                return records
            finally:
                await subscription.unsubscribe()

        return self._run(fetch())

    def end_offset(self, partition: int) -> int:
        js, _ = self._connected()

        async def last() -> int:
            info = await js.stream_info(self._stream(partition))
            return int(info.state.last_seq)

        return self._run(last())

    def committed(self, group: str, partition: int) -> int:
        _, kv = self._connected()

        async def get() -> int:
            try:
                entry = await kv.get(f"{group}.{partition}")
            except KeyNotFoundError:
                return 0
            return int(entry.value or b"0")

        return self._run(get())

    def commit(self, group: str, partition: int, offset: int) -> None:
        _, kv = self._connected()
        key = f"{group}.{partition}"

        async def put() -> None:
            for _ in range(20):  # compare-and-set: never move backwards
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:
                    try:
                        await kv.create(key, str(offset).encode())
                        return
                    except KeyWrongLastSequenceError:
                        continue
                if int(entry.value or b"0") >= offset:
                    return
                try:
                    await kv.update(key, str(offset).encode(), last=entry.revision)
                    return
                except KeyWrongLastSequenceError:
                    continue
            raise ServiceUnavailableError("could not commit the offset (too much contention)")

        self._run(put())

    def forget(self, positions: Sequence[tuple[int, int]]) -> int:
        js, _ = self._connected()

        async def drop() -> int:
            forgotten = 0
            for partition, offset in sorted(set(positions)):
                try:
                    await js.delete_msg(self._stream(partition), offset)
                except APIError as error:
                    if not _no_message(error):
                        raise
                    continue
                forgotten += 1
            return forgotten

        return self._run(drop())

    def trim(self, before: datetime, *, dry_run: bool = False) -> int:
        js, kv = self._connected()

        async def cut() -> int:
            processed = await self._processed_by_partition(kv)
            total = 0
            for partition in range(self.partitions):
                through = processed.get(partition, 0)
                stream = self._stream(partition)
                state = await self._state_with_gaps(stream)
                first, last = int(state["first_seq"]), min(int(state["last_seq"]), through)
                if not state["messages"] or first > last:
                    continue
                end = await self._last_appended_before(js, partition, first, last, before)
                if end is None:
                    continue
                gaps = sum(1 for seq in state.get("deleted") or [] if first <= seq <= end)
                total += end - first + 1 - gaps
                if not dry_run:
                    await js.purge_stream(stream, seq=end + 1)  # everything below end + 1
            return total

        return self._run(cut())

    async def _processed_by_partition(self, kv: KeyValue) -> dict[int, int]:
        """The lowest committed offset of any consumer group, per partition."""
        try:
            keys = await kv.keys()
        except NoKeysError:
            return {}
        processed: dict[int, int] = {}
        for key in keys:
            partition = int(key.rsplit(".", 1)[1])
            entry = await kv.get(key)
            offset = int(entry.value or b"0")
            processed[partition] = min(offset, processed.get(partition, offset))
        return processed

    async def _state_with_gaps(self, stream: str) -> dict[str, Any]:
        """The stream's state with the sequence numbers of deleted messages (JetStream's
        ``STREAM.INFO`` with ``deleted_details``, which the client does not ask for)."""
        assert self._nc is not None  # noqa: S101 - connected by the caller
        reply = await self._nc.request(
            f"$JS.API.STREAM.INFO.{stream}", b'{"deleted_details":true}', timeout=self.timeout
        )
        return dict(json.loads(reply.data)["state"])

    async def _last_appended_before(
        self, js: JetStreamContext, partition: int, first: int, last: int, before: datetime
    ) -> int | None:
        """The highest sequence in ``first..last`` appended before ``before`` (a stream's
        times ascend with its sequence), by bisection; None when the first is not."""
        subject, found = self._subject(partition), None
        low, high = first, last
        while low <= high:
            middle = (low + high) // 2
            try:
                message = await js.get_msg(
                    self._stream(partition), seq=middle, subject=subject, next=True
                )
            except APIError as error:  # nothing left from middle on
                if not _no_message(error):
                    raise
                high = middle - 1
                continue
            if (
                message.seq is not None
                and message.seq <= last
                and message.time is not None
                and message.time < before
            ):
                found, low = message.seq, message.seq + 1
            else:
                high = middle - 1
        return found

    def ping(self) -> None:
        js, _ = self._connected()
        self._run(js.account_info())

    def delete_all(self) -> None:
        """Remove this log's streams and offsets (tests, decommissioning)."""
        js, _ = self._connected()

        async def drop() -> None:
            for partition in range(self.partitions):
                with contextlib.suppress(NotFoundError):
                    await js.delete_stream(self._stream(partition))
            with contextlib.suppress(NotFoundError):
                await js.delete_key_value(f"{self.name}_OFFSETS")

        self._run(drop())
        self._js = self._kv = None

    def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(ServiceUnavailableError):
                self._run(self._nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
