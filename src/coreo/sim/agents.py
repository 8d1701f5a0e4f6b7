"""Service agents and the outcome of a contact, which depends on the customer-agent fit.

Each agent has observed attributes (languages, skill groups) and latent ones (empathy,
speed). The simulated company routes contacts like a plain queue: the next free agent who
speaks the customer's language, else anyone. Outcomes come from a model in which skill,
language, and empathy towards a frustrated customer matter, so a smarter router can learn
to do better than the queue.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["INTENT_GROUPS", "SKILL_GROUPS", "Agent", "Outcome", "build_agents", "resolve_contact"]

SKILL_GROUPS: tuple[str, ...] = ("orders", "payments", "products", "account", "privacy")

INTENT_GROUPS: dict[str, str] = {
    "delivery_status": "orders",
    "delivery_damaged": "orders",
    "return_request": "orders",
    "refund_status": "payments",
    "payment_failed": "payments",
    "double_charge": "payments",
    "cancel_order": "orders",
    "cancel_account": "account",
    "complaint_product": "products",
    "complaint_service": "account",
    "product_question": "products",
    "stock_availability": "products",
    "loyalty_points": "account",
    "voucher_problem": "payments",
    "address_change": "account",
    "login_problem": "account",
    "fraud_report": "privacy",
    "data_protection_request": "privacy",
    "invoice_request": "payments",
    "warranty_repair": "products",
    "store_opening_hours": "products",
    "newsletter_unsubscribe": "account",
}

# Intrinsic difficulty: how hard the intent is to resolve in one contact (0 easy .. 1 hard).
_DIFFICULTY: dict[str, float] = {
    "delivery_status": 0.1,
    "delivery_damaged": 0.5,
    "return_request": 0.3,
    "refund_status": 0.4,
    "payment_failed": 0.45,
    "double_charge": 0.55,
    "cancel_order": 0.3,
    "cancel_account": 0.35,
    "complaint_product": 0.6,
    "complaint_service": 0.7,
    "product_question": 0.2,
    "stock_availability": 0.1,
    "loyalty_points": 0.25,
    "voucher_problem": 0.35,
    "address_change": 0.1,
    "login_problem": 0.3,
    "fraud_report": 0.65,
    "data_protection_request": 0.5,
    "invoice_request": 0.1,
    "warranty_repair": 0.55,
    "store_opening_hours": 0.05,
    "newsletter_unsubscribe": 0.05,
}

# Median minutes an average agent needs, by channel.
_BASE_MINUTES = {"chat": 9.0, "email": 6.0, "phone": 7.5}


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    empathy: float  # latent, 0..1
    speed: float  # latent, > 0; 1 is average


@dataclass(frozen=True, slots=True)
class Outcome:
    agent_id: str
    resolved: bool
    transfers: int
    handle_seconds: int
    csat: int | None  # 1..5; None when the customer skipped the survey
    language_match: bool
    skill_match: bool


def build_agents(seed: int, count: int) -> tuple[Agent, ...]:
    """Return the service team: everyone speaks German, many French or English, few Italian."""
    rng = random.Random(f"agents:{seed}")
    agents = []
    for n in range(count):
        languages = ["de"]
        if rng.random() < 0.45:
            languages.append("fr")
        if rng.random() < 0.18:
            languages.append("it")
        if rng.random() < 0.6:
            languages.append("en")
        skills = [g for g in SKILL_GROUPS if rng.random() < 0.45] or [rng.choice(SKILL_GROUPS)]
        agents.append(
            Agent(
                id=f"A{n + 1:04d}",
                languages=tuple(languages),
                skills=tuple(skills),
                empathy=rng.betavariate(3, 2.5),
                speed=math.exp(rng.gauss(0, 0.25)),
            )
        )
    return tuple(agents)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def resolve_contact(
    rng: random.Random,
    agents: tuple[Agent, ...],
    *,
    intent: str,
    language: str,
    channel: str,
    frustration: float,
    repeat: bool,
) -> Outcome:
    """Route like a plain queue and draw the outcome from the customer-agent fit."""
    speakers = [a for a in agents if language in a.languages]
    agent = rng.choice(speakers or agents)
    group = INTENT_GROUPS[intent]
    skill_match = group in agent.skills
    language_match = language in agent.languages
    difficulty = _DIFFICULTY[intent]
    transfers = 0
    if not skill_match and rng.random() < 0.45:
        transfers = 1 + (rng.random() < 0.2)
    # The fit: skill and language help, empathy helps most with frustrated customers.
    logit = (
        1.6
        - 2.4 * difficulty
        + 1.1 * skill_match
        + 1.3 * language_match
        + 2.2 * (agent.empathy - 0.5) * frustration
        + 0.5 * (agent.speed - 1.0)
        - 0.9 * frustration
        - 0.5 * repeat
        - 0.4 * transfers
    )
    resolved = rng.random() < _sigmoid(logit)
    minutes = _BASE_MINUTES[channel] * (0.6 + difficulty) / agent.speed
    minutes *= (1.0 if skill_match else 1.35) * (1.0 if language_match else 1.5)
    minutes *= (1 + 0.6 * transfers) * math.exp(rng.gauss(0, 0.35))
    csat: int | None = None
    if rng.random() < 0.45:  # survey answered
        score = (
            2.6
            + 1.5 * resolved
            + 1.4 * (agent.empathy - 0.5) * (0.5 + frustration)
            - 1.2 * frustration
            - 0.4 * transfers
            + rng.gauss(0, 0.6)
        )
        csat = min(5, max(1, round(score)))
    return Outcome(
        agent_id=agent.id,
        resolved=resolved,
        transfers=transfers,
        handle_seconds=max(30, round(minutes * 60)),
        csat=csat,
        language_match=language_match,
        skill_match=skill_match,
    )
