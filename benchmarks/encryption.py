"""Benchmark: the cost of encryption at rest on the profile read path (issue 6).

One database, two workspaces holding the same population (``--profiles`` profiles, each
with three identities, ten traits, five of them personal: e-mail, phone, first and last
name, address, and three events: an identify with those traits and two orders with the
e-mail and delivery address). In the first workspace the personal fields are sealed with
each person's data key (``coreo.privacy.crypto``); in the second they are stored plain.
Reads are what ``GET /v1/profiles/{id}`` does in process (``profiles.service.view`` and
``describe`` in a read transaction: the profile, identities, merges, traits, recent
events and computed traits), for random profiles, alternating between the two workspaces
so both see the same machine. The sealed side pays for reading the data key, unwrapping
it and opening the five traits and the personal fields of the three recent events.

Run: .venv/bin/python benchmarks/encryption.py [--profiles 20000] [--reads 5000]
     [--backend sqlite|postgres|both]
Target (issue 6): reads with encryption <= 1.2x reads without (both printed).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
from sqlalchemy import make_url, text

from coreo.auth import service as auth_service
from coreo.config import get_settings
from coreo.db import Database
from coreo.history.models import EventRecord
from coreo.identity.models import Profile, ProfileIdentity
from coreo.privacy import crypto
from coreo.profiles import service as profiles
from coreo.profiles.models import ProfileTrait

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET = 1.2


def _population(
    database: Database, workspace_id: str, tag: str, count: int, chunk: int = 2000
) -> None:
    for start in range(0, count, chunk):
        with database.transaction(workspace_id=workspace_id) as session:
            for n in range(start, min(count, start + chunk)):
                pid = f"prf_{tag}{n:08d}"
                at = T0 + timedelta(minutes=n)
                session.add(Profile(id=pid, workspace_id=workspace_id, created_at=at,
                                    updated_at=at))  # fmt: skip
                for kind, value in (
                    ("user_id", f"user-{tag}{n}"),
                    ("email", f"person{n}@{tag}.example.ch"),
                    ("anonymous_id", f"cookie-{tag}{n}"),
                ):
                    key = crypto.identity_key(session, kind, value)  # as the identity stage
                    row = ProfileIdentity(workspace_id=workspace_id, type=kind, value=key,
                                          profile_id=pid, first_seen=at, last_seen=at,
                                          users=[], shared=False)  # fmt: skip
                    session.add(row)
                    crypto.seal_identity_at_flush(session, row, value)
                traits = {
                    "email": f"person{n}@example.ch",
                    "phone": f"+4179{n:07d}",
                    "firstName": "Anna",
                    "lastName": f"Muster{n}",
                    "address": {"street": "Bahnhofstrasse 1", "zip": "8001", "city": "Zürich"},
                    "language": "de",
                    "plan": "gold",
                    "visits": n % 97,
                    "newsletter": n % 2 == 0,
                    "createdAt": at.isoformat(),
                }
                for name, value in traits.items():
                    session.add(ProfileTrait(workspace_id=workspace_id, profile_id=pid, name=name,
                                             value=value, source="erp", observed_at=at,
                                             first_seen_at=at, message_id=None))  # fmt: skip
                for k, message in enumerate(_events(tag, n, at, traits)):
                    stored = crypto.seal_message(session, workspace_id, pid, message)
                    session.add(EventRecord(
                        workspace_id=workspace_id, message_id=f"{tag}-{n}-{k}",
                        type=message["type"], event=message.get("event"),
                        user_id=crypto.identity_key(session, "user_id", str(message["userId"])),
                        anonymous_id=None, profile_id=pid,
                        timestamp=at + timedelta(hours=k), received_at=at + timedelta(hours=k),
                        payload=orjson.dumps(stored).decode(),
                    ))  # fmt: skip


def _events(tag: str, n: int, at: datetime, traits: dict[str, object]) -> list[dict[str, object]]:
    """An identify with the person's traits and two orders (with a delivery address)."""
    base = {"userId": f"user-{tag}{n}", "timestamp": at.isoformat()}
    orders = [
        {**base, "type": "track", "messageId": f"{tag}-{n}-{k}", "event": "Order Completed",
         "properties": {"revenue": 10.0 * k, "email": traits["email"],
                        "address": traits["address"]}}
        for k in (1, 2)
    ]  # fmt: skip
    return [{**base, "type": "identify", "messageId": f"{tag}-{n}-0", "traits": traits}, *orders]


def _read(database: Database, workspace_id: str, profile_id: str) -> float:
    started = time.perf_counter()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        shown = profiles.describe(profiles.view(session, workspace_id, profile_id))
    elapsed = time.perf_counter() - started
    assert shown["traits"]["lastName"]["value"].startswith("Muster")  # noqa: S101 - opened
    assert "@" in shown["recent_events"][0]["properties"]["email"]  # noqa: S101
    assert any("@" in i["value"] for i in shown["identities"])  # noqa: S101 - opened too
    return elapsed


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, label: str, count: int, reads: int, home: Path) -> float:
    settings = get_settings(home=home, database_url=url)
    database = Database(url)
    database.migrate()
    with database.transaction() as session:
        sealed_ws = auth_service.create_workspace(session=session, slug="sealed", actor="b").id
        plain_ws = auth_service.create_workspace(session=session, slug="plain", actor="b").id
    started = time.perf_counter()
    crypto.enable(database, settings)
    _population(database, sealed_ws, "s", count)
    load_sealed = time.perf_counter() - started
    crypto.enable(database, settings.model_copy(update={"encrypt_personal_data": False}))
    started = time.perf_counter()
    _population(database, plain_ws, "p", count)
    load_plain = time.perf_counter() - started
    crypto.enable(database, settings)  # reading: as a server does (plain values pass)
    if database.is_sqlite:
        database.refresh_statistics()
    with database.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT value FROM profile_traits WHERE workspace_id = :w AND name = 'email' "
                 "LIMIT 1"), {"w": sealed_ws}
        ).scalar_one()  # fmt: skip
    assert "enc:v1:" in str(stored)  # noqa: S101 - the sealed side really is sealed
    rng = random.Random(7)
    picks = [rng.randrange(count) for _ in range(reads)]
    sides = {sealed_ws: "s", plain_ws: "p"}
    for n in picks[:200]:  # warm both
        for ws, tag in sides.items():
            _read(database, ws, f"prf_{tag}{n:08d}")
    times: dict[str, list[float]] = {sealed_ws: [], plain_ws: []}
    for i, n in enumerate(picks):
        order = [sealed_ws, plain_ws] if i % 2 else [plain_ws, sealed_ws]
        for ws in order:
            times[ws].append(_read(database, ws, f"prf_{sides[ws]}{n:08d}"))
    sealed, plain = times[sealed_ws], times[plain_ws]
    ms = 1000.0
    ratio = statistics.mean(sealed) / statistics.mean(plain)
    print(f"\n== {label}: {count:,} profiles a workspace, {reads:,} reads each")
    print(
        f"load (ORM, {count * 10:,} traits): sealed {load_sealed:.1f} s, plain {load_plain:.1f} s"
    )
    for name, values in (("with encryption", sealed), ("without", plain)):
        print(
            f"profile read {name:16s} mean {statistics.mean(values) * ms:6.3f} ms  "
            f"p50 {_quantile(values, 0.5) * ms:6.3f} ms  p99 {_quantile(values, 0.99) * ms:6.3f} ms"
        )
    p50 = _quantile(sealed, 0.5) / _quantile(plain, 0.5)
    verdict = "MET" if ratio <= TARGET else "MISSED"
    print(f"ratio with/without: mean {ratio:.3f}x, p50 {p50:.3f}x (target <= {TARGET}x: {verdict})")
    database.dispose()
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        if args.backend in ("sqlite", "both"):
            run(f"sqlite:///{scratch}/bench.db", "embedded SQLite", args.profiles, args.reads, home)
        if args.backend in ("postgres", "both"):
            url = os.environ.get(
                "COREO_BENCH_POSTGRES_URL",
                "postgresql://postgres@127.0.0.1:5432/coreo_bench_crypto",
            )
            admin = make_url(url).set(drivername="postgresql", database="postgres")
            name = make_url(url).database
            with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                c.execute(f'CREATE DATABASE "{name}"')
            try:
                engine_url = make_url(url).set(drivername="postgresql+psycopg")
                run(engine_url.render_as_string(hide_password=False), "PostgreSQL", args.profiles,
                    args.reads, home)  # fmt: skip
            finally:
                with psycopg.connect(
                    admin.render_as_string(hide_password=False), autocommit=True
                ) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
