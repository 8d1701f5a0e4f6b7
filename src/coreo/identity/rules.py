"""Identity rules per workspace: which identifiers link profiles, and the limits.

The defaults suit a retailer with a web shop, stores and an ERP:

* ``user_id`` (a login) — at most one per profile, so two known people never merge;
* ``email`` up to five, ``phone`` up to five, ``loyalty_card`` up to three per profile;
* ``anonymous_id`` (a cookie) and ``device_id`` link freely, but one seen with more than
  ``shared_after_users`` different known users is *shared* (a family tablet) and links
  nothing any more;
* any other type (external ids such as ``erp_customer_no``) up to ten per profile.

A merge that would break a limit is refused and recorded with its reason; the event is
then attributed by its identifier of highest priority (lowest number).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_RULES", "IdentifierRule", "IdentityRules"]


class IdentifierRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    links: bool = Field(default=True, description="Whether this identifier merges profiles.")
    priority: int = Field(default=50, ge=0, le=1000, description="Lower wins on conflicts.")
    max_per_profile: int = Field(default=10, ge=1, le=10_000)
    device: bool = Field(
        default=False, description="A device or cookie: shared when seen with many users."
    )


class IdentityRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    types: dict[str, IdentifierRule] = Field(default_factory=dict)
    other: IdentifierRule = Field(
        default=IdentifierRule(priority=40, max_per_profile=10),
        description="Rule for identifier types not named in ``types`` (external ids).",
    )
    shared_after_users: int = Field(
        default=1,
        ge=1,
        le=100,
        description="A device seen with more known users than this is shared.",
    )

    @model_validator(mode="after")
    def _user_id_is_known(self) -> IdentityRules:
        if "user_id" not in self.types:
            raise ValueError("the rules must name user_id")
        return self

    def rule(self, kind: str) -> IdentifierRule:
        return self.types.get(kind, self.other)


DEFAULT_RULES = IdentityRules(
    types={
        "user_id": IdentifierRule(priority=10, max_per_profile=1),
        "email": IdentifierRule(priority=20, max_per_profile=5),
        "phone": IdentifierRule(priority=30, max_per_profile=5),
        "loyalty_card": IdentifierRule(priority=25, max_per_profile=3),
        "device_id": IdentifierRule(priority=80, max_per_profile=50, device=True),
        "anonymous_id": IdentifierRule(priority=90, max_per_profile=100, device=True),
    }
)
