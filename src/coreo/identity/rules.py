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

Where identifiers are read besides ``userId``, ``anonymousId``, ``previousId``,
``context.device.id`` and ``context.externalIds`` is configurable too (``sources``): by
default e-mail and phone from identify traits and every call's ``context.traits``, the
loyalty card from ``traits.loyaltyCard``, and the buyer's e-mail from a guest checkout's
``Order Completed`` properties. E-mail addresses are keyed by mailbox (``email_key``):
``Anna.Meier+shop@googlemail.com`` and ``annameier@gmail.com`` are one identifier.
Placeholder values (``ignore``) are never read, so a form's ``noemail@example.com`` does not
tie strangers together.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from coreo import yamltext
from coreo.errors import InvalidInputError, first_problem

__all__ = [
    "CALLS",
    "DEFAULT_RULES",
    "DEFAULT_SOURCES",
    "IdentifierRule",
    "IdentifierSource",
    "IdentityRules",
    "email_key",
    "load_rules",
]

Call = Literal["identify", "track", "page", "screen", "alias"]
CALLS: tuple[Call, ...] = ("identify", "track", "page", "screen", "alias")
"""The calls identifiers are read from (``group`` traits describe a company, not a person)."""
_TYPE = r"^[a-z][a-z0-9_]{0,63}$"
_PATH = r"^(traits|context\.traits|properties)(\.[A-Za-z0-9_$-]{1,64}){1,4}$"
IdentifierType = Annotated[str, StringConstraints(pattern=_TYPE)]


class IdentifierRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    links: bool = Field(default=True, description="Whether this identifier merges profiles.")
    priority: int = Field(default=50, ge=0, le=1000, description="Lower wins on conflicts.")
    max_per_profile: int = Field(default=10, ge=1, le=10_000)
    device: bool = Field(
        default=False, description="A device or cookie: shared when seen with many users."
    )

    @property
    def names_person(self) -> bool:
        """Whether it names a person (a login, an address: it links and is no device)."""
        return self.links and not self.device


class IdentifierSource(BaseModel):
    """A field of a message that carries an identifier of the person it is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(
        pattern=_PATH,
        description="Dotted path under traits, context.traits or properties, at most four "
        "names deep, e.g. properties.email.",
    )
    type: str = Field(pattern=_TYPE, description="The identifier type it holds.")
    calls: tuple[Call, ...] = Field(
        default=CALLS, min_length=1, description="The calls it is read from."
    )
    events: tuple[Annotated[str, StringConstraints(min_length=1, max_length=200)], ...] = Field(
        default=(),
        max_length=100,
        description="For track calls: only these event names (empty: every event).",
    )

    @property
    def path(self) -> list[str]:
        return self.field.split(".")


DEFAULT_SOURCES: tuple[IdentifierSource, ...] = (
    IdentifierSource(field="traits.email", type="email", calls=("identify",)),
    IdentifierSource(field="traits.phone", type="phone", calls=("identify",)),
    IdentifierSource(field="traits.loyaltyCard", type="loyalty_card", calls=("identify",)),
    IdentifierSource(field="context.traits.email", type="email"),
    IdentifierSource(field="context.traits.phone", type="phone"),
    IdentifierSource(field="context.traits.loyaltyCard", type="loyalty_card"),
    IdentifierSource(
        field="properties.email", type="email", calls=("track",), events=("Order Completed",)
    ),
)

_DEFAULT_TYPES = {
    "user_id": IdentifierRule(priority=10, max_per_profile=1),
    "email": IdentifierRule(priority=20, max_per_profile=5),
    "phone": IdentifierRule(priority=30, max_per_profile=5),
    "loyalty_card": IdentifierRule(priority=25, max_per_profile=3),
    "device_id": IdentifierRule(priority=80, max_per_profile=50, device=True),
    "anonymous_id": IdentifierRule(priority=90, max_per_profile=100, device=True),
}
_PLACEHOLDERS = {
    "email": (
        "noemail@example.com", "no@email.com", "noemail@noemail.com", "none@none.com",
        "test@test.com", "test@example.com", "unknown@unknown.com", "keine@keine.ch",
        "no-reply@example.com", "noreply@example.com",
    ),
    "phone": ("+41000000000", "+10000000000", "+4900000000", "0", "000000"),
}  # fmt: skip


class IdentityRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    types: dict[IdentifierType, IdentifierRule] = Field(
        default_factory=lambda: dict(_DEFAULT_TYPES),
        description="Rules per identifier type; user_id must be among them.",
        json_schema_extra={"required": ["user_id"]},
    )
    sources: tuple[IdentifierSource, ...] = Field(
        default=DEFAULT_SOURCES,
        max_length=100,
        description="Where identifiers are read besides userId, anonymousId, previousId, "
        "context.device.id and context.externalIds (replaces the defaults when given).",
    )
    email_key: Literal["mailbox", "exact"] = Field(
        default="mailbox",
        description="mailbox: sub-address (+tag) dropped, gmail dots and googlemail.com "
        "folded; exact: trimmed and lower-cased only.",
    )
    ignore: dict[
        IdentifierType,
        Annotated[
            tuple[Annotated[str, StringConstraints(max_length=300)], ...], Field(max_length=1000)
        ],
    ] = Field(
        default_factory=lambda: dict(_PLACEHOLDERS),
        description="Placeholder values per identifier type that are never read.",
    )
    other: IdentifierRule = Field(
        default=IdentifierRule(priority=40, max_per_profile=10),
        description="Rule for identifier types not named in ``types`` (external ids).",
    )
    devices_link_known: bool = Field(
        default=False,
        description="Whether a device or cookie may merge two profiles that each hold a "
        "person's identifier (login, e-mail, phone, card, external id).",
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

    @model_validator(mode="after")
    def _devices_come_last(self) -> IdentityRules:
        """A device is weighed only after the person's identifiers (the resolver keeps two
        known people apart when a device would link them, and needs them first)."""
        people = [(n, r) for n, r in self.types.items() if r.names_person]
        if self.other.names_person:
            people.append(("other", self.other))
        for name, rule in self.types.items():
            if not rule.device or not rule.links:
                continue
            for person, theirs in people:
                if rule.priority <= theirs.priority:
                    raise ValueError(
                        f"{name} is a device: its priority ({rule.priority}) must be above "
                        f"{person}'s ({theirs.priority}), after every person identifier"
                    )
        return self

    def rule(self, kind: str) -> IdentifierRule:
        return self.types.get(kind, self.other)

    @field_validator("ignore")
    @classmethod
    def _keyed(
        cls, value: dict[str, tuple[str, ...]], info: ValidationInfo
    ) -> dict[str, tuple[str, ...]]:
        """Placeholders keyed as identifiers are (e-mail by ``email_key``)."""
        mailbox = info.data.get("email_key", "mailbox") == "mailbox"
        return {
            kind: tuple(
                dict.fromkeys(
                    k
                    for v in values
                    if (k := email_key(v, mailbox=mailbox) if kind == "email" else v.strip())
                )
            )
            for kind, values in value.items()
        }

    def sources_of(self, call: str, event: Any) -> list[IdentifierSource]:
        """The sources read from a ``call`` (of ``event``, for track)."""
        return [
            source
            for source in self.sources
            if call in source.calls
            and (not source.events or call != "track" or event in source.events)
        ]

    def ignores(self, kind: str, key: str) -> bool:
        """Whether a keyed value is one of the placeholders that are never read."""
        return key in self.ignore.get(kind, ())

    def key(self, kind: str, text: str) -> str | None:
        """The value an identifier of type ``kind`` is keyed by (None: not one). E-mail
        addresses need a local part and a domain, and are keyed as ``email_key`` says."""
        if kind != "email":
            return text
        return email_key(text, mailbox=self.email_key == "mailbox")


_GMAIL = frozenset({"gmail.com", "googlemail.com"})


_NOT_IN_ADDRESS = frozenset('"<>,;:()[]\\@')  # quoted, bracketed, listed: not one mailbox


def email_key(address: str, *, mailbox: bool = True) -> str | None:
    """``address`` trimmed and lower-cased, its domain in ASCII (IDNA); with ``mailbox``,
    also without a sub-address (``+tag``), and for Gmail without dots in the local part and
    with googlemail.com as gmail.com. None when it is not one plain address: no local part
    or domain, blanks or invisible characters, a second ``@``, quotes, brackets, lists.
    """
    text = address.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return None
    if any(c in _NOT_IN_ADDRESS or not c.isprintable() or c.isspace() for c in local + domain):
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if mailbox:
        local = local.split("+", 1)[0] or local
        if domain in _GMAIL:
            local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"


DEFAULT_RULES = IdentityRules()


def load_rules(text: str) -> IdentityRules:
    """Identity rules from YAML or JSON (as ``GET /v1/identity/rules`` shows them under
    ``rules``, or that whole answer); InvalidInputError says what is wrong, in one line."""
    try:
        data = yamltext.parse(text)
    except yamltext.YamlError as error:
        raise InvalidInputError(str(error)) from None
    if isinstance(data, dict) and isinstance(data.get("rules"), dict):
        data = data["rules"]
    if not isinstance(data, dict):
        raise InvalidInputError("expected a mapping of identity rules (types:, sources:, ...)")
    try:
        return IdentityRules.model_validate(data)
    except ValidationError as error:
        raise InvalidInputError(first_problem(error)) from None
