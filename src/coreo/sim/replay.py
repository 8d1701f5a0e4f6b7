"""Stream generated events to a running Coreo (or any Segment-compatible endpoint) in batches.

Batches follow Segment's HTTP Tracking API: ``POST /v1/batch`` with ``{"batch": [...]}``,
the write key as the Basic-auth user name, at most 500 KB a request and 32 KB a message.
The send rate is capped by a token bucket. ``429`` (honouring ``Retry-After``), ``5xx`` and
connection errors are retried with exponential backoff; any other ``4xx`` stops the replay
with the server's own explanation, because retrying a rejected batch cannot succeed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2

from coreo.errors import InvalidInputError, ServiceUnavailableError
from coreo.ingest.spec import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES

__all__ = ["MAX_BATCH_BYTES", "ReplayReport", "parse_rate", "read_events", "replay"]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")


def parse_rate(text: str) -> float | None:
    """Parse ``2000/s`` or ``2000`` (events per second); ``max`` or ``0`` mean unlimited."""
    if text.strip().lower() in {"max", "0", "unlimited"}:
        return None
    match = _RATE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise InvalidInputError(f"rate {text!r} is not a number of events per second like 2000/s")
    return float(match.group(1))


def read_events(path: Path) -> Iterator[bytes]:
    """Yield each message of an ``events.jsonl`` or ``events.parquet`` file as JSON bytes."""
    if not path.is_file():
        raise InvalidInputError(f"no events file at {path}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(columns=["message"], batch_size=10_000):
            for value in batch.column(0).to_pylist():
                yield value.encode()
        return
    with path.open("rb") as handle:
        for line in handle:
            stripped = line.strip()
            if stripped:
                yield stripped


def _batches(messages: Iterator[bytes], batch_size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 16
    for number, message in enumerate(messages, start=1):
        if len(message) > MAX_MESSAGE_BYTES:
            raise InvalidInputError(
                f"message {number} is {len(message)} bytes; the limit is {MAX_MESSAGE_BYTES}"
            )
        if batch and (len(batch) >= batch_size or size + len(message) + 1 > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 16
        batch.append(message)
        size += len(message) + 1
    if batch:
        yield batch


@dataclass
class ReplayReport:
    sent: int = 0
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _problem_detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)[:300]
    return str(body)[:300]


def replay(
    messages: Iterator[bytes],
    *,
    url: str,
    write_key: str,
    rate: float | None = None,
    batch_size: int = 100,
    endpoint: str = "/v1/batch",
    max_retries: int = 6,
    progress: Callable[[int], None] | None = None,
    client: httpx2.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send ``messages`` in batches; return what was sent.

    Raises:
        InvalidInputError: the server rejected a batch (4xx other than 429).
        ServiceUnavailableError: the server stayed unreachable or busy after the retries.
    """
    if not 1 <= batch_size <= 2500:
        raise InvalidInputError("batch size must be between 1 and 2500 messages")
    report = ReplayReport()
    started = time.perf_counter()
    own = client is None
    http = client or httpx2.Client(base_url=url, timeout=30)
    allowance = 0.0
    last = time.perf_counter()
    try:
        for batch in _batches(messages, batch_size):
            if rate is not None:
                now = time.perf_counter()
                allowance = min(allowance + (now - last) * rate, rate)  # one second of burst
                last = now
                if allowance < len(batch):
                    sleep((len(batch) - allowance) / rate)
                    last = time.perf_counter()
                    allowance = 0.0
                else:
                    allowance -= len(batch)
            body = b'{"batch":[' + b",".join(batch) + b"]}"
            report.retries += _post(http, endpoint, body, write_key, max_retries, sleep)
            report.sent += len(batch)
            report.batches += 1
            if progress is not None:
                progress(len(batch))
    finally:
        if own:
            http.close()
        report.seconds = time.perf_counter() - started
    return report


def _post(
    http: httpx2.Client,
    endpoint: str,
    body: bytes,
    write_key: str,
    max_retries: int,
    sleep: Callable[[float], None],
) -> int:
    """POST one batch, retrying what can succeed later; return the number of retries."""
    headers = {"Content-Type": "application/json"}
    for attempt in range(max_retries + 1):
        delay = min(30.0, 0.5 * 2**attempt)
        try:
            response = http.post(endpoint, content=body, headers=headers, auth=(write_key, ""))
        except httpx2.TransportError as error:
            reason = f"cannot reach the server: {type(error).__name__}"
        else:
            if response.status_code < 300:
                return attempt
            reason = f"HTTP {response.status_code}: {_problem_detail(response)}"
            if response.status_code == 429:
                retry_after = response.headers.get("retry-after", "")
                delay = float(retry_after) if retry_after.isdigit() else delay
            elif response.status_code < 500:
                raise InvalidInputError(f"the server rejected a batch: {reason}")
        if attempt < max_retries:
            sleep(delay)
    raise ServiceUnavailableError(f"gave up after {max_retries} retries; last error: {reason}")
