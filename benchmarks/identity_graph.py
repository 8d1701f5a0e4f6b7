"""Benchmark: the deterministic identity graph against the simulator's ground truth.

Generates the simulated retailer (default world: 10,000 customers over a year, including
households sharing devices), sends its events through ingestion into embedded SQLite,
imports its ERP, till and newsletter exports with the shipped mappings, and runs the
identity stage over everything. Then, against ``truth/identifiers.csv``:

* completeness: of each true person's observed identifiers, the share that ended in the
  person's main profile (pooled over people; target >= 0.97);
* purity: the share of profiles holding identifiers of more than one true person
  (identifiers of devices the truth marks as shared do not count; target <= 0.5 %).

Also prints how many profiles, merges and refused merges there are, and the stage's rate.

Run: .venv/bin/python benchmarks/identity_graph.py [--customers 10000] [--days 365]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import orjson
from sqlalchemy import func, select

import coreo.sim as sim_package
from coreo.auth import service as auth_service
from coreo.config import get_settings
from coreo.db import Database, utcnow
from coreo.eventlog.sql import SqlEventLog
from coreo.identity import master
from coreo.identity.models import MergeRecord, ProfileIdentity, RefusedMerge
from coreo.identity.stage import IdentityStage
from coreo.ingest.imports import service as imports
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.normalize import NormaliseOptions, normalise_email, normalise_phone
from coreo.ingest.service import ingest_messages
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage, Worker
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

# Truth kinds -> Coreo identifier types (as the events and the shipped mappings carry them).
KINDS = {
    "user_id": "user_id",
    "anonymous_id": "anonymous_id",
    "device_id": "device_id",
    "email": "email",
    "phone": "phone",
    "loyalty_card": "loyalty_card",
    "erp:customer_no": "erp_customer_no",
    "newsletter:subscriber_id": "newsletter_subscriber_id",
}
EXPORTS = (
    ("erp_customers", "erp"),
    ("pos_transactions", "pos"),
    ("newsletter", "newsletter"),
)


def _truth(path: Path, region: str) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    owner: dict[tuple[str, str], str] = {}
    shared: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = KINDS.get(row["kind"])
            if kind is None:
                continue
            value = row["value"].strip()
            if kind == "email":
                value = normalise_email(value)
            elif kind == "phone":
                value = normalise_phone(value, region)
            key = (kind, value)
            if row["shared_device"] == "True" or (key in owner and owner[key] != row["person_id"]):
                shared.add(key)
            owner.setdefault(key, row["person_id"])
    return owner, shared


def _evaluate(
    database: Database, owner_of: dict[tuple[str, str], str], shared: set[tuple[str, str]]
) -> None:
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(ProfileIdentity.type, ProfileIdentity.value, ProfileIdentity.profile_id)
        ).all()
        merges = session.scalar(select(func.count()).select_from(MergeRecord))
        refusals = session.scalar(select(func.count()).select_from(RefusedMerge))
        shared_seen = session.scalar(
            select(func.count()).select_from(ProfileIdentity).where(ProfileIdentity.shared)
        )
    per_person: dict[str, Counter[str]] = defaultdict(Counter)
    kinds_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    people_in_profile: dict[str, set[str]] = defaultdict(set)
    profiles = set()
    for kind, value, profile in rows:
        profiles.add(profile)
        key = (kind, value)
        person = owner_of.get(key)
        if person is None or key in shared:
            continue
        per_person[person][profile] += 1
        people_in_profile[profile].add(person)
        kinds_of[person].append((kind, profile))
    observed = sum(sum(c.values()) for c in per_person.values())
    together = sum(c.most_common(1)[0][1] for c in per_person.values())
    mixed = sum(1 for people in people_in_profile.values() if len(people) > 1)
    completeness = together / observed if observed else float("nan")
    purity = mixed / len(profiles) if profiles else float("nan")
    print(
        f"profiles: {len(profiles):,}; merges {merges:,}; refused merges {refusals:,}; "
        f"shared devices {shared_seen:,}"
    )
    print(f"people observed: {len(per_person):,}; their identifiers: {observed:,}")
    astray: Counter[str] = Counter()
    seen_kinds: Counter[str] = Counter()
    for person, counter in per_person.items():
        main = counter.most_common(1)[0][0]
        for kind, profile in kinds_of[person]:
            seen_kinds[kind] += 1
            astray[kind] += profile != main
    print("identifiers outside the person's main profile, by type:")
    for kind, count in seen_kinds.most_common():
        print(f"  {kind:<26} {astray[kind]:>7,} of {count:>8,} ({astray[kind] / count:6.1%})")
    print(
        f"completeness: {completeness:.4f} of a person's identifiers in one profile "
        f"(target >= 0.97) {'MET' if completeness >= 0.97 else 'MISSED'}"
    )
    print(
        f"impurity:     {purity * 100:.3f} % of profiles hold more than one person "
        f"(target <= 0.5 %) {'MET' if purity <= 0.005 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coreo-identity-bench-") as tmp:
        work = Path(tmp)
        world = work / "world"
        started = time.perf_counter()
        generate(Scenario(customers=args.customers, days=args.days, seed=args.seed), world)
        print(
            f"world: {args.customers:,} customers, {args.days} days "
            f"({time.perf_counter() - started:,.0f} s to simulate)"
        )
        settings = get_settings(home=work / "home", ingest_max_lag=0, log_level="WARNING")
        database = Database.from_settings(settings)
        database.migrate()
        with database.transaction() as session:
            workspace_id = auth_service.create_workspace(
                session=session, slug="bench", actor="bench"
            ).id
        log = SqlEventLog(database, settings.event_log_partitions)
        options = NormaliseOptions.from_settings(settings)
        lines = (world / "events.jsonl").read_bytes().splitlines()
        started = time.perf_counter()
        for start in range(0, len(lines), 500):
            with database.transaction() as session:
                ingest_messages(
                    session=session,
                    log=log,
                    workspace_id=workspace_id,
                    messages=[orjson.loads(line) for line in lines[start : start + 500]],
                    received_at=utcnow(),
                    options=options,
                    dedupe_window=timedelta(hours=24),
                )
        print(f"ingested {len(lines):,} events in {time.perf_counter() - started:,.0f} s")
        mappings = Path(sim_package.__file__).parent / "mappings"
        for export, source in EXPORTS:
            request = imports.FileImport(
                path=world / "exports" / f"{export}.csv",
                source=source,
                format="csv",
                mapping=load_mapping(mappings / f"{export}.yml"),
            )
            job, _ = imports.prepare_job(
                database, workspace_id=workspace_id, request=request, actor="bench"
            )
            owner = imports.new_owner()
            imports.claim_job(database, workspace_id=workspace_id, job_id=job.id, owner=owner)
            done = imports.run_job(
                database,
                log,
                settings,
                job=job,
                owner=owner,
                path=request.path,
                stop=threading.Event(),
            )
            print(f"imported {export}: {done.rows_accepted:,} rows")
        total = log.end_offset(0) + sum(log.end_offset(p) for p in range(1, log.partitions))
        stages: list[Stage] = [IdentityStage(on_merge=(merge_traits,)), ProfileStage()]
        worker = Worker(database, log, stages, batch_size=500)
        started = time.perf_counter()
        worker.drain(timeout=3600)
        seconds = time.perf_counter() - started
        print(
            f"identity + profile stages: {worker.processed:,} events in {seconds:,.1f} s = "
            f"{worker.processed / seconds:,.0f} events/s "
            f"({seconds / max(1, worker.processed) * 1e6:,.0f} µs/event; log held {total:,})"
        )

        owner_of, shared = _truth(world / "truth" / "identifiers.csv", settings.ingest_phone_region)
        print("-- deterministic graph (events and imports)")
        _evaluate(database, owner_of, shared)
        started = time.perf_counter()
        run = master.run_matching(
            database, workspace_id=workspace_id, actor="bench", on_merge=(merge_traits,)
        )
        print(
            f"-- after matching master records ({time.perf_counter() - started:,.1f} s): "
            f"{run.records:,} records, {run.merged:,} merged, {run.refused:,} refused, "
            f"{run.queued:,} queued for review"
        )
        _evaluate(database, owner_of, shared)
        database.dispose()


if __name__ == "__main__":
    main()
