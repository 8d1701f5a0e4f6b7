"""Benchmark: ingestion through the real HTTP API, against a raw bulk-insert baseline.

For each store (embedded SQLite; PostgreSQL when reachable) it starts `coreo serve` (API
and worker in one process, as deployed), then measures on loopback:

1. sustained `/v1/batch` ingestion (100 events a request, 1,000,000 events by default) of
   simulated events, and the ratio to a baseline measured in the same run: the same rows
   bulk-inserted into the same kind of database (executemany, 100 rows a transaction),
   with no HTTP and no validation;
2. single-event `/v1/track` requests per second, and their latency (p50, p99);
3. the accepted -> processed delay at a steady 1,000 events/s (p50, p99), read from the
   server's `coreo_event_processing_delay_seconds` histogram.

The load comes from a separate process (``--clients`` keep-alive connections, one thread
each) that writes pre-built HTTP/1.1 requests on raw sockets, so that the client costs a
few microseconds a request and the numbers are the server's. Everything shares this
machine's cores: the load generator, the API and the worker.

Run: .venv/bin/python benchmarks/ingest.py [--events 1000000] [--stores sqlite,postgres]
Targets (issue 4): >= 30,000 events/s into SQLite and >= 50 % of the baseline; >= 2,000
single requests/s; p99 accepted -> processed <= 100 ms at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import re
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import psycopg
from _loopback import Connection, ServeProcess

from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

BATCH = 100
CLIENTS = 4
TOKEN = re.compile(r"coreo_wk_[0-9a-z]{12}_[A-Za-z0-9_-]{43}")
PG_ADMIN = os.environ.get(
    "COREO_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_SQLITE_RATE = 30_000
TARGET_BASELINE_SHARE = 0.5
TARGET_TRACK_RATE = 2_000
TARGET_P99_MS = 100.0


def _events(count: int, work: Path) -> list[bytes]:
    """Simulated Segment messages (realistic sizes), repeated with fresh ids if needed."""
    customers = max(100, min(1_000_000, count // 110))
    out = work / "world"
    generate(Scenario(customers=customers, days=365, seed=7), out)
    lines = (out / "events.jsonl").read_bytes().splitlines()
    messages: list[bytes] = []
    round_ = 0
    while len(messages) < count:
        for line in lines:
            if len(messages) >= count:
                break
            message = orjson.loads(line)
            message["messageId"] = f"{message['messageId']}-{round_}"
            messages.append(orjson.dumps(message))
        round_ += 1
    return messages


def _batches(messages: list[bytes]) -> list[bytes]:
    return [
        b'{"batch":[' + b",".join(messages[i : i + BATCH]) + b"]}"
        for i in range(0, len(messages), BATCH)
    ]


class Server(ServeProcess):
    """``coreo serve`` on a store created and initialised for the run (``write_key``)."""

    def __init__(self, home: Path, database_url: str | None) -> None:
        extra = {"COREO_DATABASE_URL": database_url} if database_url else {}
        super().__init__(
            home,
            start_timeout=30,
            COREO_INGEST_MAX_LAG="0",
            COREO_MAX_BODY_BYTES="2000000",
            **extra,
        )
        self.write_key = ""

    def __enter__(self) -> Server:
        self.cli("migrate")
        self.write_key = TOKEN.findall(self.cli("init"))[0]
        super().__enter__()
        return self


# -- load generation: raw HTTP/1.1 over keep-alive sockets, in a separate process ----------


def _request(port: int, path: str, write_key: str, body: bytes) -> bytes:
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class _Outcome:
    sent: int = 0
    accepted: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per request (/v1/track only)


def _post_all(port: int, write_key: str, bodies: list[bytes], clients: int) -> _Outcome:
    """POST every body to /v1/batch over ``clients`` connections; 503s are retried as SDKs do."""
    outcome = _Outcome()
    lock = threading.Lock()
    cursor = iter(bodies)

    def client() -> None:
        connection = Connection(port)
        try:
            while True:
                with lock:
                    body = next(cursor, None)
                if body is None or outcome.errors:
                    return
                request = _request(port, "/v1/batch", write_key, body)
                for _attempt in range(10):
                    status, answer = connection.exchange(request)
                    if status != 503:
                        break
                    with lock:
                        outcome.retried += 1
                    time.sleep(0.2)
                with lock:
                    if status != 200:
                        outcome.errors.append(f"{status} {answer[:200]!r}")
                        return
                    outcome.sent += 1
                    outcome.accepted += int(orjson.loads(answer).get("accepted", 1))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def _track_for(port: int, write_key: str, seconds: float, clients: int) -> _Outcome:
    """Send single /v1/track calls over ``clients`` connections for ``seconds``."""
    outcome = _Outcome()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        connection = Connection(port)
        done = 0
        seconds: list[float] = []
        try:
            while time.monotonic() < stop:
                body = orjson.dumps(
                    {"userId": f"bench-{n}", "event": "Benchmark Ping", "properties": {"n": done}}
                )
                started = time.perf_counter()
                status, answer = connection.exchange(_request(port, "/v1/track", write_key, body))
                seconds.append(time.perf_counter() - started)
                if status != 200:
                    with lock:
                        outcome.errors.append(f"{status} {answer[:200]!r}")
                    return
                done += 1
        finally:
            connection.close()
            with lock:
                outcome.sent += done
                outcome.accepted += done
                outcome.seconds.extend(seconds)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def _in_load_process(target: Any, *args: Any) -> tuple[_Outcome, float]:
    """Run ``target(*args)`` in a forked process; return its outcome and its wall time."""
    context = multiprocessing.get_context("fork")
    results: Any = context.SimpleQueue()
    go = context.Event()

    def run() -> None:
        go.wait()
        started = time.perf_counter()
        outcome = target(*args)
        results.put((outcome, time.perf_counter() - started))

    process = context.Process(target=run, daemon=True)
    process.start()
    go.set()
    outcome, elapsed = results.get()
    process.join()
    if outcome.errors:
        raise RuntimeError(f"load failed: {outcome.errors[0]}")
    return outcome, elapsed


# -- server-side measurements ----------------------------------------------------------------


def _cpu_seconds(server: Server) -> float:
    """CPU time the server process has used (all its threads; Linux): unlike wall time, it
    barely moves when other programs compete for this machine's cores."""
    assert server.process is not None  # noqa: S101 - started by Server.__enter__
    try:
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _histogram(server: Server) -> dict[float, float]:
    text = httpx2.get(f"{server.base}/metrics", timeout=10).text
    buckets = {}
    for match in re.finditer(
        r'coreo_event_processing_delay_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)', text
    ):
        bound = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
        buckets[bound] = float(match.group(2))
    return buckets


def _quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    target, previous_bound, previous_count = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= target:
            if bound == float("inf"):
                return previous_bound
            share = (target - previous_count) / max(count - previous_count, 1e-9)
            return previous_bound + share * (bound - previous_bound)
        previous_bound, previous_count = bound, count
    return previous_bound


def _wait_drained(server: Server, timeout: float = 3600) -> float:
    """Wait until the worker has processed everything; return the seconds waited."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx2.get(f"{server.base}/metrics", timeout=10).text
        lags = [float(v) for v in re.findall(r"coreo_consumer_lag\{[^}]*\} ([0-9.e+]+)", text)]
        if lags and max(lags) == 0:
            return time.perf_counter() - started
        time.sleep(0.5)
    raise RuntimeError("the worker did not catch up")


def _steady_latency(server: Server, rate: int = 1000, seconds: float = 10.0) -> tuple[float, float]:
    """Send ``rate`` events/s in batches of 10 for ``seconds``; return (p50, p99) in ms."""
    before = _histogram(server)
    interval = 10 / rate
    connection = Connection(server.port)
    try:
        next_at = time.perf_counter()
        n = 0
        end = next_at + seconds
        while time.perf_counter() < end:
            batch = [
                {"type": "track", "userId": f"steady-{(n + i) % 500}", "event": "Steady"}
                for i in range(10)
            ]
            n += 10
            body = orjson.dumps({"batch": batch})
            status, answer = connection.exchange(
                _request(server.port, "/v1/batch", server.write_key, body)
            )
            if status != 200:
                raise RuntimeError(f"steady load failed: {status} {answer[:200]!r}")
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        connection.close()
    time.sleep(2)  # let the worker finish
    after = _histogram(server)
    return _quantile(before, after, 0.5) * 1000, _quantile(before, after, 0.99) * 1000


# -- baselines -------------------------------------------------------------------------------


def _baseline_sqlite(messages: list[bytes], path: Path) -> float:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE raw (partition_no INTEGER, log_offset INTEGER, key TEXT, "
            "payload BLOB, PRIMARY KEY (partition_no, log_offset))"
        )
    connection = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    for start in range(0, len(messages), BATCH):
        rows = [(0, start + i, "k", m) for i, m in enumerate(messages[start : start + BATCH])]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO raw VALUES (?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(messages) / elapsed


def _baseline_postgres(messages: list[bytes], url: str) -> float:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_bench")
        connection.execute(
            "CREATE TABLE raw_bench (partition_no INTEGER, log_offset BIGINT, key TEXT, "
            "payload BYTEA, PRIMARY KEY (partition_no, log_offset))"
        )
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            rows = [(0, start + i, "k", m) for i, m in enumerate(messages[start : start + BATCH])]
            with connection.cursor() as cursor:
                cursor.executemany("INSERT INTO raw_bench VALUES (%s, %s, %s, %s)", rows)
            connection.commit()
        elapsed = time.perf_counter() - started
    return len(messages) / elapsed


def _postgres_database() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as connection:
            connection.execute("DROP DATABASE IF EXISTS coreo_bench WITH (FORCE)")
            connection.execute("CREATE DATABASE coreo_bench")
    except psycopg.OperationalError:
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/coreo_bench"


# -- report ----------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "target met" if met else "target NOT met"


def _bench_store(
    store: str, messages: list[bytes], bodies: list[bytes], work: Path, args: argparse.Namespace
) -> None:
    if store == "sqlite":
        url = None
        baseline = _baseline_sqlite(messages, work / "baseline.db")
    else:
        url = _postgres_database()
        if url is None:
            print("postgres: not reachable, skipped")
            return
        baseline = _baseline_postgres(messages, url)
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    print(f"{store}: raw bulk insert baseline: {baseline:,.0f} rows/s")
    with Server(work / f"home-{store}", url) as server:
        cpu_before = _cpu_seconds(server)
        outcome, seconds = _in_load_process(
            _post_all, server.port, server.write_key, bodies, args.clients
        )
        cpu_accepting = _cpu_seconds(server) - cpu_before
        if outcome.accepted != len(messages):
            raise RuntimeError(f"accepted {outcome.accepted} of {len(messages)} events")
        rate = len(messages) / seconds
        share = rate / baseline
        goals = [f"{share:.0%} of baseline: {_verdict(share >= TARGET_BASELINE_SHARE)}"]
        if store == "sqlite":
            goals.insert(0, f">= {TARGET_SQLITE_RATE:,}/s: {_verdict(rate >= TARGET_SQLITE_RATE)}")
        print(
            f"{store}: /v1/batch sustained: {rate:,.0f} events/s over {len(messages):,} events "
            f"in {seconds:.1f} s ({share:.2f}x raw bulk insert; {outcome.retried} requests "
            f"retried after 503) [{'; '.join(goals)}]"
        )
        drained = _wait_drained(server)
        cpu_all = _cpu_seconds(server) - cpu_before
        print(
            f"{store}: worker caught up: {drained:.1f} s after the last batch "
            f"({len(messages) / (seconds + drained):,.0f} events/s accepted and processed); "
            f"server CPU {1e6 * cpu_all / len(messages):.0f} us/event in all, "
            f"{1e6 * cpu_accepting / len(messages):.0f} us/event while accepting"
        )
        cpu_before = _cpu_seconds(server)
        tracks, track_seconds = _in_load_process(
            _track_for, server.port, server.write_key, args.track_seconds, args.clients
        )
        cpu_tracks = _cpu_seconds(server) - cpu_before
        track_rate = tracks.sent / track_seconds
        latencies = sorted(tracks.seconds)
        p50, p99 = (1000 * latencies[int(q * (len(latencies) - 1))] for q in (0.5, 0.99))
        print(
            f"{store}: /v1/track: {track_rate:,.0f} requests/s "
            f"({track_rate / TARGET_TRACK_RATE:.2f}x the target of {TARGET_TRACK_RATE:,}/s), "
            f"request p50 {p50:.1f} ms, p99 {p99:.1f} ms with {args.clients} connections; "
            f"server CPU {1e6 * cpu_tracks / max(tracks.sent, 1):.0f} us/request "
            f"[{_verdict(track_rate >= TARGET_TRACK_RATE)}]"
        )
        _wait_drained(server)
        p50, p99 = _steady_latency(server)
        print(
            f"{store}: accepted -> processed at 1,000 events/s: p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms ({p99 / TARGET_P99_MS:.2f}x the p99 target of "
            f"{TARGET_P99_MS:.0f} ms) [{_verdict(p99 <= TARGET_P99_MS)}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per store")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent connections")
    parser.add_argument("--track-seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        messages = _events(args.events, work)
        bodies = _batches(messages)
        size = sum(len(m) for m in messages) / len(messages)
        print(
            f"{len(messages):,} simulated events, {size:.0f} bytes each on average, "
            f"{BATCH} a request, {args.clients} client connections, {os.cpu_count()} CPUs"
        )
        for store in args.stores.split(","):
            _bench_store(store, messages, bodies, work, args)


if __name__ == "__main__":
    main()
