"""Benchmark: the deterministic identity graph against the simulator's ground truth.

Generates the simulated retailer (default world: 10,000 customers over a year, including
households sharing devices), sends its events through ingestion into embedded SQLite,
imports its ERP, till and newsletter exports with the shipped mappings, and runs the
identity stage over everything. Then, against ``truth/identifiers.csv``:

* completeness: of each true person's observed identifiers, the share that ended in the
  person's main profile (pooled over people; target >= 0.97);
* purity: the share of profiles holding identifiers of more than one true person
  (identifiers of devices the truth marks as shared do not count; target <= 0.5 %).

The raw completeness counts identifiers that nothing in the data ties to the person (an
anonymous session that never logged in, a loyalty card only ever shown at a till). So the
benchmark also builds, independently of the resolver, the *evidence graph*: identifiers
that occur in one logged message are linked (union-find; identifier types the workspace
rules do not let link, and devices the truth marks as shared, link nothing). Each
identifier outside its person's main profile is then classified:

* ``a``: no evidence: not in the person's main evidence component, not even through
  evidence the resolver does not read;
* ``b``: kept apart on purpose: a merge the identity rules refused (a limit). Shared
  devices are left out of every figure and only counted;
* ``c-split``: the events link it to the person, the resolver did not (a bug);
* ``c-unread``: linked only through evidence the resolver does not read: the same mailbox
  by provider rules (``a.b+shop@googlemail.com`` is ``ab@gmail.com``), a guest checkout's
  ``properties.email``, an ``identify``'s ``traits.loyaltyCard``.

Evidence-bounded completeness divides by the identifiers in each person's main evidence
component instead of all of them: first as the resolver reads events, then including the
evidence it does not read.

Run: .venv/bin/python benchmarks/identity_graph.py [--customers 10000] [--days 365]
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, select

import coreo.sim as sim_package
from coreo.auth import service as auth_service
from coreo.config import get_settings
from coreo.db import Database, utcnow
from coreo.eventlog.sql import SqlEventLog
from coreo.identity import master
from coreo.identity import service as identity_service
from coreo.identity.identifiers import identifiers_of, previous_id
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity, RefusedMerge
from coreo.identity.rules import IdentityRules
from coreo.identity.stage import IdentityStage
from coreo.ingest.imports import service as imports
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.normalize import NormaliseOptions, normalise_phone
from coreo.ingest.service import ingest_messages
from coreo.privacy import transit
from coreo.privacy.crypto import identity_values
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


Key = tuple[str, str]  # (identifier type, value)


def _truth(path: Path, region: str, rules: IdentityRules) -> tuple[dict[Key, str], set[Key]]:
    """Each true identifier, keyed as the workspace's rules key it, → its person; and the
    shared ones."""
    owner: dict[Key, str] = {}
    shared: set[Key] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = KINDS.get(row["kind"])
            if kind is None:
                continue
            raw = row["value"].strip()
            value = rules.key(kind, normalise_phone(raw, region) if kind == "phone" else raw)
            if value is None:
                continue
            key = (kind, value)
            if row["shared_device"] == "True" or (key in owner and owner[key] != row["person_id"]):
                shared.add(key)
            owner.setdefault(key, row["person_id"])
    return owner, shared


T = TypeVar("T")
UNREAD = ("mailbox", "guest checkout e-mail", "identify loyaltyCard")


class _Components:
    """Union-find over identifiers."""

    def __init__(self, parent: dict[Key, Key] | None = None) -> None:
        self.parent: dict[Key, Key] = dict(parent or {})

    def find(self, key: Key) -> Key:
        parent = self.parent
        root = parent.setdefault(key, key)
        while parent[root] != root:
            parent[root] = parent[parent[root]]
            root = parent[root]
        return root

    def link(self, keys: Sequence[Key]) -> None:
        if keys:
            first = self.find(keys[0])
            for key in keys[1:]:
                root = self.find(key)
                if root != first:
                    self.parent[root] = first


def _mailbox(email: str) -> str:
    """The mailbox an address delivers to by its provider's rules (sub-address dropped,
    gmail ignores dots and answers at googlemail.com)."""
    local, _, domain = email.rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in ("gmail.com", "googlemail.com"):
        return f"{local.replace('.', '')}@gmail.com"
    return f"{local}@{domain}"


def _unread(message: dict[str, Any], rules: IdentityRules) -> list[tuple[str, Key]]:
    """Identifiers a message carries in places the default rules did not read until they
    were configurable (read now: with the default rules, these add no evidence)."""
    found = []
    properties, traits = message.get("properties"), message.get("traits")
    if message.get("event") == "Order Completed" and isinstance(properties, dict):
        email = properties.get("email")
        key = rules.key("email", email) if isinstance(email, str) else None
        if key is not None:
            found.append((UNREAD[1], ("email", key)))
    if message.get("type") == "identify" and isinstance(traits, dict):
        card = traits.get("loyaltyCard")
        if isinstance(card, str | int) and str(card).strip():
            found.append((UNREAD[2], ("loyalty_card", str(card).strip())))
    return found


@dataclass
class _Evidence:
    read: _Components  # identifiers linked by the messages as the resolver reads them
    unread: dict[str, _Components]  # plus one kind of evidence it does not read; "all"


def _evidence(
    database: Database, log: SqlEventLog, rules: IdentityRules, shared: set[Key]
) -> _Evidence:
    """Link the identifiers that occur in one logged message, independently of the
    resolver; an alias's previous id counts as a user id if it is one anywhere. The log's
    records are sealed in transit: each is opened as the worker opens it."""
    read = _Components()
    extra: dict[str, list[list[Key]]] = {name: [] for name in UNREAD}
    aliases: list[tuple[list[Key], str]] = []
    user_ids: set[str] = set()
    for partition in range(log.partitions):
        after = 0
        while records := log.read(partition, after, 5000):
            after = records[-1].offset
            with database.transaction(write=False) as session:
                messages = [
                    orjson.loads(transit.open_record(session, r.workspace_id, r.payload))
                    for r in records
                ]
            for message in messages:
                keys = [(i.type, i.value) for i in identifiers_of(message, rules)]
                user_ids.update(value for kind, value in keys if kind == "user_id")
                linking = [k for k in keys if rules.rule(k[0]).links and k not in shared]
                previous = previous_id(message)
                if previous is not None:
                    aliases.append((linking, previous))
                    continue
                read.link(linking)
                for name, key in _unread(message, rules) if linking else ():
                    extra[name].append([*linking, key])
    for linking, previous in aliases:
        key = ("user_id" if previous in user_ids else "anonymous_id", previous)
        read.link([*linking, key] if rules.rule(key[0]).links and key not in shared else linking)
    emails = {k for k in read.parent if k[0] == "email"}
    emails.update(k for groups in extra.values() for g in groups for k in g if k[0] == "email")
    extra[UNREAD[0]] = [[key, ("mailbox", _mailbox(key[1]))] for key in sorted(emails)]
    unread = {}
    for name, groups in [*extra.items(), ("all", [g for gs in extra.values() for g in gs])]:
        components = _Components(read.parent)
        for group in groups:
            components.link(group)
        unread[name] = components
    return _Evidence(read, unread)


def _plurality(places: Iterable[T]) -> tuple[T, int]:
    """The most frequent place and how often it occurs."""
    return Counter(places).most_common(1)[0]


def _evaluate(
    database: Database,
    owner_of: dict[Key, str],
    shared: set[Key],
    evidence: _Evidence,
) -> None:
    """Print completeness (raw and evidence-bounded), why identifiers went astray, purity."""
    with database.transaction(write=False) as session:
        stored = session.scalars(select(ProfileIdentity)).all()
        opened: dict[tuple[str, str], str] = {}
        for workspace_id in {r.workspace_id for r in stored}:  # sealed: open them
            mine = [r for r in stored if r.workspace_id == workspace_id]
            opened.update(identity_values(session, workspace_id, mine))
        rows = [(r.type, opened[(r.type, r.value)], r.profile_id) for r in stored]
        merges = session.scalar(select(func.count()).select_from(MergeRecord))
        refusals = session.execute(select(RefusedMerge.profile_ids, RefusedMerge.reason)).all()
        merged_into = dict(session.execute(select(Profile.id, Profile.merged_into)).all())
        shared_seen = session.scalar(
            select(func.count()).select_from(ProfileIdentity).where(ProfileIdentity.shared)
        )
    refused = {  # profiles a limit kept apart (shared devices are counted on their own)
        merged_into.get(p) or p
        for ids, reason in refusals
        if "(limit" in reason or "no two known people" in reason
        for p in ids
    }
    profile_of: dict[Key, str] = {}
    mine: dict[str, list[Key]] = defaultdict(list)
    people_in_profile: dict[str, set[str]] = defaultdict(set)
    shared_by_type: Counter[str] = Counter()
    for kind, value, profile in rows:
        key = (kind, value)
        profile_of[key] = profile
        person = owner_of.get(key)
        if key in shared:
            shared_by_type[kind] += 1
        elif person is not None:
            mine[person].append(key)
            people_in_profile[profile].add(person)
    seen: Counter[str] = Counter()
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    alone: dict[str, Counter[str]] = defaultdict(Counter)
    sums = Counter[str]()
    beyond = 0  # in the main profile, but no evidence ties it to the profile's core
    for keys in mine.values():
        main, together = _plurality(profile_of[k] for k in keys)
        sums["observed"] += len(keys)
        sums["together"] += together
        for name, components in (("read", evidence.read), ("all", evidence.unread["all"])):
            component, _ = _plurality(components.find(k) for k in keys)
            tied = [k for k in keys if components.find(k) == component]
            sums[f"{name} bounded"] += len(tied)
            sums[f"{name} together"] += _plurality(profile_of[k] for k in tied)[1]
        # Astray is relative to the main profile: evidence counts when it reaches it.
        reach = {
            name: {c.find(k) for k in keys if profile_of[k] == main}
            for name, c in [("read", evidence.read), *evidence.unread.items()]
        }
        core = _plurality(evidence.read.find(k) for k in keys if profile_of[k] == main)[0]
        for key in keys:
            kind = key[0]
            seen[kind] += 1
            if profile_of[key] == main:
                beyond += evidence.read.find(key) != core
                continue
            if evidence.read.find(key) in reach["read"]:
                klass = "b" if {profile_of[key], main} & refused else "c-split"
            elif evidence.unread["all"].find(key) in reach["all"]:
                klass = "c-unread"
                for name in UNREAD:
                    alone[name][kind] += evidence.unread[name].find(key) in reach[name]
            else:
                klass = "a"
            classes[kind][klass] += 1
    people_in_component: dict[Key, set[str]] = defaultdict(set)
    for key in set(evidence.read.parent) - shared:
        if key in owner_of:
            people_in_component[evidence.read.find(key)].add(owner_of[key])
    mixed = sum(1 for people in people_in_profile.values() if len(people) > 1)
    profiles = set(profile_of.values())
    # What ties strangers together: in each impure profile, the identifier types the
    # people other than the profile's main person brought, and the shared devices in it.
    intruders: Counter[str] = Counter()
    for profile, people in people_in_profile.items():
        if len(people) > 1:
            held = [k for k in profile_of if profile_of[k] == profile]
            main = _plurality(owner_of[k] for k in held if k in owner_of and k not in shared)[0]
            others = sorted({k[0] for k in held if owner_of.get(k) not in (None, main)})
            devices = sorted({k[0] for k in held if k in shared})
            intruders[f"{'+'.join(others)} (shared: {'+'.join(devices) or 'none'})"] += 1
    print(
        f"profiles: {len(profiles):,}; merges {merges:,}; refused merges {len(refusals):,} "
        f"({sum('(limit' in r for _, r in refusals):,} by a limit); shared devices "
        f"{shared_seen:,} (truth: {sum(shared_by_type.values()):,} shared identifiers seen)"
    )
    print(f"people observed: {len(mine):,}; their identifiers: {sums['observed']:,}")
    print(
        "identifiers outside the person's main profile, by type and why "
        "(a no evidence, b refused by a limit, c evidence not linked):"
    )
    names = ("a", "b", "c-split", "c-unread")
    print(f"  {'type':<26} {'seen':>7} {'astray':>14} " + " ".join(f"{n:>8}" for n in names))
    for kind, count in seen.most_common():
        astray = sum(classes[kind].values())
        print(
            f"  {kind:<26} {count:>7,} {astray:>6,} ({astray / count:5.1%}) "
            + " ".join(f"{classes[kind][n]:>8,}" for n in names)
            + (f"  (+{shared_by_type[kind]:,} shared)" if shared_by_type[kind] else "")
        )
    for name in UNREAD:
        found = ", ".join(f"{k} {n:,}" for k, n in alone[name].most_common() if n)
        print(f"  c-unread linked by the {name} alone: {found or 'none'}")
    several = sorted(sorted(people) for people in people_in_component.values() if len(people) > 1)
    print(
        f"  in the main profile without evidence (matching, undetected shared device): "
        f"{beyond:,}; evidence components holding several people: {len(several):,}",
        *("+".join(people) for people in several[:5]),
    )
    completeness = sums["together"] / sums["observed"]
    print(
        f"completeness: {completeness:.4f} of a person's identifiers in one profile "
        f"(target >= 0.97) {'MET' if completeness >= 0.97 else 'MISSED'}"
    )
    for name, label in (("read", "as read"), ("all", "incl. unread")):
        share = sums[f"{name} together"] / sums[f"{name} bounded"]
        print(
            f"completeness, evidence-bounded ({label}): {share:.4f} of "
            f"{sums[f'{name} bounded']:,} identifiers the data ties to their person "
            f"({'MET' if share >= 0.97 else 'MISSED'} vs 0.97)"
        )
    for pattern, count in intruders.most_common(5):
        print(f"  impure: {count:,} profiles where others brought {pattern}")
    purity = mixed / len(profiles) if profiles else float("nan")
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
    logging.getLogger("splink").setLevel(logging.ERROR)  # "level not observed" notes
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
        worker.drain(timeout=6 * 3600)  # a default world takes an hour on a busy machine
        seconds = time.perf_counter() - started
        print(
            f"identity + profile stages: {worker.processed:,} events in {seconds:,.1f} s = "
            f"{worker.processed / seconds:,.0f} events/s "
            f"({seconds / max(1, worker.processed) * 1e6:,.0f} µs/event; log held {total:,})"
        )

        with database.transaction(write=False) as session:
            rules = identity_service.rules_for(session, workspace_id)
        owner_of, shared = _truth(
            world / "truth" / "identifiers.csv", settings.ingest_phone_region, rules
        )
        started = time.perf_counter()
        evidence = _evidence(database, log, rules, shared)
        print(f"evidence graph of the log built in {time.perf_counter() - started:,.1f} s")
        print("-- deterministic graph (events and imports)")
        _evaluate(database, owner_of, shared, evidence)
        started = time.perf_counter()
        run = master.run_matching(
            database, workspace_id=workspace_id, actor="bench", on_merge=(merge_traits,)
        )
        print(
            f"-- after matching master records ({time.perf_counter() - started:,.1f} s): "
            f"{run.records:,} records, {run.merged:,} merged, {run.refused:,} refused, "
            f"{run.queued:,} queued for review"
        )
        _evaluate(database, owner_of, shared, evidence)
        database.dispose()


if __name__ == "__main__":
    main()
