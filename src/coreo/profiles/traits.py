"""Trait schema and survivorship: which value of a trait a profile keeps.

* ``most_recent`` (default): the value observed last (by event time);
* ``first_seen``: the first value ever observed;
* ``most_trusted``: the value from the most trusted source (``sources``, most trusted
  first; unlisted sources rank below listed ones), ties broken by recency.

Traits marked ``personal`` hold personal data (GDPR Art. 4(1)); the governance layer
encrypts and erases them through this marking. ``category`` names the data category.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_SCHEMA", "TraitRule", "TraitSchema", "wins"]

Survivorship = Literal["most_recent", "first_seen", "most_trusted"]
Category = Literal[
    "contact",
    "identifiers",
    "demographic",
    "behavioural",
    "transactional",
    "preferences",
    "inferred",
    "other",
]


class TraitRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    survivorship: Survivorship = "most_recent"
    sources: list[str] = Field(default_factory=list, description="Most trusted first.")
    personal: bool = False
    category: Category = "other"


class TraitSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    traits: dict[str, TraitRule] = Field(default_factory=dict)
    default: TraitRule = TraitRule()

    def rule(self, name: str) -> TraitRule:
        return self.traits.get(name) or self.traits.get(name.split(".", 1)[0]) or self.default


_CONTACT = TraitRule(personal=True, category="contact")
_MASTER = TraitRule(
    survivorship="most_trusted", sources=["erp", "crm"], personal=True, category="demographic"
)
DEFAULT_SCHEMA = TraitSchema(
    traits={
        "email": _CONTACT,
        "phone": _CONTACT,
        "address": _CONTACT,
        "firstName": _MASTER,
        "lastName": _MASTER,
        "name": _MASTER,
        "salutation": _MASTER,
        "birthday": _MASTER,
        "gender": _MASTER,
        "language": TraitRule(category="preferences"),
        "createdAt": TraitRule(survivorship="first_seen"),
    }
)


def wins(
    rule: TraitRule,
    *,
    new_source: str,
    new_at: datetime,
    old_source: str,
    old_at: datetime,
) -> bool:
    """Whether a value observed at ``new_at`` from ``new_source`` replaces the kept one."""
    if rule.survivorship == "first_seen":
        return new_at < old_at
    if rule.survivorship == "most_trusted":
        rank = {s: n for n, s in enumerate(rule.sources)}
        new_rank = rank.get(new_source, len(rank))
        old_rank = rank.get(old_source, len(rank))
        if new_rank != old_rank:
            return new_rank < old_rank
    return new_at >= old_at
