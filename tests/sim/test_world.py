"""The generated world: reproducible, well-formed, consistent with its ground truth, and
statistically what the scenario configures."""

from __future__ import annotations

import collections
import csv
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from coreo.ingest.spec import parse_message
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

SMALL = Scenario(customers=300, days=90, seed=7)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _events(out: Path) -> list[dict[str, Any]]:
    with (out / "events.jsonl").open("rb") as handle:
        return [orjson.loads(line) for line in handle]


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "world"
    generate(SMALL, out, run_lines=500)  # small runs: exercises spilling and merging
    return out


@pytest.fixture(scope="module")
def year_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("year") / "world"
    generate(Scenario(customers=2500, days=365, seed=11), out)
    return out


# -- reproducibility ---------------------------------------------------------------------


def test_same_seed_same_bytes(small_world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(SMALL, again)  # different run size: the bytes must not depend on it
    assert _tree(again) == _tree(small_world)


def test_same_bytes_in_another_process_with_another_hash_seed(
    small_world: Path, tmp_path: Path
) -> None:
    out = tmp_path / "child"
    code = (
        "import sys; from pathlib import Path; from coreo.sim.generate import generate; "
        "from coreo.sim.scenario import Scenario; "
        "generate(Scenario(customers=300, days=90, seed=7), Path(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True, timeout=120)
    assert (out / "manifest.json").read_bytes() == (small_world / "manifest.json").read_bytes()


def test_another_seed_gives_another_world(small_world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(SMALL.model_copy(update={"seed": 8}), other)
    assert (other / "events.jsonl").read_bytes() != (small_world / "events.jsonl").read_bytes()


def test_manifest_lists_checksums_and_counts(small_world: Path) -> None:
    manifest = orjson.loads((small_world / "manifest.json").read_bytes())
    assert manifest["scenario"]["customers"] == 300
    assert "events.jsonl" in manifest["files"] and "truth/persons.csv" in manifest["files"]
    assert manifest["counts"]["events"] == len(_events(small_world))
    assert manifest["never_ingest"] == ["truth/"]


def test_parquet_holds_the_same_events(small_world: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "pq"
    generate(SMALL, out, event_format="parquet")
    table = pq.read_table(out / "events.parquet")
    lines = (small_world / "events.jsonl").read_bytes().decode().splitlines()
    assert table.column("message").to_pylist() == lines
    assert table.column("type").to_pylist()[:5] == [orjson.loads(x)["type"] for x in lines[:5]]


# -- shape -------------------------------------------------------------------------------


def test_every_event_is_a_valid_segment_message_in_time_order(small_world: Path) -> None:
    events = _events(small_world)
    assert len(events) > 5000
    for event in events:
        parse_message(event)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len({e["messageId"] for e in events}) == len(events)
    assert {e["type"] for e in events} == {"identify", "track", "page", "screen", "alias", "group"}


def test_semantic_event_names_and_chf_orders(year_world: Path) -> None:
    events = _events(year_world)
    names = collections.Counter(e.get("event") for e in events if e["type"] == "track")
    for name in (
        "Product Viewed", "Product Added", "Checkout Started", "Order Completed",
        "Email Delivered", "Email Opened", "Email Link Clicked", "Push Notification Received",
        "Signed Up", "Unsubscribed", "Segment Consent Preference Updated",
    ):  # fmt: skip
        assert names[name] > 0, name
    orders = [e for e in events if e.get("event") == "Order Completed"]
    assert all(
        o["properties"]["currency"] == "CHF" and o["properties"]["revenue"] > 0 for o in orders
    )
    assert any(e["context"].get("globalPrivacyControl") for e in events)
    assert any("consent" in e["context"] for e in events if e["type"] == "identify")
    hours = collections.Counter(int(e["timestamp"][11:13]) for e in events if e["type"] == "page")
    assert hours[20] > 3 * hours[4]  # evenings busy, nights quiet


# -- ground truth ------------------------------------------------------------------------


def test_every_observed_identifier_maps_to_a_person(small_world: Path) -> None:
    truth = _read_csv(small_world / "truth" / "identifiers.csv")
    persons = {r["person_id"] for r in _read_csv(small_world / "truth" / "persons.csv")}
    known = {(r["kind"], r["value"]) for r in truth}
    assert {r["person_id"] for r in truth} <= persons
    for event in _events(small_world):
        if "userId" in event:
            assert ("user_id", event["userId"]) in known
        if "anonymousId" in event:
            assert ("anonymous_id", event["anonymousId"]) in known or (
                "newsletter:subscriber_id",
                event["anonymousId"],
            ) in known
    for row in _read_csv(small_world / "exports" / "erp_customers.csv"):
        assert ("erp:customer_no", row["customer_no"]) in known
        if row["email"]:
            assert ("email", row["email"]) in known
    for row in _read_csv(small_world / "exports" / "pos_transactions.csv"):
        if row["loyalty_card"]:
            assert ("loyalty_card", row["loyalty_card"]) in known


def test_fragmentation_traps_exist(year_world: Path) -> None:
    ids = _read_csv(year_world / "truth" / "identifiers.csv")
    per_person = collections.Counter(r["person_id"] for r in ids)
    assert 6 <= statistics.mean(per_person.values()) <= 25
    shared = collections.defaultdict(set)
    for r in ids:
        if r["shared_device"] == "True":
            shared[r["value"]].add(r["person_id"])
    assert shared and all(len(people) >= 2 for people in shared.values())
    erp = _read_csv(year_world / "exports" / "erp_customers.csv")
    emails = {r["email"] for r in erp if r["email"]}
    assert any(e != e.strip().lower() for e in emails)  # case/whitespace variants
    phones = {r["phone"] for r in erp if r["phone"]}
    assert any(p.startswith("07") for p in phones) and any(p.startswith("+41 ") for p in phones)
    by_person = collections.Counter(r["person_id"] for r in ids if r["kind"] == "erp:customer_no")
    assert sum(1 for n in by_person.values() if n > 1) > 0.05 * len(by_person)  # duplicates
    pos = _read_csv(year_world / "exports" / "pos_transactions.csv")
    online_cards = {
        e["traits"].get("loyaltyCard") for e in _events(year_world) if e["type"] == "identify"
    }
    unlinked = {r["loyalty_card"] for r in pos if r["loyalty_card"]} - online_cards
    assert unlinked  # cards used in stores that the webshop never saw


# -- statistics of the world ---------------------------------------------------------------


def _persons(out: Path) -> list[dict[str, str]]:
    return [r for r in _read_csv(out / "truth" / "persons.csv") if not r["fraud_ring"]]


def test_churn_rate_lands_near_the_configured_rate(year_world: Path) -> None:
    existing = [r for r in _persons(year_world) if r["acquired_at"] < "2025-01-01"]
    rate = sum(r["churned_in_period"] == "True" for r in existing) / len(existing)
    assert abs(rate - Scenario().churn.yearly_rate) < 0.04, rate


def test_bad_service_raises_churn(year_world: Path) -> None:
    persons = _persons(year_world)
    bad = [r for r in persons if int(r["bad_contacts"]) > 0]
    good = [r for r in persons if int(r["contacts"]) > 0 and int(r["bad_contacts"]) == 0]

    def churn(rows: list[dict[str, str]]) -> float:
        return sum(r["churned_at"] != "" for r in rows) / len(rows)

    assert churn(bad) > churn(good)


def test_language_mix_is_swiss(year_world: Path) -> None:
    persons = _persons(year_world)
    counts = collections.Counter(r["language"] for r in persons)
    for language, share in {"de": 0.62, "fr": 0.23, "it": 0.08, "en": 0.07}.items():
        assert abs(counts[language] / len(persons) - share) < 0.045, (language, counts)


def test_shared_devices_share(year_world: Path) -> None:
    persons = _persons(year_world)
    sizes = collections.Counter(r["household_id"] for r in persons)
    multi = {h for h, n in sizes.items() if n > 1}
    ids = _read_csv(year_world / "truth" / "identifiers.csv")
    household_of = {r["person_id"]: r["household_id"] for r in persons}
    with_shared = {
        household_of[r["person_id"]]
        for r in ids
        if r["shared_device"] == "True" and r["person_id"] in household_of
    }
    share = len(with_shared & multi) / len(multi)
    assert abs(share - Scenario().identity.shared_device_share) < 0.08, share


def test_intent_mix_and_router_signal(year_world: Path) -> None:
    contacts = _read_csv(year_world / "truth" / "contacts.csv")
    intents = collections.Counter(r["intent"] for r in contacts)
    assert len(intents) >= 20
    assert intents.most_common(1)[0][0] in {"delivery_status", "return_request"}
    observed = {
        orjson.loads(line)["contact_id"]: orjson.loads(line)
        for line in (year_world / "exports" / "service_contacts.jsonl").read_bytes().splitlines()
    }

    def resolved(rows: list[dict[str, str]]) -> float:
        return sum(observed[r["contact_id"]]["resolved"] for r in rows) / len(rows)

    fit = [r for r in contacts if r["language_match"] == "True" and r["skill_match"] == "True"]
    misfit = [r for r in contacts if r["skill_match"] == "False"]
    assert resolved(fit) > resolved(misfit) + 0.05


def test_observed_files_do_not_leak_the_truth(small_world: Path) -> None:
    truth_ids = {r["person_id"] for r in _read_csv(small_world / "truth" / "persons.csv")}
    households = {r["household_id"] for r in _read_csv(small_world / "truth" / "persons.csv")}
    observed = [small_world / "events.jsonl", *sorted((small_world / "exports").iterdir())]
    text = "\n".join(path.read_text(encoding="utf-8") for path in observed)
    for value in sorted(truth_ids | households)[:200]:
        assert value not in text, value
    # Two ERP records of one person are not related by arithmetic on their numbers.
    ids = _read_csv(small_world / "truth" / "identifiers.csv")
    numbers: dict[str, list[int]] = collections.defaultdict(list)
    for row in ids:
        if row["kind"] == "erp:customer_no":
            numbers[row["person_id"]].append(int(row["value"]))
    gaps = {
        b - a for values in numbers.values() if len(values) > 1 for a, b in [sorted(values)[:2]]
    }
    assert len(gaps) > 1


def test_order_numbers_are_unique(year_world: Path) -> None:
    orders = [
        e["properties"]["order_id"]
        for e in _events(year_world)
        if e.get("event") == "Order Completed"
    ]
    assert len(orders) == len(set(orders)) > 1000


def test_consent_shapes_what_is_observed(year_world: Path) -> None:
    persons = {r["person_id"]: r for r in _persons(year_world)}
    ids = _read_csv(year_world / "truth" / "identifiers.csv")
    person_of_user = {r["value"]: r["person_id"] for r in ids if r["kind"] == "user_id"}
    shared = {r["value"] for r in ids if r["shared_device"] == "True"}
    tracked_by_person: collections.Counter[str] = collections.Counter()
    for event in _events(year_world):
        if event.get("anonymousId") in shared:
            continue  # on a shared device the userId may be another member's (the trap)
        if event.get("event") == "Product Viewed" and event.get("userId") in person_of_user:
            tracked_by_person[person_of_user[event["userId"]]] += 1
    refused = [p for p, r in persons.items() if r["consent_analytics"] == "False"]
    assert refused and all(tracked_by_person[p] == 0 for p in refused)
    gpc = [r for r in persons.values() if r["gpc"] == "True"]
    no_gpc = [r for r in persons.values() if r["gpc"] == "False"]

    def share(rows: list[dict[str, str]]) -> float:
        return sum(r["consent_marketing_email"] == "True" for r in rows) / len(rows)

    assert share(gpc) < share(no_gpc)
