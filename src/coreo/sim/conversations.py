"""The text of customer-service contacts: chats, e-mails and phone transcripts.

:func:`compose` turns a labelled contact (intent, language, channel, latent frustration,
urgency, the agent's latent empathy) into a :class:`Transcript` whose wording reflects those
labels in a learnable but noisy way, so that intent classifiers, sentiment and urgency
models, and a skills-based router can be trained and evaluated on it.

A customer message is composed from parts: an optional greeting (register depends on the
channel), an optional context sentence mentioning a known fact (order number, product,
store, amount, waiting time), the core request drawn from several paraphrase frames per
intent, an optional detail sentence, optional emotion and urgency sentences, an optional
closing. Frustration adds exclamation marks, CAPS, "schon wieder"/"inacceptable" style
sentences and threats to leave; urgency adds deadlines. Noise: typos (never inside order
numbers), lower-case chat, dropped punctuation, code-switching into another Swiss language
or English, and for phone calls fillers, repetitions and ``[inaudible]`` markers. Agent
turns are in the same language; their wording reflects ``agent_empathy`` (curt and
formulaic when low; apologising, acknowledging and using the customer's name when high).

Typos are injected into written channels only (chat, e-mail); a phone transcript has
speech-recognition artefacts instead.

Determinism: every random choice comes from the ``rng`` passed in, in a fixed order; no
global ``random``, no clock, no ``hash()``, no iteration over sets. The same rng state gives
the same transcript in any process. Phrase tables live in :mod:`coreo.sim._phrases`.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass

from coreo.sim._phrases import INTENT_TEXT, LANGUAGE_TEXT, LanguageText, Tiered

__all__ = [
    "CHANNELS",
    "INTENTS",
    "LANGUAGES",
    "URGENCIES",
    "Facts",
    "Transcript",
    "Turn",
    "compose",
]

INTENTS: tuple[str, ...] = (
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
LANGUAGES: tuple[str, ...] = ("de", "fr", "it", "en")
CHANNELS: tuple[str, ...] = ("chat", "email", "phone")
URGENCIES: tuple[str, ...] = ("low", "medium", "high")
MAX_CUSTOMER_TURNS = 8


@dataclass(frozen=True, slots=True)
class Facts:
    """Slot values the text may mention; ``None`` means the customer does not know it."""

    first_name: str
    order_id: str | None = None  # e.g. "AM-2025-104233"
    product: str | None = None  # e.g. "Trekking-Rucksack 40 L"
    amount_chf: float | None = None
    store_city: str | None = None
    days_waiting: int | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str  # "customer" | "agent"
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    channel: str
    language: str
    subject: str | None  # e-mail only
    turns: tuple[Turn, ...]
    code_switched: bool  # whether any foreign-language material was inserted
    typos: int  # how many typos were injected

    @property
    def customer_text(self) -> str:
        """All customer turns, one per line (what a classifier of the request sees)."""
        return "\n".join(t.text for t in self.turns if t.speaker == "customer")

    @property
    def text(self) -> str:
        """Subject (if any) and every turn, one per line."""
        lines = [t.text for t in self.turns]
        if self.subject is not None:
            lines.insert(0, self.subject)
        return "\n".join(lines)


# --- compiled phrase tables ---------------------------------------------------------------------

_ORDER, _PRODUCT, _AMOUNT, _STORE, _DAYS = 1, 2, 4, 8, 16
_FACT_BITS: dict[str, int] = {
    "order": _ORDER,
    "product": _PRODUCT,
    "amount": _AMOUNT,
    "store": _STORE,
    "days": _DAYS,
}

_Frame = tuple[str, int]  # (template, bit mask of the facts it needs)
_Frames = tuple[_Frame, ...]


def _needs(template: str) -> int:
    mask = 0
    for _literal, field, _spec, _conversion in string.Formatter().parse(template):
        if field:
            mask |= _FACT_BITS.get(field, 0)
    return mask


def _frames(templates: tuple[str, ...]) -> _Frames:
    return tuple((t, _needs(t)) for t in templates)


@dataclass(frozen=True, slots=True)
class _IntentFrames:
    core: _Frames
    detail: _Frames
    subject: _Frames
    topic: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _LanguageFrames:
    context: dict[str, _Frames]
    info_order: _Frames  # follow-ups that give the order number
    subject_generic: _Frames


_INTENT_FRAMES: dict[str, dict[str, _IntentFrames]] = {
    lang: {
        intent: _IntentFrames(
            _frames(text.core), _frames(text.detail), _frames(text.subject), text.topic
        )
        for intent, text in by_intent.items()
    }
    for lang, by_intent in INTENT_TEXT.items()
}
_LANGUAGE_FRAMES: dict[str, _LanguageFrames] = {
    lang: _LanguageFrames(
        {key: _frames(templates) for key, templates in text.context.items()},
        tuple(f for f in _frames(text.fu_info) if f[1] == _ORDER),
        _frames(text.subject_generic),
    )
    for lang, text in LANGUAGE_TEXT.items()
}
_OTHER_LANGUAGES: dict[str, tuple[str, ...]] = {
    lang: tuple(other for other in LANGUAGES if other != lang) for lang in LANGUAGES
}

# Which facts a customer with this intent tends to mention first (most relevant first).
_INTENT_FACTS: dict[str, tuple[str, ...]] = {
    "delivery_status": ("order", "days"),
    "delivery_damaged": ("order", "product"),
    "return_request": ("order", "product"),
    "refund_status": ("order", "amount", "days"),
    "payment_failed": ("order", "amount"),
    "double_charge": ("amount", "order"),
    "cancel_order": ("order", "product"),
    "cancel_account": (),
    "complaint_product": ("product", "order"),
    "complaint_service": ("store",),
    "product_question": ("product",),
    "stock_availability": ("product", "store"),
    "loyalty_points": ("amount", "store"),
    "voucher_problem": ("order", "amount"),
    "address_change": ("order",),
    "login_problem": (),
    "fraud_report": ("amount", "order"),
    "data_protection_request": (),
    "invoice_request": ("order", "amount"),
    "warranty_repair": ("product", "store"),
    "store_opening_hours": ("store",),
    "newsletter_unsubscribe": (),
}
# Intents for which the order number matters: it is always mentioned when known, and the
# agent asks for it when it has not been given.
_ORDER_INTENTS: frozenset[str] = frozenset(
    (
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
)
# Requests that are not complaints: agents apologise less.
_NEUTRAL_INTENTS: frozenset[str] = frozenset(
    (
        "product_question",
        "stock_availability",
        "store_opening_hours",
        "invoice_request",
        "address_change",
        "newsletter_unsubscribe",
        "data_protection_request",
    )
)
_PUNCT = ".,!?:;"


# --- small helpers ------------------------------------------------------------------------------


def _choice(rng: random.Random, seq: tuple[str, ...]) -> str:
    return seq[int(rng.random() * len(seq))]


def _pick(rng: random.Random, frames: _Frames, available: int) -> _Frame | None:
    usable = [f for f in frames if not f[1] & ~available]
    if not usable:
        return None
    return usable[int(rng.random() * len(usable))]


def _decap(s: str) -> str:
    """Lower-case the first letter unless the first word is an acronym or an order number."""
    if len(s) > 1 and s[0].isupper() and not s[1].isupper():
        return s[0].lower() + s[1:]
    return s


def _lower_keep_caps(s: str) -> str:
    """Lower-case a sentence but keep shouted words and order numbers as they are."""
    return " ".join(w if w.isupper() else w.lower() for w in s.split(" "))


def _shout(rng: random.Random, s: str) -> str:
    words = s.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return s
    i = candidates[int(rng.random() * len(candidates))]
    words[i] = words[i].upper()
    return " ".join(words)


def _typo_word(rng: random.Random, word: str) -> str:
    """Swap, drop or double a letter inside a purely alphabetic word (else unchanged)."""
    core = word.rstrip(_PUNCT)
    n = len(core)
    if n < 4 or not core.isalpha():
        return word
    tail = word[n:]
    op = rng.random()
    if op < 0.4:
        j = 1 + int(rng.random() * (n - 3))  # 1 .. n-3: swap j and j+1, keep the last letter
        if core[j] != core[j + 1]:
            return core[:j] + core[j + 1] + core[j] + core[j + 2 :] + tail
        op = 1.0  # swapping equal letters changes nothing: double instead
    j = 1 + int(rng.random() * (n - 2))  # 1 .. n-2
    if op < 0.7:
        return core[:j] + core[j + 1 :] + tail
    return core[: j + 1] + core[j:] + tail


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")


# --- the composer -------------------------------------------------------------------------------


class _Composer:
    """State of one transcript being composed; every method draws from ``rng`` in order."""

    __slots__ = (
        "asked_order",
        "available",
        "channel",
        "code_switch",
        "code_switched",
        "empathy",
        "frustration",
        "iframes",
        "intent",
        "lang",
        "language",
        "lframes",
        "order_given",
        "order_intent",
        "rng",
        "slots",
        "typo_rate",
        "typos",
        "urgency",
    )

    def __init__(
        self,
        rng: random.Random,
        intent: str,
        language: str,
        channel: str,
        frustration: float,
        urgency: str,
        facts: Facts,
        empathy: float,
        typo_rate: float,
        code_switch_rate: float,
    ) -> None:
        self.rng = rng
        self.intent = intent
        self.language = language
        self.lang: LanguageText = LANGUAGE_TEXT[language]
        self.iframes = _INTENT_FRAMES[language][intent]
        self.lframes = _LANGUAGE_FRAMES[language]
        self.channel = channel
        self.frustration = frustration
        self.urgency = urgency
        self.empathy = empathy
        self.typo_rate = typo_rate
        self.typos = 0
        self.code_switch = rng.random() < code_switch_rate
        self.code_switched = False
        self.asked_order = False
        self.order_given = False

        available = 0
        slots = {"order": "", "product": "", "amount": "", "store": "", "days": ""}
        if facts.order_id:
            available |= _ORDER
            slots["order"] = facts.order_id
        if facts.product:
            available |= _PRODUCT
            slots["product"] = facts.product
        if facts.amount_chf is not None and math.isfinite(facts.amount_chf):
            available |= _AMOUNT
            slots["amount"] = f"{facts.amount_chf:.2f}"
        if facts.store_city:
            available |= _STORE
            slots["store"] = facts.store_city
        if facts.days_waiting is not None and facts.days_waiting >= 2:
            available |= _DAYS
            slots["days"] = str(facts.days_waiting)
        slots["name"] = facts.first_name
        slots["agent"] = _choice(rng, self.lang.agent_names)
        slots["deadline"] = _choice(rng, self.lang.deadlines)
        slots["topic"] = _choice(rng, self.iframes.topic)
        self.slots = slots
        self.available = available
        self.order_intent = intent in _ORDER_INTENTS

    # -- building blocks -------------------------------------------------------------------------

    def _fill(self, template: str) -> str:
        return template.format_map(self.slots) if "{" in template else template

    def _say(self, table: tuple[str, ...]) -> str:
        return self._fill(_choice(self.rng, table))

    def _tier(self) -> int:
        rng = self.rng
        u = self.empathy + (rng.random() - 0.5) * 0.4
        return 0 if u < 0.34 else (2 if u > 0.66 else 1)

    def _emotions(self) -> list[str]:
        rng, lang = self.rng, self.lang
        u = self.frustration + (rng.random() - 0.5) * 0.3
        if u < 0.35:
            return [_choice(rng, lang.polite)] if rng.random() < 0.45 else []
        if u < 0.65:
            return [_choice(rng, lang.annoyed)] if rng.random() < 0.6 else []
        out = [_choice(rng, lang.angry)] if rng.random() < 0.9 else []
        if rng.random() < 0.4:
            second = _choice(rng, lang.angry)
            if second not in out:
                out.append(second)
        return out

    def _urgency_sentence(self) -> str | None:
        rng, lang = self.rng, self.lang
        if self.urgency == "high":
            return self._say(lang.urgency_high) if rng.random() < 0.9 else None
        if self.urgency == "medium":
            return self._say(lang.urgency_medium) if rng.random() < 0.55 else None
        return self._say(lang.urgency_low) if rng.random() < 0.12 else None

    def _context(self, core_mask: int) -> tuple[str | None, int]:
        """A context sentence (and the facts it mentions) that complements the core frame."""
        rng = self.rng
        if self.order_intent and self.available & _ORDER and not core_mask & _ORDER:
            key = "order"  # an order-related request always carries the known order number
        else:
            keys = [
                k
                for k in _INTENT_FACTS[self.intent]
                if self.available & _FACT_BITS[k] and not core_mask & _FACT_BITS[k]
            ]
            if keys and rng.random() < 0.65:
                key = keys[0] if rng.random() < 0.6 else keys[int(rng.random() * len(keys))]
            elif rng.random() < 0.3:
                key = "none"
            else:
                return None, 0
        frame = _pick(rng, self.lframes.context[key], self.available)
        if frame is None:
            return None, 0
        return self._fill(frame[0]), frame[1]

    def _greeting(self) -> str | None:
        rng, lang = self.rng, self.lang
        if self.channel == "phone":
            return self._say(lang.phone_open) if rng.random() < 0.85 else None
        if self.channel == "email":
            if rng.random() < 0.08 + 0.15 * self.frustration:
                return None
            return _choice(rng, lang.greet_formal if rng.random() < 0.6 else lang.greet_casual)
        if rng.random() < 0.6 - 0.3 * self.frustration:
            return _choice(rng, lang.greet_casual) + _choice(rng, ("!", "", "."))
        return None

    # -- customer turns --------------------------------------------------------------------------

    def _opening(self, n_turns: int) -> tuple[list[str], list[tuple[str, list[str]]], str | None]:
        """First message's sentences, later (kind, sentences) chunks, and the e-mail greeting."""
        rng = self.rng
        core_frame = _pick(rng, self.iframes.core, self.available)
        if core_frame is None:  # cannot happen with the shipped tables (tested)
            raise RuntimeError(f"no usable core frame for {self.intent}/{self.language}")
        core = self._fill(core_frame[0])
        context, context_mask = self._context(core_frame[1])
        if (core_frame[1] | context_mask) & _ORDER:
            self.order_given = True
        detail_frame = (
            _pick(rng, self.iframes.detail, self.available) if rng.random() < 0.6 else None
        )
        detail = self._fill(detail_frame[0]) if detail_frame else None
        emotions = self._emotions()
        urgency = self._urgency_sentence()
        greeting = self._greeting()
        context_first = rng.random() < 0.7

        if self.channel == "email":
            email_greeting, greeting = greeting, None
        else:
            email_greeting = None
        split = n_turns > 1 and self.channel != "email"
        deferred: str | None = None
        if split and context is not None and rng.random() < 0.6:
            deferred, context = context, None
            if context_mask & _ORDER and not core_frame[1] & _ORDER:
                self.order_given = False

        first: list[str] = [greeting] if greeting else []
        if context is not None and context_first:
            first.append(context)
        if emotions and rng.random() < 0.25:  # angry customers sometimes lead with it
            first.append(emotions.pop(0))
        first.append(core)
        if context is not None and not context_first:
            first.append(context)

        rest: list[str] = ([detail] if detail else []) + emotions + ([urgency] if urgency else [])
        if not split:
            first.extend(rest)
            if self.channel == "chat" and rng.random() < 0.35:
                first.append(_choice(rng, self.lang.close_chat))
            return first, [], email_greeting

        later: list[tuple[str, list[str]]] = []
        if deferred is not None:
            later.append(("info", [deferred]))
        if detail:
            later.append(("detail", [detail]))
        tail = emotions + ([urgency] if urgency else [])
        if tail:
            later.append(("emotion", tail))
        return first, later, email_greeting

    def _followup(self, k: int) -> tuple[str, list[str]]:
        rng, lang = self.rng, self.lang
        f = self.frustration
        p_escalate = min(0.95, f * (0.25 + 0.2 * (k - 1)))
        r = rng.random()
        if r < p_escalate:
            out = [_choice(rng, lang.fu_escalate)]
            if rng.random() < f * 0.5:
                out.append(_choice(rng, lang.angry))
            return "escalate", out
        if r < p_escalate + 0.3:
            out = [_choice(rng, lang.fu_unresolved)]
            if rng.random() < 0.3:
                frame = _pick(rng, self.iframes.detail, self.available)
                if frame is not None:
                    out.append(self._fill(frame[0]))
            return "unresolved", out
        return "ack", [_choice(rng, lang.fu_ack)]

    def _code_switch(self, sentences: list[str]) -> list[str]:
        rng, lang = self.rng, self.lang
        out = list(sentences)
        self.code_switched = True
        r = rng.random()
        if r < 0.25:  # a whole sentence in a second language
            others = _OTHER_LANGUAGES[self.language]
            borrowed = _choice(rng, LANGUAGE_TEXT[_choice(rng, others)].cs_sentences)
            out.insert(1 + int(rng.random() * len(out)), borrowed)
            return out
        if r < 0.45:  # swap a native word for the one Swiss speakers borrow
            for native, foreign in lang.cs_subs:
                for i, s in enumerate(out):
                    if native in s:
                        out[i] = s.replace(native, foreign, 1)
                        return out
        if rng.random() < 0.5:
            i = int(rng.random() * len(out))
            out[i] = f"{_choice(rng, lang.cs_pre)}, {_decap(out[i])}"
        else:
            out.append(_choice(rng, lang.cs_post) + _choice(rng, ("", "!", ".")))
        return out

    def _intensify(self, sentences: list[str], caps: bool) -> list[str]:
        """Exclamation marks and shouted words, both driven by frustration."""
        rng, f = self.rng, self.frustration
        out = sentences
        if f > 0.3:
            p = (f - 0.3) * 1.1
            out = []
            for s in sentences:
                if s and rng.random() < p:
                    if s[-1] == ".":
                        s = s[:-1] + ("!!!" if f > 0.75 and rng.random() < 0.35 else "!")
                    elif s[-1] == "?":
                        s += "?" if rng.random() < 0.5 else "!"
                out.append(s)
        if caps and f > 0.5 and rng.random() < (f - 0.5) * 1.6:
            i = int(rng.random() * len(out))
            out[i] = _shout(rng, out[i])
        return out

    def _typo(self, text: str) -> str:
        rate = self.typo_rate
        if rate <= 0.0:
            return text
        rng = self.rng
        words = text.split(" ")
        n = len(words)
        # Geometric skipping: exactly a per-word Bernoulli(rate), one draw per typo.
        log_q = math.log1p(-rate) if rate < 1.0 else 0.0

        def gap() -> int:
            if not log_q:
                return 0
            g = math.log(1.0 - rng.random()) / log_q  # may be inf for a tiny rate
            return n if g >= n else int(g)

        i = gap()
        while i < n:
            w = words[i]
            changed = _typo_word(rng, w)
            if changed != w:
                words[i] = changed
                self.typos += 1
            i += 1 + gap()
        return " ".join(words)

    def _speak(self, sentences: list[str]) -> str:
        """Spoken style: fillers, repeated short words, an occasional [inaudible]."""
        rng, fillers = self.rng, self.lang.fillers
        out: list[str] = []
        for w in " ".join(sentences).split(" "):
            r = rng.random()
            if r < 0.08:
                out.append(_choice(rng, fillers))
            elif r < 0.11 and len(w) <= 4 and w.isalpha():
                out.append(w)
            out.append(w)
        if rng.random() < 0.3:
            i = int(rng.random() * len(out))
            if out[i].rstrip(_PUNCT).isalpha():
                out[i] = "[inaudible]"
        if rng.random() < 0.15:
            out.append("...")
        return " ".join(out)

    def _customer(self, sentences: list[str], k: int, email_greeting: str | None) -> str:
        rng = self.rng
        if self.code_switch and (k == 1 or rng.random() < 0.3):
            sentences = self._code_switch(sentences)
        channel = self.channel
        if channel == "phone":
            return self._speak(self._intensify(sentences, caps=False))
        if channel == "chat":
            mode = rng.random()
            if mode < 0.45:
                sentences = [_lower_keep_caps(s) for s in sentences]
            elif mode < 0.7:
                sentences = [_decap(s) for s in sentences]
            sentences = self._intensify(sentences, caps=True)
            if rng.random() < 0.45:
                sentences = [s[:-1] if s.endswith(".") else s for s in sentences]
            return self._typo(" ".join(sentences))
        sentences = self._intensify(sentences, caps=True)
        if len(sentences) >= 4 and rng.random() < 0.5:
            half = len(sentences) // 2
            body = " ".join(sentences[:half]) + "\n\n" + " ".join(sentences[half:])
        else:
            body = " ".join(sentences)
        body = self._typo(body)
        signoff = self._say(self.lang.signoff)
        if email_greeting:
            return f"{email_greeting},\n\n{body}\n\n{signoff}"
        return f"{body}\n\n{signoff}"

    # -- agent turns -----------------------------------------------------------------------------

    def _agent_say(self, table: Tiered, tier: int) -> str:
        options = table[tier] or table[1]
        return self._fill(_choice(self.rng, options))

    def _agent(self, k: int, n_turns: int, kind: str) -> str:
        rng, lang = self.rng, self.lang
        tier = self._tier()
        self.slots["topic"] = _choice(rng, self.iframes.topic)
        last = k == n_turns
        parts: list[str] = []
        promised = asked = False
        if k == 1:
            if rng.random() < (0.5, 0.8, 0.9)[tier]:
                parts.append(self._agent_say(lang.a_ack, tier))
            complaint = self.frustration > 0.35 or self.intent not in _NEUTRAL_INTENTS
            if tier and complaint and rng.random() < (0.0, 0.45, 0.9)[tier]:
                parts.append(self._agent_say(lang.a_sorry, tier))
            parts.append(self._agent_say(lang.a_action, tier))
            if self.order_intent and not self.order_given and not self.asked_order:
                parts.append(self._agent_say(lang.a_ask_order, tier))
                self.asked_order = asked = True
            elif not last and rng.random() < 0.35:
                parts.append(self._agent_say(lang.a_ask_detail, tier))
                asked = True
            elif last or rng.random() < 0.5:
                parts.append(self._agent_say(lang.a_promise, tier))
                promised = True
        else:
            if kind == "escalate":
                parts.append(self._agent_say(lang.a_escalated, tier))
            elif kind == "info":
                parts.append(self._agent_say(lang.a_thanks_info, tier))
                parts.append(self._agent_say(lang.a_action, tier))
            elif kind == "unresolved" and tier and rng.random() < 0.7:
                parts.append(self._agent_say(lang.a_sorry, tier))
            if not last and rng.random() < 0.5:
                parts.append(self._agent_say(lang.a_wait, tier))
            elif not parts or last:
                parts.append(self._agent_say(lang.a_promise, tier))
                promised = True
        if last and not (promised or asked) and rng.random() < 0.6:
            parts.append(self._agent_say(lang.a_promise, tier))
        if last and not asked and rng.random() < 0.75:  # a question is not a goodbye
            parts.append(self._agent_say(lang.a_close, tier))
        body = " ".join(parts)
        if self.channel == "email":
            greet = self._agent_say(lang.a_email_greet, tier)
            sign = self._agent_say(lang.a_email_sign, tier)
            return f"{greet},\n\n{body}\n\n{sign}"
        return body

    def _subject(self) -> str:
        rng, lang = self.rng, self.lang
        table = self.iframes.subject if rng.random() < 0.75 else self.lframes.subject_generic
        frame = _pick(rng, table, self.available) or _pick(rng, self.iframes.subject, 0)
        subject = self._fill(frame[0]) if frame else ""
        if self.urgency == "high" and rng.random() < 0.5:
            subject = _choice(rng, lang.subject_urgent) + subject
        elif self.frustration > 0.7 and rng.random() < 0.35:
            subject = _choice(rng, lang.subject_angry) + subject
        if rng.random() < 0.15:
            subject = _lower_keep_caps(subject)
        return subject

    # -- the whole contact -----------------------------------------------------------------------

    def run(self, n_turns: int) -> Transcript:
        rng, lang = self.rng, self.lang
        turns: list[Turn] = []
        subject = self._subject() if self.channel == "email" else None
        if self.channel == "phone":
            turns.append(Turn("agent", self._agent_say(lang.a_phone_open, self._tier())))
        first, later, email_greeting = self._opening(n_turns)
        for k in range(1, n_turns + 1):
            if k == 1:
                kind, sentences = "opening", first
            elif later:
                kind, sentences = later.pop(0)
                if k == n_turns:  # last turn: say everything still pending
                    for _kind, more in later:
                        sentences = sentences + more
                    later = []
            else:
                kind, sentences = self._followup(k)
            if kind == "info" and sentences and self.available & _ORDER:
                self.order_given = True
            if k > 1 and self.asked_order and not self.order_given:
                if self.available & _ORDER:
                    frame = _pick(rng, self.lframes.info_order, self.available)
                    if frame is not None:
                        sentences = [self._fill(frame[0]), *sentences]
                        kind = "info"
                        self.order_given = True
                else:
                    sentences = [_choice(rng, lang.fu_noinfo), *sentences]
                    self.asked_order = False  # do not ask again
                    self.order_intent = False
            greeting = email_greeting
            if self.channel == "email" and k > 1:
                greeting = _choice(rng, lang.greet_formal) if rng.random() < 0.6 else None
                sentences = [_choice(rng, lang.email_followup), *sentences]
            turns.append(Turn("customer", self._customer(sentences, k, greeting)))
            turns.append(Turn("agent", self._agent(k, n_turns, kind)))
        return Transcript(
            channel=self.channel,
            language=self.language,
            subject=subject,
            turns=tuple(turns),
            code_switched=self.code_switched,
            typos=self.typos,
        )


def compose(
    rng: random.Random,
    *,
    intent: str,
    language: str,
    channel: str,
    frustration: float,
    urgency: str,
    facts: Facts,
    customer_turns: int = 1,
    agent_empathy: float = 0.5,
    typo_rate: float = 0.02,
    code_switch_rate: float = 0.1,
) -> Transcript:
    """Compose the text of one customer-service contact.

    ``frustration`` (0..1, latent) drives tone, ``urgency`` ("low"/"medium"/"high") drives
    deadlines and "dringend/urgent/subito/asap"; ``customer_turns`` (1..8) is the number of
    customer messages, each answered by the agent (a phone call also opens with the agent's
    greeting). ``typo_rate`` is a per-word probability (written channels only),
    ``code_switch_rate`` a per-transcript probability of foreign-language material.
    Uses only ``rng``: the same rng state gives the same transcript in any process.
    """
    if intent not in _INTENT_FACTS:
        raise ValueError(f"unknown intent {intent!r}; expected one of: {', '.join(INTENTS)}")
    if language not in LANGUAGE_TEXT:
        raise ValueError(f"unknown language {language!r}; expected one of: {', '.join(LANGUAGES)}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of: {', '.join(CHANNELS)}")
    if urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {urgency!r}; expected one of: {', '.join(URGENCIES)}")
    if (
        isinstance(customer_turns, bool)
        or not isinstance(customer_turns, int)
        or not 1 <= customer_turns <= MAX_CUSTOMER_TURNS
    ):
        raise ValueError(f"customer_turns must be 1..{MAX_CUSTOMER_TURNS}, got {customer_turns!r}")
    _check_unit("frustration", frustration)
    _check_unit("agent_empathy", agent_empathy)
    _check_unit("typo_rate", typo_rate)
    _check_unit("code_switch_rate", code_switch_rate)
    composer = _Composer(
        rng,
        intent,
        language,
        channel,
        frustration,
        urgency,
        facts,
        agent_empathy,
        typo_rate,
        code_switch_rate,
    )
    return composer.run(customer_turns)
