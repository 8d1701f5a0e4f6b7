"""Tests for the simulator's person-level raw material (coreo.sim.people)."""

from __future__ import annotations

import collections
import datetime
import ipaddress
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coreo.sim import people

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
SRC = Path(__file__).resolve().parents[2] / "src"

# Every public random function, in one sequence; executed here and in subprocesses.
SAMPLE_SCRIPT = """
import random
from coreo.sim import people as p

def sample(seed):
    rng = random.Random(seed)
    out = []
    for _ in range(60):
        canton = p.pick_canton(rng)
        lang = p.pick_language(rng, canton)
        first, last = p.person_name(rng, lang, rng.choice(("f", "m", "x")))
        email = p.email_address(rng, first, last, taken=rng.randrange(2))
        mobile, band = p.mobile_number(rng), p.pick_age_band(rng)
        out.append((
            canton.code, lang, first, last, p.pick_address(rng, canton), email,
            p.email_variant(rng, email), mobile, p.phone_variant(rng, mobile),
            p.landline_number(rng, canton), p.typo(rng, last), p.name_variant(rng, first, last),
            p.married_name(rng, last, lang), band, p.birth_date(rng, band, 2025),
            p.swiss_ip(rng), p.foreign_ip(rng), p.loyalty_card_number(rng),
        ))
    return repr(out)
"""


def _sample(seed: int) -> str:
    namespace: dict[str, object] = {}
    exec(SAMPLE_SCRIPT, namespace)  # noqa: S102 - our own constant
    return namespace["sample"](seed)  # type: ignore[operator, no-any-return]


def _names(seed: int) -> tuple[str, str, str]:
    rng = random.Random(seed)
    lang = people.pick_language(rng, people.pick_canton(rng))
    first, last = people.person_name(rng, lang, rng.choice(("f", "m", "x")))
    return first, last, lang


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _normalise_phone(text: str) -> str:
    kept = "".join(ch for i, ch in enumerate(text) if ch.isdigit() or (ch == "+" and i == 0))
    if kept.startswith("00"):
        return "+" + kept[2:]
    if kept.startswith("0"):
        return "+41" + kept[1:]
    return kept


def _normalise_email(text: str) -> str:
    """Trim + lower-case, drop a +tag, gmail rules (googlemail alias, dots ignored)."""
    local, _, domain = text.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_sequence_and_global_random_is_not_used() -> None:
    random.seed(1)
    first = _sample(42)
    random.seed(2)  # a different global state must not matter
    assert _sample(42) == first
    assert _sample(43) != first


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_output_independent_of_string_hash_seed(hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(SRC), env.get("PYTHONPATH"))))
    result = subprocess.run(
        [sys.executable, "-c", SAMPLE_SCRIPT + "\nprint(sample(7))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == _sample(7)


# --- cantons and languages ---------------------------------------------------------------


def test_cantons() -> None:
    assert len(people.CANTONS) == 26
    assert len({c.code for c in people.CANTONS}) == 26
    assert sum(c.weight for c in people.CANTONS) == pytest.approx(1.0, abs=1e-3)
    assert max(people.CANTONS, key=lambda c: c.weight).code == "ZH"
    for canton in people.CANTONS:
        assert canton.language in ("de", "fr", "it")
        assert len(canton.cities) >= 3
        assert all(re.fullmatch(r"[1-9]\d{3}", pc) for pc, _ in canton.cities)
    by_code = {c.code: c for c in people.CANTONS}
    assert (by_code["GE"].language, by_code["TI"].language) == ("fr", "it")
    assert by_code["ZH"].cities[0] == ("8001", "Zürich")


def test_pick_canton_follows_population() -> None:
    rng = random.Random(5)
    counts = collections.Counter(people.pick_canton(rng).code for _ in range(20_000))
    assert len(counts) == 26
    assert 0.15 < counts["ZH"] / 20_000 < 0.21
    assert counts["ZH"] > counts["BE"] > counts["LU"] > counts["AI"]


def test_language_split() -> None:
    rng = random.Random(2024)
    draws = 20_000
    counts = collections.Counter(
        people.pick_language(rng, people.pick_canton(rng)) for _ in range(draws)
    )
    expected = {"de": 0.62, "fr": 0.23, "it": 0.08, "en": 0.07}
    for language, share in expected.items():
        assert abs(counts[language] / draws - share) <= 0.03, (language, counts)


def test_language_mostly_follows_canton() -> None:
    rng = random.Random(9)
    by_code = {c.code: c for c in people.CANTONS}
    for code, language in (("TI", "it"), ("GE", "fr"), ("ZH", "de")):
        picks = collections.Counter(people.pick_language(rng, by_code[code]) for _ in range(2000))
        assert picks.most_common(1)[0][0] == language
        assert picks["en"] > 0


# --- addresses and names -----------------------------------------------------------------


@given(SEEDS)
def test_address_is_plausible(seed: int) -> None:
    rng = random.Random(seed)
    canton = people.pick_canton(rng)
    address = people.pick_address(rng, canton)
    assert address.canton == canton.code
    assert (address.postcode, address.city) in canton.cities
    assert re.fullmatch(r"\d{4}", address.postcode)
    assert re.fullmatch(r"[1-9]\d*[a-cA]?", address.house_no)
    assert address.line() == f"{address.street} {address.house_no}"


def test_street_names_follow_language_and_some_numbers_have_letters() -> None:
    rng = random.Random(11)
    by_code = {c.code: c for c in people.CANTONS}
    ticino = [people.pick_address(rng, by_code["TI"]) for _ in range(300)]
    assert all(a.street.startswith(("Via", "Viale", "Piazza")) for a in ticino)
    geneva = [people.pick_address(rng, by_code["GE"]).street for _ in range(300)]
    french = ("Rue", "Chemin", "Avenue", "Route", "Grand-Rue", "Impasse")
    assert all(street.startswith(french) for street in geneva)
    zurich = [people.pick_address(rng, by_code["ZH"]) for _ in range(500)]
    assert any(a.street == "Bahnhofstrasse" for a in zurich)
    assert any(not a.house_no.isdigit() for a in zurich)


@pytest.mark.parametrize("language", people.LANGUAGES)
def test_person_names_are_varied(language: str) -> None:
    rng = random.Random(language)
    for gender in ("f", "m"):
        names = [people.person_name(rng, language, gender) for _ in range(3000)]
        assert len({first for first, _ in names}) >= 40
        assert len({last for _, last in names}) >= 60
    females = {people.person_name(rng, language, "f")[0] for _ in range(2000)}
    males = {people.person_name(rng, language, "m")[0] for _ in range(2000)}
    x = {people.person_name(rng, language, "x")[0] for _ in range(2000)}
    assert x & (females - males) and x & (males - females)


def test_swiss_names_have_umlauts_and_accents() -> None:
    rng = random.Random(3)
    german = {people.person_name(rng, "de", "m")[1] for _ in range(3000)}
    french = {people.person_name(rng, "fr", "f")[1] for _ in range(3000)}
    assert {"Müller", "Lüthi", "Bürki", "Schnyder"} <= german
    assert {"Favre", "Rochat", "Gaillard"} <= french
    assert any(not name.isascii() for name in french)
    with pytest.raises(ValueError):
        people.person_name(rng, "de", "q")


# --- e-mail --------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._+-]*@[a-z0-9-]+(\.[a-z0-9-]+)+")


@given(SEEDS, st.integers(min_value=0, max_value=5))
def test_email_address_is_canonical(seed: int, taken: int) -> None:
    first, last, _ = _names(seed)
    email = people.email_address(random.Random(seed), first, last, taken=taken)
    assert email.isascii() and email == email.lower()
    assert EMAIL_RE.fullmatch(email), email
    if taken:
        assert str(taken + 1) in email.split("@")[0]


def test_email_transliterates_umlauts_and_accents() -> None:
    def locals_for(first: str, last: str) -> list[str]:
        rng = random.Random(1)
        return [people.email_address(rng, first, last).split("@")[0] for _ in range(200)]

    muller = locals_for("Jürg", "Müller")
    assert any("mueller" in local for local in muller)
    assert any("juerg" in local for local in muller)
    assert all(local.isascii() for local in muller)
    assert any("frederic" in local for local in locals_for("Frédéric", "Délèze"))
    assert any("dalessandro" in local for local in locals_for("Nicolò", "D'Alessandro"))
    assert any("vongunten" in local for local in locals_for("Ueli", "von Gunten"))


def test_email_domains_look_swiss() -> None:
    rng = random.Random(8)
    domains = collections.Counter(
        people.email_address(rng, "Anna", "Meier").split("@")[1] for _ in range(5000)
    )
    assert domains.most_common(2)[0][0] == "gmail.com"
    assert {"bluewin.ch", "gmx.ch", "hotmail.com", "sunrise.ch", "hispeed.ch"} <= set(domains)


@pytest.mark.parametrize("kind", ["case", "space", "case+space"])
@given(seed=SEEDS)
def test_email_variant_undone_by_trim_and_lower(kind: str, seed: int) -> None:
    first, last, _ = _names(seed)
    rng = random.Random(seed)
    email = people.email_address(rng, first, last)
    variant = people.email_variant(rng, email, kind=kind)
    assert variant != email
    assert variant.strip().lower() == email
    if kind != "space":
        assert variant.strip() != email  # the case really changed
    if kind != "case":
        assert variant != variant.strip()


@pytest.mark.parametrize("kind", ["googlemail", "dots", "plus"])
def test_gmail_variants_need_gmail_rules(kind: str) -> None:
    email = "anna.meier@gmail.com"
    for seed in range(20):
        variant = people.email_variant(random.Random(seed), email, kind=kind)
        assert variant != email
        assert variant.strip().lower() != email  # trim + lower is not enough
        assert _normalise_email(variant) == _normalise_email(email)
    assert people.email_variant(random.Random(0), email, kind="googlemail").endswith(
        "@googlemail.com"
    )
    assert people.email_variant(random.Random(0), email, kind="dots").startswith("annameier@")


def test_plus_tag_on_other_providers_and_fallback() -> None:
    variant = people.email_variant(random.Random(1), "luca.rossi@outlook.com", kind="plus")
    assert re.fullmatch(r"luca\.rossi\+[a-z0-9]+@outlook\.com", variant)
    # Kinds that do not apply (bluewin has neither gmail rules nor sub-addresses) fall back.
    for kind in ("googlemail", "dots", "plus"):
        variant = people.email_variant(random.Random(2), "anna.meier@bluewin.ch", kind=kind)
        assert variant != "anna.meier@bluewin.ch"
        assert variant.strip().lower() == "anna.meier@bluewin.ch"
    with pytest.raises(ValueError):
        people.email_variant(random.Random(0), "a@b.ch", kind="nope")


@given(SEEDS)
def test_random_email_variant_is_recoverable(seed: int) -> None:
    first, last, _ = _names(seed)
    rng = random.Random(seed)
    email = people.email_address(rng, first, last)
    variant = people.email_variant(rng, email)
    assert variant != email
    assert _normalise_email(variant) == _normalise_email(email)


def test_random_email_variants_cover_every_kind() -> None:
    email = "anna.meier@gmail.com"
    variants = [people.email_variant(random.Random(seed), email) for seed in range(400)]
    assert any(v.endswith("@googlemail.com") for v in variants)
    assert any(v.startswith("annameier@") for v in variants)
    assert any("+" in v for v in variants)
    assert any(v != v.strip() for v in variants)
    assert any(v.strip() != v.strip().lower() for v in variants)


# --- phones --------------------------------------------------------------------------------


@given(SEEDS)
def test_phone_variants_normalise_back(seed: int) -> None:
    rng = random.Random(seed)
    mobile = people.mobile_number(rng)
    landline = people.landline_number(rng, people.pick_canton(rng))
    assert re.fullmatch(r"\+417[5-9]\d{7}", mobile)
    assert re.fullmatch(r"\+41[2-9]\d[2-9]\d{6}", landline)
    for number in (mobile, landline):
        for _ in range(5):
            assert _normalise_phone(people.phone_variant(rng, number)) == number


def test_phone_variants_are_varied_and_area_codes_plausible() -> None:
    rng = random.Random(4)
    variants = {people.phone_variant(rng, "+41791234567") for _ in range(500)}
    expected = {"+41 79 123 45 67", "079 123 45 67", "0041791234567", "079/123.45.67"}
    expected |= {"+41791234567", "0791234567", "(079) 123 45 67"}
    assert expected <= variants
    by_code = {c.code: c for c in people.CANTONS}
    for code, areas in (("ZH", {"44", "43", "52"}), ("GE", {"22"}), ("TI", {"91"})):
        seen = {people.landline_number(rng, by_code[code])[3:5] for _ in range(200)}
        assert seen <= areas
    assert "31" in {people.landline_number(rng, by_code["BE"])[3:5] for _ in range(200)}
    with pytest.raises(ValueError):
        people.phone_variant(rng, "+4930123456")


# --- typos and name variants -------------------------------------------------------------


@given(SEEDS, st.text(min_size=2, max_size=30))
def test_typo_always_changes_text_by_at_most_two_edits(seed: int, text: str) -> None:
    result = people.typo(random.Random(seed), text)
    assert result != text
    assert _levenshtein(result, text) <= 2


def test_typo_kinds_and_edge_cases() -> None:
    assert people.typo(random.Random(0), "") == ""
    assert all(people.typo(random.Random(s), "aa") != "aa" for s in range(50))
    typos = {people.typo(random.Random(s), "Meier") for s in range(300)}
    assert {"Meeir", "Meer", "Meiier"} <= typos  # swap, drop, double
    assert typos & {"Neier", "Mwier", "Meoer", "Meuer", "Meiet"}  # QWERTZ neighbours


@given(SEEDS)
def test_name_variant_differs(seed: int) -> None:
    first, last, _ = _names(seed)
    assert people.name_variant(random.Random(seed), first, last) != (first, last)


def test_name_variant_kinds() -> None:
    def variants(first: str, last: str) -> set[tuple[str, str]]:
        return {people.name_variant(random.Random(s), first, last) for s in range(400)}

    muller = variants("Johannes", "Müller")
    lasts = {last for _, last in muller}
    assert {"Mueller", "Muller", "MÜLLER"} <= lasts
    assert {("Hans", "Müller"), ("J.", "Müller")} <= muller
    assert ("Frederic", "Deleze") in variants("Frédéric", "Délèze")
    assert ("Beppe", "Bernasconi") in variants("Giuseppe", "Bernasconi")
    double = {last for _, last in variants("Anna", "Meier-Keller")}
    assert {"Meier", "Keller"} <= double
    assert "Rochat" in {last for _, last in variants("Marie", "Favre Rochat")}


@given(SEEDS, st.sampled_from(people.LANGUAGES))
def test_married_name_changes(seed: int, language: str) -> None:
    rng = random.Random(seed)
    last = people.person_name(rng, language, "f")[1]
    assert people.married_name(rng, last, language) != last


def test_married_name_forms() -> None:
    de = {people.married_name(random.Random(s), "Keller", "de") for s in range(300)}
    assert any(n.endswith("-Keller") for n in de) and any(n.startswith("Keller-") for n in de)
    assert any("Keller" not in n for n in de)
    fr = {people.married_name(random.Random(s), "Rochat", "fr") for s in range(300)}
    assert any(n.endswith(" Rochat") for n in fr)


# --- ages, IPs, cards ----------------------------------------------------------------------


def _age_on_new_year(born: datetime.date, year: int) -> int:
    return year - born.year - (1 if (born.month, born.day) > (1, 1) else 0)


@given(SEEDS, st.sampled_from(people.AGE_BANDS), st.integers(min_value=1990, max_value=2060))
def test_birth_date_matches_band(seed: int, band: str, year: int) -> None:
    born = people.birth_date(random.Random(seed), band, year)
    age = _age_on_new_year(born, year)
    if band == "65+":
        assert 65 <= age <= 100
    else:
        low, high = (int(part) for part in band.split("-"))
        assert low <= age <= high


def test_age_band_distribution() -> None:
    rng = random.Random(6)
    counts = collections.Counter(people.pick_age_band(rng) for _ in range(10_000))
    assert set(counts) == set(people.AGE_BANDS)
    assert counts.most_common(1)[0][0] == "65+"
    assert 0.05 < counts["18-24"] / 10_000 < 0.15


def test_ips() -> None:
    rng = random.Random(10)
    swiss = [people.swiss_ip(rng) for _ in range(3000)]
    foreign = [people.foreign_ip(rng) for _ in range(3000)]
    for ip in swiss + [ip for ip, _ in foreign]:
        assert ipaddress.IPv4Address(ip).is_global
    countries = collections.Counter(country for _, country in foreign)
    assert "CH" not in countries and len(countries) >= 10
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in countries)

    def prefix(ip: str) -> str:
        return ".".join(ip.split(".")[:2])

    assert not {prefix(ip) for ip in swiss} & {prefix(ip) for ip, _ in foreign}
    assert len({prefix(ip) for ip in swiss}) >= 20


@given(SEEDS)
def test_loyalty_card_has_valid_ean13_check_digit(seed: int) -> None:
    card = people.loyalty_card_number(random.Random(seed))
    assert re.fullmatch(r"2990\d{9}", card)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(card))
    assert total % 10 == 0
