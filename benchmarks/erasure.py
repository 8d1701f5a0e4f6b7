"""Benchmark: GDPR erasure of one person when the SQL event log holds many sealed records.

The event log's payloads are sealed with the day's transit key (``coreo.privacy.transit``),
so erasure cannot find the person's records, or the ones that quote them, with a query:
it opens every record of the workspace in Python (``coreo.privacy.erasure._erase_log``).

For each store (embedded SQLite; PostgreSQL in a database of its own) the run:

1. creates a fresh store and a workspace with encryption and transit sealing on;
2. fills the workspace's SQL log with ``--records`` simulated Segment messages
   (``coreo.sim``: many distinct users, repeated with fresh ids), normalised as ingestion
   does (``prepare_messages``), sealed (``transit.seal_record``, ``transit.log_key``) and
   appended (``SqlEventLog.append``) ten thousand a transaction, without HTTP. Twenty of
   them are one person's (a page and an identify under her cookie, orders under her user
   id alone), five are other people's that quote her e-mail address; they are spread over
   the log. The pipeline's stages run over those 25 events only, so she has a profile
   with her identities (the other records stay unprocessed);
3. measures, in the same run, the baselines: reading every record of the workspace
   (``SELECT payload``, a thousand a query, each partition in primary-key order as
   ``SqlEventLog.read`` does) without opening them, then reading and opening (decrypting)
   each; and one page of erasure's own query (its time and the database's plan for it);
4. executes an erasure request for her as the DSR workflow does: the log searched first,
   outside the write transaction (``privacy.requests.scan_before_erasure``), then
   (``privacy.requests.execute`` in one transaction, committed), timing the whole call
   and, within it, the SQL log's part (``_erase_log``);
5. checks that her records are gone, the quoting ones are there redacted, and nothing
   else in the log still names her (an erasure that found nothing fails the run).

Run: .venv/bin/python benchmarks/erasure.py [--records 1000000] [--backend sqlite|postgres|both]
Target: none set by the issue for the whole; the write transaction must stay well under
SQLite's busy timeout (5 s), which is as long as any other writer (ingestion) waits.
Printed: records, seconds and records/s of each part (the search without a write lock, the
write transaction), peak RSS, and the ratio erasure / plain read (reading the log is the
floor of a design that scans it).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import func, select

from coreo.auth import service as auth_service
from coreo.config import Settings, get_settings
from coreo.db import Database
from coreo.eventlog.base import NewRecord
from coreo.eventlog.models import LogRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.identity.models import ProfileIdentity
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.service import prepare_messages
from coreo.privacy import crypto, erasure, transit
from coreo.privacy import requests as dsr
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Event
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

BATCH = 10_000  # records a transaction while filling
PAGE = 1000  # records a query while reading (as erasure reads)
BUSY_TIMEOUT_S = 5.0  # the default COREO_SQLITE_BUSY_TIMEOUT_MS
OWN = 20  # the person's records
QUOTING = 5  # other people's records that quote her e-mail address
CUSTOMERS = 1000  # simulated customers (about 120,000 messages), repeated with fresh ids
PG_ADMIN = os.environ.get(
    "COREO_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_NAME = "coreo_bench_erasure"
PERSON = {
    "user": "bench-erase-4711",
    "cookie": "bench-erase-cookie-0b8f7943",
    "email": "erase.me.bench@example.org",
    "phone": "+41791230099",
    "first": "Erasmina",
    "last": "Benchwell",
}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the peak


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _person_messages(at: datetime) -> list[dict[str, Any]]:
    """Her page and identify (under her cookie), then orders sent by a back end under her
    user id alone: her records sit in two partitions, as a real person's would."""
    device = {"id": "bench-erase-device-1", "manufacturer": "Apple", "type": "ios"}
    cookie, user = PERSON["cookie"], PERSON["user"]
    messages: list[dict[str, Any]] = [
        {"type": "page", "anonymousId": cookie, "messageId": "bench-erase-page",
         "timestamp": at.isoformat(), "name": "Home", "context": {"device": device}},
        {"type": "identify", "anonymousId": cookie, "userId": user,
         "messageId": "bench-erase-identify", "timestamp": (at + timedelta(minutes=1)).isoformat(),
         "context": {"device": device},
         "traits": {"email": PERSON["email"], "phone": PERSON["phone"],
                    "firstName": PERSON["first"], "lastName": PERSON["last"]}},
    ]  # fmt: skip
    for n in range(OWN - len(messages)):
        messages.append(
            {"type": "track", "userId": user, "messageId": f"bench-erase-order-{n}",
             "event": "Order Completed", "timestamp": (at + timedelta(days=n + 1)).isoformat(),
             "properties": {"order_id": f"O-{n}", "revenue": 19.5 + n, "currency": "CHF",
                            "email": PERSON["email"]}}
        )  # fmt: skip
    return messages


def _quoting_messages(at: datetime) -> list[dict[str, Any]]:
    return [
        {"type": "track", "userId": f"bench-referrer-{n}", "messageId": f"bench-quote-{n}",
         "event": "Referral Sent", "timestamp": (at + timedelta(hours=n)).isoformat(),
         "properties": {"friend": PERSON["email"], "note": f"ticket 1471{n}"}}
        for n in range(QUOTING)
    ]  # fmt: skip


def _simulated(events: Path) -> Iterator[dict[str, Any]]:
    """The simulated messages again and again, each round with fresh message, user and
    anonymous ids (so the log holds many distinct users)."""
    for round_ in range(1_000_000):
        with events.open("rb") as lines:
            for line in lines:
                message = orjson.loads(line)
                if round_:
                    for name in ("messageId", "userId", "anonymousId", "previousId"):
                        if isinstance(message.get(name), str):
                            message[name] = f"{message[name]}-r{round_}"
                yield message


@dataclass
class Filled:
    records: int = 0
    payload_bytes: int = 0
    seconds: float = 0.0
    own: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset)
    quoting: list[tuple[int, int]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # hers and the quoting ones, decoded


def _fill(
    database: Database, log: SqlEventLog, workspace_id: str, count: int, events: Path
) -> Filled:
    """Append ``count`` sealed records; hers and the quoting ones spread evenly."""
    at = datetime(2026, 1, 5, tzinfo=UTC)
    specials = [*_person_messages(at), *_quoting_messages(at)]
    step = count // (len(specials) + 1)
    placed = {step * (k + 1): message for k, message in enumerate(specials)}
    assert len(placed) == len(specials) and max(placed) < count, "too few records"  # noqa: S101
    simulated = _simulated(events)
    options = NormaliseOptions()
    filled = Filled()
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        size = min(BATCH, count - first)
        batch = [placed.get(first + i) or next(simulated) for i in range(size)]
        prepared = prepare_messages(
            workspace_id=workspace_id,
            messages=batch,
            received_at=datetime.now(UTC),
            options=options,
            dedupe_window=timedelta(days=1),
        )
        assert not prepared.refused and len(prepared.ready) == size, prepared.refused[:1]  # noqa: S101
        with database.transaction() as session:
            records = [
                NewRecord(
                    transit.log_key(session, workspace_id, ready.key),
                    workspace_id,
                    transit.seal_record(session, workspace_id, ready.payload),
                )
                for ready in prepared.ready
            ]
            positions = log.append(records, session=session)
        for ready, record, position in zip(prepared.ready, records, positions, strict=True):
            filled.payload_bytes += len(record.payload)
            message = placed.get(first + ready.index)
            if message is None:
                continue
            mine = str(message["messageId"]).startswith("bench-erase-")
            (filled.own if mine else filled.quoting).append(position)
            filled.events.append(
                Event(position[0], position[1], workspace_id, orjson.loads(ready.payload))
            )
        filled.records += size
    filled.seconds = time.perf_counter() - started
    assert len(filled.own) == OWN and len(filled.quoting) == QUOTING  # noqa: S101
    return filled


def _process_specials(database: Database, settings: Settings, filled: Filled) -> None:
    """The pipeline's stages over her events and the quoting ones (as the worker runs them
    on a batch), so she has a profile, identities and an event history."""
    events = sorted(filled.events, key=lambda e: (e.partition, e.offset))
    with database.transaction() as session:
        live = events
        for stage in default_stages(settings):
            stage.process(session, live)
            live = [e for e in live if "suppressed" not in e.annotations]


def _profile_of(database: Database, workspace_id: str) -> str:
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        key = crypto.identity_key(session, "user_id", PERSON["user"])
        found = session.scalars(
            select(ProfileIdentity.profile_id).where(
                ProfileIdentity.workspace_id == workspace_id,
                ProfileIdentity.type == "user_id",
                ProfileIdentity.value == key,
            )
        ).all()
    assert len(found) == 1, found  # noqa: S101 - the stages made her profile
    return str(found[0])


def _records(log: SqlEventLog, workspace_id: str) -> Iterator[bytes]:
    """Every stored payload of the workspace, read as the log reads (``SqlEventLog.read``:
    each partition in primary-key order, a thousand a query)."""
    for partition in range(log.partitions):
        after = 0
        while records := log.read(partition, after, PAGE):
            after = records[-1].offset
            yield from (r.payload for r in records if r.workspace_id == workspace_id)


def _read(
    database: Database, log: SqlEventLog, workspace_id: str, *, open_: bool
) -> tuple[int, int, float]:
    """Read (and optionally open) every record; return (records, bytes, seconds)."""
    records = size = 0
    started = time.perf_counter()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        for payload in _records(log, workspace_id):
            data = transit.open_record(session, workspace_id, payload) if open_ else payload
            records += 1
            size += len(data)
    return records, size, time.perf_counter() - started


def _erasure_page(database: Database, workspace_id: str) -> tuple[float, str]:
    """One page of erasure's own statement (``_erase_log``: one partition's records of the
    workspace after an offset, in primary-key order): the median of three reads (seconds)
    and its plan."""
    query = (
        select(LogRecord.partition_no, LogRecord.log_offset, LogRecord.payload)
        .where(
            LogRecord.partition_no == 0,
            LogRecord.log_offset > 0,
            LogRecord.workspace_id == workspace_id,
        )
        .order_by(LogRecord.log_offset)
        .limit(PAGE)
    )
    times = []
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        for _ in range(3):
            started = time.perf_counter()
            assert len(session.execute(query).all()) == PAGE  # noqa: S101
            times.append(time.perf_counter() - started)
        sql = str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))
        connection = session.connection()
        if database.is_sqlite:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
            plan = "; ".join(str(row[-1]) for row in rows)
        else:
            rows = connection.exec_driver_sql("EXPLAIN " + sql).all()
            plan = "; ".join(" ".join(str(row[0]).split()) for row in rows[:4])
    return sorted(times)[1], plan


@dataclass
class Timed:
    seconds: float = 0.0
    calls: int = 0


def _timing(original: Callable[..., Any], into: Timed) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.seconds += time.perf_counter() - started
            into.calls += 1

    return timed


def _erase(
    database: Database, settings: Settings, log: SqlEventLog, workspace_id: str, profile_id: str
) -> tuple[dict[str, Any], float, float, Timed]:
    """An erasure request, received and verified, then executed (timed) as the API's
    ``POST /v1/privacy/requests/{id}/execute`` does: the log searched in short read
    transactions, then one write transaction, committed. Returns the evidence, the
    seconds in all, those of the search, and the log's part of the write transaction."""
    with database.transaction(workspace_id=workspace_id) as session:
        request = dsr.create(
            session, workspace_id, type_="erasure", profile_id=profile_id, actor="benchmark"
        )
        dsr.verify(session, request, verified=True, method="benchmark", actor="benchmark")
        request_id = request.id
    log_part = Timed()
    original = erasure._erase_log
    erasure._erase_log = _timing(original, log_part)
    try:
        started = time.perf_counter()
        scan = dsr.scan_before_erasure(database, workspace_id, request_id, log)
        searched = time.perf_counter() - started
        with database.transaction(workspace_id=workspace_id) as session:
            row = dsr.get(session, workspace_id, request_id)
            dsr.execute(
                session,
                row,
                actor="benchmark",
                tombstone_key=crypto.hash_key(session, "tombstone", settings),
                proof_key=crypto.hash_key(session, "consent-proof", settings),
                log=log,
                scan=scan,
            )
            evidence = dict(row.evidence or {})
            status = row.status
        seconds = time.perf_counter() - started
    finally:
        erasure._erase_log = original
    assert status == "completed", status  # noqa: S101
    assert log_part.calls == 1, log_part  # noqa: S101 - the SQL log was searched, once
    return evidence, seconds, searched, log_part


def _verify(
    database: Database,
    log: SqlEventLog,
    workspace_id: str,
    filled: Filled,
    evidence: dict[str, Any],
) -> int:
    """Her records are gone, the quoting ones redacted, nothing in the log names her."""
    removed = evidence["removed"].get("event_log", 0)
    redacted = evidence["redacted"].get("event_log", 0)
    assert removed == OWN, evidence["removed"]  # noqa: S101
    assert redacted == QUOTING, evidence["redacted"]  # noqa: S101
    needles = [v.lower() for v in PERSON.values()]
    whole = re.compile("|".join(re.escape(n) for n in needles))
    left = 0
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        for partition, offset in filled.own:
            assert session.get(LogRecord, (partition, offset)) is None, (partition, offset)  # noqa: S101
        for partition, offset in filled.quoting:
            record = session.get(LogRecord, (partition, offset))
            assert record is not None, (partition, offset)  # noqa: S101 - kept, redacted
            message = orjson.loads(transit.open_record(session, workspace_id, record.payload))
            assert message["properties"]["friend"] == erasure.ERASED, message  # noqa: S101
            assert transit.is_sealed_record(record.payload)  # noqa: S101 - sealed again
        for payload in _records(log, workspace_id):
            text = transit.open_record(session, workspace_id, payload).lower()
            if whole.search(text.decode("utf-8", "replace")):
                left += 1
        count = session.scalar(
            select(func.count())
            .select_from(LogRecord)
            .where(LogRecord.workspace_id == workspace_id)
        )
    assert left == 0, f"{left} records still name her"  # noqa: S101
    assert count == filled.records - OWN, count  # noqa: S101
    return int(count)


def _rate(records: int, seconds: float) -> str:
    return f"{seconds:8.2f} s  {records / seconds:>10,.0f} records/s"


def run(url: str, label: str, count: int, work: Path, events: Path) -> float:
    home = work / f"home-{label.split()[-1].lower()}"
    settings = get_settings(home=home, database_url=url)
    database = Database(url)
    database.migrate()
    crypto.enable(database, settings)
    assert settings.encrypt_personal_data  # noqa: S101 - transit sealing is on
    log = SqlEventLog(database, settings.event_log_partitions)
    with database.transaction() as session:
        workspace_id = auth_service.create_workspace(
            session=session, slug="erasure", actor="benchmark"
        ).id
    print(f"\n== {label}: {count:,} records in the workspace's event log")
    filled = _fill(database, log, workspace_id, count, events)
    print(
        f"fill (prepare, seal, append; {BATCH:,} a transaction): {_rate(count, filled.seconds)}; "
        f"mean stored payload {filled.payload_bytes / count:.0f} bytes; "
        f"peak RSS {_peak_mb():.0f} MB"
    )
    _process_specials(database, settings, filled)
    profile_id = _profile_of(database, workspace_id)
    if database.is_sqlite:
        database.refresh_statistics()  # as a server that has run a while has them
    else:
        with database.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE event_log")
            connection.commit()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        assert transit.is_sealed_record(  # noqa: S101 - the log really is sealed
            bytes(session.scalars(select(LogRecord.payload).limit(1)).one())
        )
    _read(database, log, workspace_id, open_=False)  # warm the caches for every reader alike
    read, stored, plain = _read(database, log, workspace_id, open_=False)
    opened_count, opened_bytes, opened = _read(database, log, workspace_id, open_=True)
    assert read == opened_count == count  # noqa: S101
    page, plan = _erasure_page(database, workspace_id)
    rss_before = _rss_mb()
    evidence, total, searched, log_part = _erase(database, settings, log, workspace_id, profile_id)
    rss_after = _rss_mb()
    left = _verify(database, log, workspace_id, filled, evidence)
    ratio = total / plain
    print(f"read, not opened ({stored / count:.0f} bytes each): {_rate(read, plain)}")
    print(f"read and opened   ({opened_bytes / count:.0f} bytes each): {_rate(read, opened)}")
    held = total - searched
    print(f"erasure, whole DSR execute (committed):   {_rate(count, total)}")
    print(f"  search of the log, no write lock held:  {searched:8.2f} s")
    print(
        f"  write transaction (write lock held):    {held:8.2f} s "
        f"({held / BUSY_TIMEOUT_S:.2f}x SQLite's {BUSY_TIMEOUT_S:.0f} s busy timeout, "
        f"which other writers wait at most)"
    )
    print(f"    of which the SQL log (_erase_log):    {log_part.seconds:8.2f} s")
    print(f"    the rest (tables, sweep, keys, audit): {held - log_part.seconds:7.2f} s")
    print(
        f"erasure's page query ({PAGE:,} records): {page * 1000:.1f} ms a page, "
        f"{-(-count // PAGE):,} pages; plan: {plan}"
    )
    print(
        f"removed {evidence['removed']}; redacted {evidence['redacted']}; "
        f"{left:,} records left, none naming her (checked)"
    )
    print(
        f"ratio erasure / plain read: {ratio:.2f}x; log part / plain read: "
        f"{log_part.seconds / plain:.2f}x; read+open / plain read: {opened / plain:.2f}x"
    )
    print(
        f"RSS around the erasure: {rss_before:.0f} MB -> {rss_after:.0f} MB; "
        f"peak RSS so far {_peak_mb():.0f} MB"
    )
    database.dispose()
    return ratio


def _postgres(count: int, work: Path, events: Path) -> None:
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_NAME}"')
    try:
        base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        run(f"{base}/{PG_NAME}", "PostgreSQL", count, work, events)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coreo-erasure-") as scratch:
        work = Path(scratch)
        started = time.perf_counter()
        summary = generate(Scenario(customers=CUSTOMERS, days=365, seed=7), work / "world")
        events = work / "world" / "events.jsonl"
        print(
            f"simulated {summary.counts['events']:,} messages ({CUSTOMERS:,} customers) in "
            f"{time.perf_counter() - started:.1f} s; repeated with fresh ids to fill the log"
        )
        if args.backend in ("sqlite", "both"):
            run(f"sqlite:///{work}/bench.db", "embedded SQLite", args.records, work, events)
        if args.backend in ("postgres", "both"):
            _postgres(args.records, work, events)
        print(f"\npeak RSS of the run: {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
