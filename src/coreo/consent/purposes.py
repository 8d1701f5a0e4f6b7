"""The purposes personal data is used for, with their allowed legal bases and retention.

The taxonomy follows GDPR Art. 6 (legal bases) and the revDSG: ``necessary`` (providing
the service the person asked for), ``analytics``, ``personalisation`` (profiling),
``marketing`` per channel (e-mail, SMS, push, WhatsApp, phone, post), ``automated_decisions``
and ``third_party_sharing``. A purpose says which legal bases may carry it; when one of them
needs no consent (contract, legal obligation, legitimate interest) that basis applies
while the person has said nothing, and a withdrawal or objection still ends it.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CATEGORY_PURPOSES",
    "CHANNEL_PATTERN",
    "DEFAULT_PURPOSES",
    "DEFAULT_TAXONOMY",
    "LEGAL_BASES",
    "MARKETING_CHANNELS",
    "PURPOSE_PATTERN",
    "Channel",
    "LegalBasis",
    "Purpose",
    "Taxonomy",
]

LegalBasis = Literal["consent", "contract", "legitimate_interest", "legal_obligation"]
LEGAL_BASES: tuple[LegalBasis, ...] = (
    "consent",
    "contract",
    "legitimate_interest",
    "legal_obligation",
)
Channel = Literal["email", "sms", "push", "whatsapp", "phone", "post"]
MARKETING_CHANNELS: tuple[Channel, ...] = get_args(Channel)


PURPOSE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{0,19}$"


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=PURPOSE_PATTERN)
    description: str = Field(min_length=1, max_length=500)
    legal_bases: tuple[LegalBasis, ...] = Field(min_length=1)
    default_basis: LegalBasis | None = Field(
        default=None,
        description="The basis that applies while the person has said nothing (None: only "
        "a consent on record allows the purpose).",
    )
    channels: tuple[str, ...] = Field(
        default=(), description="Consent is given per channel (marketing).", max_length=20
    )
    direct_marketing: bool = Field(
        default=False,
        description="An objection to direct marketing (GDPR Art. 21(2)) ends it.",
    )
    retention_days: int = Field(ge=1, le=36_500)
    recipients: tuple[str, ...] = Field(
        default=(), description="Categories of recipients (GDPR Art. 13(1)(e), 30(1)(d))."
    )

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not re.fullmatch(CHANNEL_PATTERN, channel):
                raise ValueError(f"channel {channel!r}: lower-case letters, digits and _")
        if len(set(value)) != len(value):
            raise ValueError("a channel is named twice")
        return value

    @model_validator(mode="after")
    def _basis_allowed(self) -> Purpose:
        if self.default_basis is not None and self.default_basis not in self.legal_bases:
            raise ValueError(f"{self.name}: default_basis must be one of its legal_bases")
        if self.default_basis == "consent":
            raise ValueError(f"{self.name}: consent cannot apply while the person says nothing")
        return self


DEFAULT_PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose(
            name="necessary",
            description="Providing what the person asked for: orders, delivery, service.",
            legal_bases=("contract", "legal_obligation"),
            default_basis="contract",
            recipients=("payment providers", "logistics partners", "IT service providers"),
            retention_days=3_650,  # commercial records: ten years (OR Art. 958f)
        ),
        Purpose(
            name="analytics",
            description="Measuring and improving the shop and its services.",
            legal_bases=("consent", "legitimate_interest"),
            recipients=("IT service providers",),
            retention_days=395,
        ),
        Purpose(
            name="personalisation",
            description="Profiling to personalise content and offers.",
            legal_bases=("consent",),
            direct_marketing=True,
            retention_days=730,
        ),
        Purpose(
            name="marketing",
            description="Direct marketing, per channel.",
            legal_bases=("consent", "legitimate_interest"),
            channels=MARKETING_CHANNELS,
            direct_marketing=True,
            recipients=("e-mail, SMS and messaging delivery providers", "printing and mail houses"),
            retention_days=730,
        ),
        Purpose(
            name="automated_decisions",
            description="Decisions with legal or similarly significant effect made by models "
            "(GDPR Art. 22).",
            legal_bases=("consent", "contract"),
            retention_days=730,
        ),
        Purpose(
            name="third_party_sharing",
            description="Sharing or selling personal data to third parties.",
            legal_bases=("consent",),
            recipients=("advertising partners",),
            retention_days=365,
        ),
    )
}


CATEGORY_PURPOSES: dict[str, tuple[str, ...]] = {
    "analytics": ("analytics",),
    "performance": ("analytics",),
    "statistics": ("analytics",),
    "measurement": ("analytics",),
    "functional": ("personalisation",),
    "personalisation": ("personalisation",),
    "personalization": ("personalisation",),
    "preferences": ("personalisation",),
    # Advertising cookies send behaviour to ad platforms: sharing with third parties.
    "advertising": ("third_party_sharing",),
    "targeting": ("third_party_sharing",),
    "marketing": ("third_party_sharing",),
}
"""Consent-banner categories (lower-cased) → the purposes they decide."""


class Taxonomy(BaseModel):
    """A workspace's purposes and how its consent banner's categories map onto them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purposes: dict[str, Purpose] = Field(min_length=1, max_length=100)
    categories: dict[str, tuple[str, ...]] = Field(default_factory=dict, max_length=200)

    @field_validator("purposes", mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        """A YAML list of purposes is keyed by their names."""
        if isinstance(value, list):
            keyed: dict[str, Any] = {}
            for item in value:
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str):
                    raise ValueError("every purpose has a name")
                if name in keyed:
                    raise ValueError(f"purpose {name!r} is named twice")
                keyed[name] = item
            return keyed
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        for key, purpose in self.purposes.items():
            if key != purpose.name:
                raise ValueError(f"purpose {key!r} is named {purpose.name!r}")
        for category, names in self.categories.items():
            if category != category.strip().lower() or not category:
                raise ValueError(f"banner category {category!r}: lower case, no spaces around")
            for name in names:
                if name not in self.purposes:
                    raise ValueError(f"banner category {category!r} names no purpose {name!r}")
                if self.purposes[name].channels:
                    raise ValueError(
                        f"banner category {category!r}: {name} is given per channel, a banner "
                        "category cannot decide it"
                    )
        return self

    def purpose(self, name: str) -> Purpose | None:
        return self.purposes.get(name)

    def decisions(self) -> list[tuple[str, str | None]]:
        """Every (purpose, channel) a profile's current state is shown for."""
        return [(n, c) for n, p in self.purposes.items() for c in (p.channels or (None,))]


DEFAULT_TAXONOMY = Taxonomy(purposes=DEFAULT_PURPOSES, categories=CATEGORY_PURPOSES)
