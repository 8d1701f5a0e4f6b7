"""Benchmark: ingestion through the real HTTP API, against a raw bulk-insert baseline.

For each store (embedded SQLite; PostgreSQL when reachable) it starts `coreo serve` (API
and worker in one process, as deployed), then measures on loopback:

1. sustained `/v1/batch` ingestion (100 events a request, several client threads) of
   simulated events, and the ratio to a baseline measured in the same run: the same rows
   bulk-inserted into the same kind of database (executemany, 100 rows a transaction),
   with no HTTP and no validation;
2. single-event `/v1/track` requests per second;
3. the accepted -> processed delay at a steady 1,000 events/s (p50, p99), read from the
   server's `coreo_event_processing_delay_seconds` histogram.

Run: .venv/bin/python benchmarks/ingest.py [--events 1000000] [--stores sqlite,postgres]
Targets (issue 4): >= 30,000 events/s into SQLite and >= 50 % of the baseline; >= 2,000
single requests/s; p99 accepted -> processed <= 100 ms at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import orjson
import psycopg

from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

BATCH = 100
RETRIES: list[int] = []
THREADS = 4
TOKEN = re.compile(r"coreo_wk_[0-9a-z]{12}_[A-Za-z0-9_-]{43}")
PG_ADMIN = os.environ.get(
    "COREO_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


class Server:
    def __init__(self, home: Path, database_url: str | None) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COREO_")}
        self.env.update(
            COREO_HOME=str(home),
            COREO_LOG_LEVEL="WARNING",
            COREO_RATE_LIMIT_PER_SECOND="1000000000",
            COREO_RATE_LIMIT_BURST="1000000000",
            COREO_INGEST_MAX_LAG="0",
            COREO_MAX_BODY_BYTES="2000000",
        )
        if database_url:
            self.env["COREO_DATABASE_URL"] = database_url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "coreo", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def __enter__(self) -> Server:
        self.cli("migrate")
        self.write_key = TOKEN.findall(self.cli("init"))[0]
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "coreo", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _send_all(server: Server, bodies: list[bytes], threads: int = THREADS) -> float:
    """POST every body from ``threads`` clients; return the elapsed seconds."""
    chunks: Iterator[bytes] = iter(bodies)
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        with httpx2.Client(base_url=server.base, timeout=60) as http:
            while True:
                with lock:
                    body = next(chunks, None)
                if body is None:
                    return
                for _attempt in range(10):  # retry 503 as the Segment SDKs do
                    response = http.post(
                        "/v1/batch",
                        content=body,
                        headers={"Content-Type": "application/json"},
                        auth=(server.write_key, ""),
                    )
                    if response.status_code != 503:
                        break
                    RETRIES.append(1)
                    time.sleep(0.2)
                if response.status_code != 200:
                    errors.append(response.text[:200])
                    return

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise RuntimeError(f"ingestion failed: {errors[0]}")
    return time.perf_counter() - started


def _single_tracks(server: Server, seconds: float = 5.0) -> float:
    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal count
        body = {"userId": f"bench-{n}", "event": "Benchmark Ping", "properties": {"n": n}}
        with httpx2.Client(base_url=server.base, timeout=30) as http:
            done = 0
            while time.monotonic() < stop:
                response = http.post("/v1/track", json=body, auth=(server.write_key, ""))
                if response.status_code != 200:
                    raise RuntimeError(response.text[:200])
                done += 1
            with lock:
                count += done

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return count / (time.perf_counter() - started)


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


def _wait_drained(server: Server, timeout: float = 1800) -> float:
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
    with httpx2.Client(base_url=server.base, timeout=30) as http:
        next_at = time.perf_counter()
        n = 0
        end = next_at + seconds
        while time.perf_counter() < end:
            batch = [
                {"type": "track", "userId": f"steady-{(n + i) % 500}", "event": "Steady"}
                for i in range(10)
            ]
            n += 10
            http.post("/v1/batch", json={"batch": batch}, auth=(server.write_key, ""))
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    time.sleep(2)  # let the worker finish
    after = _histogram(server)
    return _quantile(before, after, 0.5) * 1000, _quantile(before, after, 0.99) * 1000


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        messages = _events(args.events, work)
        bodies = _batches(messages)
        size = sum(len(m) for m in messages) / len(messages)
        print(f"{len(messages):,} simulated events, {size:.0f} bytes each on average")
        for store in args.stores.split(","):
            if store == "sqlite":
                url = None
                baseline = _baseline_sqlite(messages, work / "baseline.db")
            else:
                url = _postgres_database()
                if url is None:
                    print("postgres: not reachable, skipped")
                    continue
                pg_url = url.replace("postgresql://", "postgresql://", 1)
                baseline = _baseline_postgres(messages, pg_url)
                url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            with Server(work / f"home-{store}", url) as server:
                seconds = _send_all(server, bodies)
                rate = len(messages) / seconds
                print(
                    f"{store}: /v1/batch {rate:,.0f} events/s over {len(messages):,} events "
                    f"({rate / baseline:.2f}x raw bulk insert at {baseline:,.0f} rows/s; "
                    f"{len(RETRIES)} requests retried after 503)"
                )
                RETRIES.clear()
                drained = _wait_drained(server)
                print(
                    f"{store}: worker caught up {drained:.1f} s after the last batch "
                    f"(processing {len(messages) / (seconds + drained):,.0f} events/s overall)"
                )
                print(f"{store}: /v1/track {_single_tracks(server):,.0f} requests/s")
                _wait_drained(server)
                p50, p99 = _steady_latency(server)
                print(
                    f"{store}: accepted -> processed at 1,000 events/s: "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )


if __name__ == "__main__":
    main()
