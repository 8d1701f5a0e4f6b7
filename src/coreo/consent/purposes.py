"""The purposes personal data is used for, with their allowed legal bases and retention.

The taxonomy follows GDPR Art. 6 (legal bases) and the revDSG: ``necessary`` (providing
the service the person asked for), ``analytics``, ``personalisation`` (profiling),
``marketing`` per channel (e-mail, SMS, push, WhatsApp, phone, post), ``automated_decisions``
and ``third_party_sharing``. A purpose says which legal bases may carry it; when one of them
needs no consent (contract, legal obligation, legitimate interest) that basis applies
while the person has said nothing, and a withdrawal or objection still ends it.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_PURPOSES",
    "LEGAL_BASES",
    "MARKETING_CHANNELS",
    "Channel",
    "LegalBasis",
    "Purpose",
    "PurposeName",
    "purpose_named",
]

LegalBasis = Literal["consent", "contract", "legitimate_interest", "legal_obligation"]
LEGAL_BASES: tuple[LegalBasis, ...] = (
    "consent",
    "contract",
    "legitimate_interest",
    "legal_obligation",
)
PurposeName = Literal[
    "necessary",
    "analytics",
    "personalisation",
    "marketing",
    "automated_decisions",
    "third_party_sharing",
]
"""The purposes an API caller may name (``DEFAULT_PURPOSES``' keys)."""
Channel = Literal["email", "sms", "push", "whatsapp", "phone", "post"]
MARKETING_CHANNELS: tuple[Channel, ...] = get_args(Channel)


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    legal_bases: tuple[LegalBasis, ...] = Field(min_length=1)
    default_basis: LegalBasis | None = Field(
        default=None,
        description="The basis that applies while the person has said nothing (None: only "
        "a consent on record allows the purpose).",
    )
    channels: tuple[str, ...] = Field(
        default=(), description="Consent is given per channel (marketing)."
    )
    direct_marketing: bool = Field(
        default=False,
        description="An objection to direct marketing (GDPR Art. 21(2)) ends it.",
    )
    retention_days: int = Field(ge=1, le=36_500)
    recipients: tuple[str, ...] = Field(
        default=(), description="Categories of recipients (GDPR Art. 13(1)(e), 30(1)(d))."
    )


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


def purpose_named(name: str) -> Purpose | None:
    return DEFAULT_PURPOSES.get(name)
