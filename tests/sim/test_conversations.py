"""Tests for the customer-service text generator (coreo.sim.conversations)."""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreo.sim._phrases import INTENT_TEXT, LANGUAGE_TEXT
from coreo.sim.conversations import (
    CHANNELS,
    INTENTS,
    LANGUAGES,
    Facts,
    Transcript,
    Turn,
    compose,
)

EXPECTED_INTENTS = (
    "delivery_status",
    "delivery_damaged",
    "return_request",
    "refund_status",
    "payment_failed",
    "double_charge",
    "cancel_order",
    "cancel_account",
    "complaint_product",
    "complaint_service",
    "product_question",
    "stock_availability",
    "loyalty_points",
    "voucher_problem",
    "address_change",
    "login_problem",
    "fraud_report",
    "data_protection_request",
    "invoice_request",
    "warranty_repair",
    "store_opening_hours",
    "newsletter_unsubscribe",
)
# Intents whose request is about a specific order: a known order number must be mentioned.
ORDER_INTENTS = (
    "delivery_status",
    "delivery_damaged",
    "return_request",
    "refund_status",
    "payment_failed",
    "cancel_order",
    "voucher_problem",
    "address_change",
    "invoice_request",
)
URGENCIES = ("low", "medium", "high")
NAMES = ("Anna", "Luca", "Céline", "Reto", "Giulia", "Tom", "Nadine", "Marco")
PRODUCTS = ("Trekking-Rucksack 40 L", "Skihelm Pro", "Stehlampe Nordic", "Wanderschuh GTX")
CITIES = ("Luzern", "Bern", "Lausanne", "Lugano", "Winterthur", "St. Gallen")
WORD = re.compile(r"[^\W\d_]+")
T = TypeVar("T")


def random_facts(rng: random.Random, complete: bool = True) -> Facts:
    def maybe(value: T) -> T | None:
        return value if complete or rng.random() < 0.6 else None

    return Facts(
        first_name=rng.choice(NAMES),
        order_id=maybe(f"AM-2025-{rng.randrange(100000, 999999)}"),
        product=maybe(rng.choice(PRODUCTS)),
        amount_chf=maybe(round(rng.uniform(9.9, 890.0), 2)),
        store_city=maybe(rng.choice(CITIES)),
        days_waiting=maybe(rng.randrange(2, 30)),
    )


def sample(
    rng: random.Random,
    *,
    intent: str | None = None,
    language: str | None = None,
    channel: str = "chat",
    frustration: float | None = None,
    urgency: str | None = None,
    facts: Facts | None = None,
    **kwargs: Any,
) -> Transcript:
    return compose(
        rng,
        intent=intent or rng.choice(INTENTS),
        language=language or rng.choice(LANGUAGES),
        channel=channel,
        frustration=rng.random() if frustration is None else frustration,
        urgency=urgency or rng.choice(URGENCIES),
        facts=facts or random_facts(rng),
        **kwargs,
    )


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def check_structure(t: Transcript, channel: str, language: str, customer_turns: int) -> None:
    assert isinstance(t, Transcript)
    assert t.channel == channel and t.language == language
    assert all(isinstance(turn, Turn) and turn.text.strip() for turn in t.turns)
    assert all(turn.speaker in ("customer", "agent") for turn in t.turns)
    speakers = [turn.speaker for turn in t.turns]
    assert speakers.count("customer") == customer_turns
    assert all(a != b for a, b in itertools.pairwise(speakers)), speakers
    if channel == "phone":
        assert speakers[0] == "agent"
    else:
        assert speakers[0] == "customer"
    if channel == "email":
        assert t.subject is not None and t.subject.strip()
    else:
        assert t.subject is None
    assert t.typos >= 0


# --- API and structure ----------------------------------------------------------------------------


def test_public_constants() -> None:
    assert INTENTS == EXPECTED_INTENTS
    assert LANGUAGES == ("de", "fr", "it", "en")
    assert CHANNELS == ("chat", "email", "phone")


def test_phrase_tables_cover_every_intent_with_several_frames() -> None:
    for language in LANGUAGES:
        assert set(INTENT_TEXT[language]) == set(INTENTS)
        for intent in INTENTS:
            text = INTENT_TEXT[language][intent]
            assert len(set(text.core)) >= 4, (language, intent)
            # at least two frames need no fact at all, so a customer who knows nothing can ask
            assert sum("{" not in c for c in text.core) >= 2, (language, intent)
            assert any("{" not in s for s in text.subject), (language, intent)
            assert text.detail and text.topic


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_composes(language: str, channel: str) -> None:
    rng = random.Random(f"{language}-{channel}")
    for intent in INTENTS:
        for turns in (1, 3):
            t = sample(rng, intent=intent, language=language, channel=channel, customer_turns=turns)
            check_structure(t, channel, language, turns)


def test_email_has_greeting_and_sign_off_with_first_name() -> None:
    rng = random.Random(3)
    for _ in range(200):
        facts = random_facts(rng)
        t = sample(rng, channel="email", facts=facts)
        first = t.turns[0].text
        assert first.rstrip().endswith(facts.first_name), first
        assert "\n\n" in first


def test_phone_is_spoken_style() -> None:
    rng = random.Random(4)
    fillers: Counter[str] = Counter()
    inaudible = 0
    for _ in range(300):
        language = rng.choice(LANGUAGES)
        t = sample(rng, language=language, channel="phone", customer_turns=3)
        customer = " ".join(turn.text for turn in t.turns if turn.speaker == "customer")
        fillers[language] += sum(
            f" {filler} " in f" {customer} " for filler in LANGUAGE_TEXT[language].fillers
        )
        inaudible += "[inaudible]" in customer
        assert "Sehr geehrte" not in customer and "Madame, Monsieur" not in customer
    assert all(fillers[language] > 20 for language in LANGUAGES), fillers
    assert 20 < inaudible < 300


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("intent", "weather"),
        ("language", "rm"),
        ("channel", "fax"),
        ("urgency", "critical"),
        ("customer_turns", 0),
        ("customer_turns", 9),
        ("frustration", 1.5),
        ("agent_empathy", -0.1),
        ("typo_rate", 2.0),
        ("code_switch_rate", float("nan")),
    ],
)
def test_invalid_arguments_raise(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {
        "intent": "delivery_status",
        "language": "de",
        "channel": "chat",
        "frustration": 0.5,
        "urgency": "low",
        "facts": Facts("Anna"),
    }
    kwargs[field] = value
    with pytest.raises(ValueError, match=field):
        compose(random.Random(0), **kwargs)


# --- determinism ----------------------------------------------------------------------------------


def golden() -> str:
    """A fixed batch of transcripts as text; also run in a subprocess (see below)."""
    rng = random.Random(2024)
    out = []
    for i in range(60):
        facts = Facts("Anna", "AM-2025-104233", "Trekking-Rucksack 40 L", 89.9, "Luzern", 6)
        t = compose(
            rng,
            intent=INTENTS[i % 22],
            language=LANGUAGES[i % 4],
            channel=CHANNELS[i % 3],
            frustration=(i % 10) / 9,
            urgency=URGENCIES[i % 3],
            facts=facts,
            customer_turns=1 + i % 4,
            agent_empathy=(i % 7) / 6,
            typo_rate=0.05,
            code_switch_rate=0.5,
        )
        out.append(repr(t))
    return "\n".join(out)


def test_same_seed_same_transcript() -> None:
    a = [sample(random.Random(s), channel=CHANNELS[s % 3], customer_turns=4) for s in range(50)]
    b = [sample(random.Random(s), channel=CHANNELS[s % 3], customer_turns=4) for s in range(50)]
    assert a == b
    assert len({t.turns[0].text if t.channel != "phone" else t.turns[1].text for t in a}) > 40


def test_does_not_touch_global_random() -> None:
    state = random.getstate()
    for s in range(20):
        sample(random.Random(s), channel=CHANNELS[s % 3], customer_turns=3)
    assert random.getstate() == state


def test_identical_across_processes_and_hash_seeds() -> None:
    expected = golden()
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys\nfrom tests.sim.test_conversations import golden\nsys.stdout.write(golden())\n"
    )
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        env["PYTHONPATH"] = os.pathsep.join((str(root / "src"), str(root)))
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=True,
            timeout=60,
        )
        assert result.stdout == expected


# --- variety and learnability ---------------------------------------------------------------------


def test_variety_per_intent_and_language() -> None:
    rng = random.Random(11)
    for language in LANGUAGES:
        for intent in INTENTS:
            texts = {
                sample(
                    rng, intent=intent, language=language, typo_rate=0.0, code_switch_rate=0.0
                ).customer_text
                for _ in range(50)
            }
            assert len(texts) >= 15, (language, intent, len(texts))


def _nearest_centroid_accuracy(docs: list[tuple[list[str], str]], n_train: int) -> float:
    train, test = docs[:n_train], docs[n_train:]
    df: Counter[str] = Counter()
    for tokens, _ in train:
        df.update(set(tokens))
    idf = {w: math.log(len(train) / c) for w, c in df.items()}
    counts: dict[str, Counter[str]] = {}
    for tokens, label in train:
        counts.setdefault(label, Counter()).update(tokens)
    centroids = {
        label: {w: n * idf[w] for w, n in c.items()} for label, c in sorted(counts.items())
    }
    norms = {
        label: math.sqrt(sum(v * v for v in c.values())) or 1.0 for label, c in centroids.items()
    }
    correct = 0
    for tokens, label in test:
        tf = Counter(tokens)
        scores = {
            lab: sum(n * idf.get(w, 0.0) * c.get(w, 0.0) for w, n in tf.items()) / norms[lab]
            for lab, c in centroids.items()
        }
        correct += max(scores, key=lambda lab: scores[lab]) == label
    return correct / len(test)


def _labelled_chats(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        intent = rng.choice(INTENTS)
        t = sample(rng, intent=intent, typo_rate=0.02, code_switch_rate=0.1)
        out.append((t.customer_text, intent))
    return out


def test_intents_are_learnable_but_not_template_prefixed() -> None:
    chats = _labelled_chats(2000, seed=5)
    full = [(words(text), intent) for text, intent in chats]
    prefix = [(words(text)[:3], intent) for text, intent in chats]
    accuracy = _nearest_centroid_accuracy(full, 1200)
    prefix_accuracy = _nearest_centroid_accuracy(prefix, 1200)
    print(f"nearest-centroid accuracy: full {accuracy:.3f}, first 3 words {prefix_accuracy:.3f}")  # noqa: T201
    assert accuracy >= 0.8
    assert prefix_accuracy <= accuracy - 0.25
    # ...and not trivially separable either: the noise costs something.
    assert accuracy < 0.999


def test_frustration_shows_in_exclamations_and_caps() -> None:
    def loudness(frustration: float) -> float:
        rng = random.Random(int(frustration * 100))
        total = 0
        for i in range(300):
            t = sample(rng, channel=("chat", "email")[i % 2], frustration=frustration)
            text = t.customer_text
            caps = sum(1 for w in text.split() if len(w) >= 3 and w.isalpha() and w.isupper())
            total += text.count("!") + caps
        return total / 300

    calm, furious = loudness(0.1), loudness(0.9)
    assert furious > calm + 1.0, (calm, furious)


def test_low_frustration_is_polite_high_threatens() -> None:
    def rate(frustration: float, table: str) -> float:
        rng = random.Random(7)
        hits = 0
        for _ in range(400):
            language = rng.choice(LANGUAGES)
            t = sample(rng, language=language, frustration=frustration, code_switch_rate=0.0)
            text = t.customer_text.lower()
            sentences = getattr(LANGUAGE_TEXT[language], table)
            hits += any(s.lower().rstrip(".!") in text for s in sentences)
        return hits / 400

    assert rate(0.05, "polite") > rate(0.95, "polite") + 0.2
    assert rate(0.95, "angry") > rate(0.05, "angry") + 0.4


def test_urgency_shows() -> None:
    markers = ("dringend", "urgent", "urgente", "subito", "asap", "eilt", "sofort", "noch heute")

    def rate(urgency: str) -> float:
        rng = random.Random(8)
        hits = 0
        for _ in range(400):
            t = sample(rng, urgency=urgency, code_switch_rate=0.0, typo_rate=0.0)
            hits += any(m in t.customer_text.lower() for m in markers)
        return hits / 400

    assert rate("high") > rate("low") + 0.3


def test_later_turns_escalate_when_frustrated() -> None:
    def escalations(frustration: float) -> int:
        rng = random.Random(9)
        count = 0
        for _ in range(200):
            language = rng.choice(LANGUAGES)
            t = sample(
                rng, language=language, frustration=frustration, customer_turns=6, typo_rate=0.0
            )
            later = " ".join(turn.text for turn in t.turns[4:] if turn.speaker == "customer")
            count += any(
                e.lower().rstrip("?!.") in later.lower()
                for e in LANGUAGE_TEXT[language].fu_escalate
            )
        return count

    assert escalations(0.95) > escalations(0.05) + 80


def test_agent_empathy_shows() -> None:
    def style(empathy: float) -> tuple[float, float]:
        rng = random.Random(10)
        names = words_total = 0
        for i in range(300):
            facts = random_facts(rng)
            t = sample(rng, channel=CHANNELS[i % 3], facts=facts, agent_empathy=empathy)
            agent = " ".join(turn.text for turn in t.turns if turn.speaker == "agent")
            names += agent.count(facts.first_name)
            words_total += len(agent.split())
        return names / 300, words_total / 300

    cold_names, cold_words = style(0.0)
    warm_names, warm_words = style(1.0)
    assert warm_names > cold_names + 0.5
    assert warm_words > cold_words * 1.5


# --- language, code-switching, typos --------------------------------------------------------------

STOPWORDS = {
    "de": {"ich", "die", "der", "und", "ist", "nicht", "meine", "mein", "das", "es", "sie"}
    | {"bitte", "mit", "den", "ein", "eine", "zu", "auf", "noch", "wie", "habe", "von", "wird"},
    "fr": {"je", "le", "les", "de", "et", "est", "pas", "mon", "ma", "mes", "une", "un", "vous"}
    | {"pour", "que", "ne", "du", "des", "sur", "ai", "merci", "ce", "il"},
    "it": {"il", "di", "che", "non", "è", "mio", "mia", "per", "sono", "ho", "del", "della"}
    | {"da", "ancora", "mi", "lo", "gli", "nel", "un", "una", "grazie", "si", "ci"},
    "en": {"i", "the", "and", "is", "not", "my", "to", "it", "of", "you", "for", "have"}
    | {"was", "this", "can", "in", "me", "with", "please", "an", "don", "t", "s"},
}


def detect_language(text: str) -> str:
    tokens = words(text)
    scores = {lang: sum(tok in STOPWORDS[lang] for tok in tokens) for lang in LANGUAGES}
    return max(LANGUAGES, key=lambda lang: scores[lang])


def test_language_is_recognisable() -> None:
    rng = random.Random(12)
    hits = 0
    n = 800
    for _ in range(n):
        language = rng.choice(LANGUAGES)
        t = sample(rng, language=language, code_switch_rate=0.0)
        hits += detect_language(t.customer_text) == language
    assert hits / n >= 0.9, hits / n


def _foreign_markers(language: str) -> list[str]:
    text = LANGUAGE_TEXT[language]
    markers = list(text.cs_pre) + list(text.cs_post) + [foreign for _, foreign in text.cs_subs]
    for other in LANGUAGES:
        if other != language:
            markers += [s.rstrip(".!?") for s in LANGUAGE_TEXT[other].cs_sentences]
    return [m.lower() for m in markers]


def test_code_switch_flag_and_material() -> None:
    rng = random.Random(13)
    for i in range(300):
        language = LANGUAGES[i % 4]
        channel = CHANNELS[i % 3]
        on = sample(rng, language=language, channel=channel, code_switch_rate=1.0, typo_rate=0.0)
        off = sample(rng, language=language, channel=channel, code_switch_rate=0.0)
        assert on.code_switched and not off.code_switched
        if channel != "phone":  # fillers may split a borrowed sentence in speech
            text = on.customer_text.lower()
            assert any(m in text for m in _foreign_markers(language)), text


def test_code_switch_rate_is_per_transcript() -> None:
    rng = random.Random(14)
    flagged = sum(sample(rng, code_switch_rate=0.3).code_switched for _ in range(1000))
    assert 240 < flagged < 360


def test_no_typos_at_zero_rate_and_order_ids_survive_heavy_typos() -> None:
    rng = random.Random(15)
    for i in range(300):
        t = sample(rng, channel=CHANNELS[i % 3], typo_rate=0.0, customer_turns=1 + i % 3)
        assert t.typos == 0
    typos = 0
    for i in range(600):
        facts = random_facts(rng)
        channel = CHANNELS[i % 3]
        t = sample(
            rng,
            intent=ORDER_INTENTS[i % len(ORDER_INTENTS)],
            channel=channel,
            facts=facts,
            typo_rate=0.3,
            customer_turns=1 + i % 4,
        )
        assert facts.order_id and facts.order_id in t.customer_text, t.customer_text
        typos += t.typos
    assert typos > 1000


def test_each_typo_changes_one_word_by_one_letter() -> None:
    for seed in range(300):
        kwargs: dict[str, Any] = {
            "intent": INTENTS[seed % 22],
            "language": LANGUAGES[seed % 4],
            "channel": "chat",
            "frustration": (seed % 5) / 4,
            "urgency": "medium",
            "facts": random_facts(random.Random(seed)),
            "code_switch_rate": 0.3,
        }
        # In a single-turn chat the typo pass is the last thing drawn for the customer turn,
        # so the same seed without typos gives the same words before noise.
        clean = compose(random.Random(seed), typo_rate=0.0, **kwargs).turns[0].text.split(" ")
        noisy_t = compose(random.Random(seed), typo_rate=0.2, **kwargs)
        noisy = noisy_t.turns[0].text.split(" ")
        assert len(clean) == len(noisy)
        changed = [(a, b) for a, b in zip(clean, noisy, strict=True) if a != b]
        assert len(changed) == noisy_t.typos
        for a, b in changed:
            assert not any(ch.isdigit() for ch in a)
            assert abs(len(a) - len(b)) <= 1
            assert a[0] == b[0]  # inside the word: the first letter stays
            if len(a) == len(b):  # a swap of two neighbouring letters
                assert sorted(a) == sorted(b)


# --- property-based -------------------------------------------------------------------------------

facts_strategy = st.builds(
    Facts,
    first_name=st.sampled_from(NAMES),
    order_id=st.none() | st.from_regex(r"AM-20[0-9]{2}-[0-9]{6}", fullmatch=True),
    product=st.none() | st.sampled_from(PRODUCTS),
    amount_chf=st.none() | st.floats(min_value=0, max_value=5000, allow_nan=False),
    store_city=st.none() | st.sampled_from(CITIES),
    days_waiting=st.none() | st.integers(min_value=0, max_value=400),
)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64),
    intent=st.sampled_from(INTENTS),
    language=st.sampled_from(LANGUAGES),
    channel=st.sampled_from(CHANNELS),
    frustration=st.floats(min_value=0.0, max_value=1.0),
    urgency=st.sampled_from(URGENCIES),
    facts=facts_strategy,
    turns=st.integers(min_value=1, max_value=8),
    empathy=st.floats(min_value=0.0, max_value=1.0),
    typo_rate=st.floats(min_value=0.0, max_value=1.0),
    code_switch_rate=st.floats(min_value=0.0, max_value=1.0),
)
def test_any_input_gives_a_valid_transcript(
    seed: int,
    intent: str,
    language: str,
    channel: str,
    frustration: float,
    urgency: str,
    facts: Facts,
    turns: int,
    empathy: float,
    typo_rate: float,
    code_switch_rate: float,
) -> None:
    kwargs: dict[str, Any] = {
        "intent": intent,
        "language": language,
        "channel": channel,
        "frustration": frustration,
        "urgency": urgency,
        "facts": facts,
        "customer_turns": turns,
        "agent_empathy": empathy,
        "typo_rate": typo_rate,
        "code_switch_rate": code_switch_rate,
    }
    t = compose(random.Random(seed), **kwargs)
    check_structure(t, channel, language, turns)
    assert "{" not in t.text and "}" not in t.text  # every slot was filled
    if typo_rate == 0.0:
        assert t.typos == 0
    if code_switch_rate == 0.0:
        assert not t.code_switched
    if facts.order_id and intent in ORDER_INTENTS:
        assert facts.order_id in t.customer_text
    assert compose(random.Random(seed), **kwargs) == t


# --- speed ----------------------------------------------------------------------------------------


def test_fast_enough() -> None:
    rng = random.Random(17)
    facts = random_facts(rng)
    n = 3000
    start = time.perf_counter()
    for i in range(n):
        compose(
            rng,
            intent=INTENTS[i % 22],
            language=LANGUAGES[i % 4],
            channel="chat",
            frustration=0.5,
            urgency="medium",
            facts=facts,
        )
    per_call = (time.perf_counter() - start) / n
    assert per_call < 300e-6, f"{per_call * 1e6:.0f} us per single-turn chat"
