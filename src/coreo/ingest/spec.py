"""Pydantic models of the Segment Spec message shapes: the contract of Coreo's ingestion API.

Modelled, following https://segment.com/docs/connections/spec/ :

* the common fields every call shares (``type``, ``messageId``, ``anonymousId``, ``userId``,
  the four timestamps, ``context``, ``integrations``, ``version``, ``channel``);
* :class:`Context` with its documented sub-objects (app, campaign, device, library, location,
  network, os, page, referrer, screen, userAgentData, consent ...);
* the six calls -- :class:`IdentifyMessage`, :class:`TrackMessage`, :class:`PageMessage`,
  :class:`ScreenMessage`, :class:`GroupMessage`, :class:`AliasMessage` -- joined in the
  :data:`Message` union, discriminated on ``type``;
* the HTTP Tracking API's ``/v1/batch`` body, :class:`Batch`.

Decisions
---------
* **Wire names.** Attributes are snake_case in Python; each has its camelCase Segment name as
  alias (``userId``, ``messageId``, ``sentAt`` ...). ``populate_by_name=True`` means input
  may use either spelling, so a payload key ``user_id`` also fills ``userId`` (the alias wins
  if both are present). Dump with ``model_dump(by_alias=True, exclude_none=True, mode="json")``
  for the wire shape; ``exclude_unset=True`` instead is the faithful variant, keeping an
  explicit ``null`` in an unknown field, which ``exclude_none`` drops.
* **Unknown fields are kept** (``extra="allow"``) at the top level, in ``context`` and in each
  context sub-object, because Segment passes them through to destinations.
* **Timestamps** (``timestamp``, ``sentAt``, ``receivedAt``, ``originalTimestamp``) must be
  ISO-8601 / RFC 3339 strings *with* a UTC offset (``Z`` or ``+01:00``); they become aware
  :class:`~datetime.datetime` objects (Python callers may also pass aware ``datetime``
  objects). A naive timestamp is **rejected** ("Input should have timezone info") rather than
  guessed to be UTC: a device clock without an offset is ambiguous, and silently shifting
  events by hours is worse than a clear error. JSON numbers (Unix epochs) are rejected too:
  Segment documents ISO-8601 strings only. Dumped timestamps are normalised
  (``...123000Z``), so the round trip preserves the instant, not the exact spelling.
* **IDs.** ``userId``, ``anonymousId``, ``groupId`` and ``previousId`` accept JSON integers
  (SDKs send numeric database ids) and coerce them to ``str`` (so is an integral float such
  as ``42.0``); other floats and booleans are rejected. An ID that is present but empty or
  whitespace-only is rejected at that field, even when the other identity field is usable:
  a blank id is always a client bug, and letting it through would poison identity
  resolution. Every call except ``alias`` needs ``userId`` or
  ``anonymousId``; ``alias`` needs ``previousId`` and ``userId``.
* **messageId** is optional on input (the server generates one); if present it is a non-empty
  string of at most 100 characters (the Tracking API deduplicates on it; its docs ask for
  "fewer than 100 characters", read here as an upper bound of 100).
* **Track ``event``** is required, non-blank, at most 200 characters.
* **Loose where Segment is loose.** ``version`` accepts an int, float or string (the spec's own
  examples send ``"1.1"``); numbers in context sub-objects may be int or float; context string
  fields accept numbers and store them as strings (``"build": 531`` -> ``"531"``);
  ``properties``/``traits`` are free-form objects; ``integrations`` maps a destination name to
  a bool or an options object.
* **Batch.** ``batch`` holds 1..:data:`MAX_BATCH_EVENTS` messages of any type (alias
  included: server libraries batch it). The optional top-level ``context``/``integrations``
  are only modelled here; merging them into each message belongs to the ingestion layer, as do
  the byte-size checks against :data:`MAX_MESSAGE_BYTES` and :data:`MAX_BATCH_BYTES`.
* **Speed.** This sits on the hot ingestion path, so every per-field rule (ids, timestamps,
  ``event``, lengths) is a pydantic-core schema run in Rust -- no Python validator per field.
  The one Python hook is the cross-field identity check (``userId`` or ``anonymousId``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal, Self, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_core import core_schema as cs

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_EVENT_NAME_LENGTH",
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_ID_LENGTH",
    "MESSAGE_ADAPTER",
    "MESSAGE_TYPES",
    "AliasMessage",
    "App",
    "Batch",
    "Campaign",
    "Consent",
    "Context",
    "Device",
    "EventName",
    "GroupMessage",
    "IdentifyMessage",
    "Library",
    "Location",
    "Message",
    "Network",
    "OperatingSystem",
    "PageInfo",
    "PageMessage",
    "Referrer",
    "ScreenInfo",
    "ScreenMessage",
    "SegmentId",
    "Timestamp",
    "TrackMessage",
    "UserAgentBrand",
    "UserAgentData",
    "parse_message",
]

MESSAGE_TYPES: Final[tuple[str, ...]] = ("identify", "track", "page", "screen", "group", "alias")
"""The ``type`` values of the Segment Spec calls."""

MAX_MESSAGE_BYTES: Final = 32 * 1024
"""Segment's limit for one message (a single call, or one item of a batch)."""

MAX_BATCH_BYTES: Final = 500 * 1024
"""Segment's limit for one ``/v1/batch`` request body."""

MAX_BATCH_EVENTS: Final = 2500
"""Segment's documented maximum number of messages in one ``/v1/batch`` request."""

MAX_MESSAGE_ID_LENGTH: Final = 100
MAX_EVENT_NAME_LENGTH: Final = 200


# --- field types ----------------------------------------------------------------------------


_NON_BLANK = r"\S"  # unanchored: at least one non-whitespace character
# The same rule for JSON Schema (ECMA regex): its \s lacks U+0085, which Rust's \s has.
_NON_BLANK_JSON = r"[^\s\u0085]"
# JSON parsers (orjson) read integers beyond 64 bits as floats, which ids refuse.
_JSON_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}


def _integral(value: float) -> str:
    if not value.is_integer():
        raise ValueError("not an integer")
    return str(int(value))


# A string (not blank), or a JSON integer turned into its decimal string. Bools and floats
# fail: strict int refuses both, and only the int branch coerces to str.
_ID_SCHEMA = cs.custom_error_schema(
    cs.union_schema(
        [
            cs.str_schema(strict=True, pattern=_NON_BLANK),
            cs.chain_schema(
                [cs.int_schema(strict=True), cs.str_schema(coerce_numbers_to_str=True)]
            ),
            # JSON Schema counts 42.0 as an integer, and some JSON encoders write ids so.
            cs.chain_schema(
                [cs.float_schema(strict=True), cs.no_info_plain_validator_function(_integral)]
            ),
        ],
        mode="left_to_right",
    ),
    custom_error_type="segment_id",
    custom_error_message="must be a non-empty string (not only whitespace) or an integer",
)

# Strings are parsed by pydantic-core's RFC 3339 parser; aware datetimes pass through (Python
# callers); anything else -- notably JSON numbers, which pydantic would read as Unix epochs --
# is refused. A naive value fails the ``aware`` constraint: "Input should have timezone info"
# (type ``timezone_aware``). A custom message for that case would need an extra strict
# datetime step per field, which measured ~0.2 us each -- too dear on the hot path.
_TIMESTAMP_SCHEMA = cs.chain_schema(
    [
        cs.union_schema(
            [cs.str_schema(strict=True), cs.is_instance_schema(datetime)],
            mode="left_to_right",
            custom_error_type="segment_timestamp",
            custom_error_message=(
                "must be an ISO-8601 timestamp string with a UTC offset, "
                "e.g. '2025-03-14T09:21:33.123Z' or '2025-03-14T10:21:33+01:00'"
            ),
        ),
        cs.datetime_schema(tz_constraint="aware"),
    ]
)

_EVENT_SCHEMA = cs.custom_error_schema(
    cs.str_schema(strict=True, pattern=_NON_BLANK, max_length=MAX_EVENT_NAME_LENGTH),
    custom_error_type="segment_event",
    custom_error_message=(
        f"must be a non-empty string (not only whitespace) of at most "
        f"{MAX_EVENT_NAME_LENGTH} characters"
    ),
)


def _validated_by(schema: cs.CoreSchema) -> GetPydanticSchema:
    """An annotation that makes pydantic validate (and serialise) the field with ``schema``."""
    return GetPydanticSchema(lambda _source, _handler: schema)


SegmentId: TypeAlias = Annotated[
    str,
    _validated_by(_ID_SCHEMA),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _NON_BLANK_JSON}, {"type": "integer"}]}
    ),
]
"""A user, anonymous, group or previous id: a non-blank string (JSON ints are stringified)."""

Timestamp: TypeAlias = Annotated[
    datetime,
    _validated_by(_TIMESTAMP_SCHEMA),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An ISO-8601 string with an offset, parsed to an aware datetime; naive values are refused."""

EventName: TypeAlias = Annotated[
    str,
    _validated_by(_EVENT_SCHEMA),
    WithJsonSchema(
        {"type": "string", "pattern": _NON_BLANK_JSON, "maxLength": MAX_EVENT_NAME_LENGTH}
    ),
]
"""A track call's ``event``: non-blank, at most :data:`MAX_EVENT_NAME_LENGTH` characters."""

_Number: TypeAlias = int | float
_JsonObject: TypeAlias = dict[str, Any]
_Integrations: TypeAlias = dict[str, bool | _JsonObject]

_WIRE = ConfigDict(extra="allow", populate_by_name=True)
_LOOSE_WIRE = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


# --- context ---------------------------------------------------------------------------------


class App(BaseModel):
    """``context.app``: the current application (mobile libraries fill it)."""

    model_config = _LOOSE_WIRE

    name: str | None = None
    version: str | None = None
    build: str | None = None
    namespace: str | None = None


class Campaign(BaseModel):
    """``context.campaign``: the UTM parameters; custom ``utm_*`` keys are kept as extras."""

    model_config = _LOOSE_WIRE

    name: str | None = None
    source: str | None = None
    medium: str | None = None
    term: str | None = None
    content: str | None = None


class Device(BaseModel):
    """``context.device``."""

    model_config = _LOOSE_WIRE

    id: str | None = None
    advertising_id: str | None = Field(default=None, alias="advertisingId")
    ad_tracking_enabled: bool | None = Field(default=None, alias="adTrackingEnabled")
    manufacturer: str | None = None
    model: str | None = None
    name: str | None = None
    type: str | None = None
    token: str | None = None
    version: str | None = None


class Library(BaseModel):
    """``context.library``: the SDK that sent the call."""

    model_config = _LOOSE_WIRE

    name: str | None = None
    version: str | None = None


class Location(BaseModel):
    """``context.location``."""

    model_config = _LOOSE_WIRE

    city: str | None = None
    country: str | None = None
    region: str | None = None
    latitude: _Number | None = None
    longitude: _Number | None = None
    speed: _Number | None = None


class Network(BaseModel):
    """``context.network``."""

    model_config = _LOOSE_WIRE

    bluetooth: bool | None = None
    carrier: str | None = None
    cellular: bool | None = None
    wifi: bool | None = None


class OperatingSystem(BaseModel):
    """``context.os``."""

    model_config = _LOOSE_WIRE

    name: str | None = None
    version: str | None = None


class PageInfo(BaseModel):
    """``context.page``: the current page in the browser (analytics.js fills it)."""

    model_config = _LOOSE_WIRE

    path: str | None = None
    referrer: str | None = None
    search: str | None = None
    title: str | None = None
    url: str | None = None


class Referrer(BaseModel):
    """``context.referrer``: how the user was referred to the site or app."""

    model_config = _LOOSE_WIRE

    id: str | None = None
    type: str | None = None
    name: str | None = None
    url: str | None = None
    link: str | None = None


class ScreenInfo(BaseModel):
    """``context.screen``: the device's screen."""

    model_config = _LOOSE_WIRE

    width: _Number | None = None
    height: _Number | None = None
    density: _Number | None = None


class UserAgentBrand(BaseModel):
    """One entry of ``context.userAgentData.brands`` (User-Agent Client Hints)."""

    model_config = _LOOSE_WIRE

    brand: str | None = None
    version: str | None = None


class UserAgentData(BaseModel):
    """``context.userAgentData``; high-entropy hints (``platformVersion`` ...) are extras."""

    model_config = _LOOSE_WIRE

    brands: list[UserAgentBrand] | None = None
    mobile: bool | None = None
    platform: str | None = None


class Consent(BaseModel):
    """``context.consent``: consent category id -> whether the user consented."""

    model_config = _WIRE

    category_preferences: dict[str, bool] | None = Field(default=None, alias="categoryPreferences")


class Context(BaseModel):
    """``context``: extra information about the data point. Unknown keys are kept."""

    model_config = _LOOSE_WIRE

    active: bool | None = None
    app: App | None = None
    campaign: Campaign | None = None
    device: Device | None = None
    ip: str | None = None
    library: Library | None = None
    locale: str | None = None
    location: Location | None = None
    network: Network | None = None
    os: OperatingSystem | None = None
    page: PageInfo | None = None
    referrer: Referrer | None = None
    screen: ScreenInfo | None = None
    group_id: str | None = Field(default=None, alias="groupId")
    timezone: str | None = None
    traits: _JsonObject | None = None
    user_agent: str | None = Field(default=None, alias="userAgent")
    user_agent_data: UserAgentData | None = Field(default=None, alias="userAgentData")
    consent: Consent | None = None


# --- messages --------------------------------------------------------------------------------


class _MessageBase(BaseModel):
    """The common fields every call shares, apart from the identity fields."""

    model_config = _WIRE

    message_id: str | None = Field(
        default=None, alias="messageId", min_length=1, max_length=MAX_MESSAGE_ID_LENGTH
    )
    timestamp: Timestamp | None = None
    sent_at: Timestamp | None = Field(default=None, alias="sentAt")
    received_at: Timestamp | None = Field(default=None, alias="receivedAt")
    original_timestamp: Timestamp | None = Field(default=None, alias="originalTimestamp")
    context: Context | None = None
    integrations: _Integrations | None = None
    version: int | float | str | None = None
    channel: str | None = None


class _IdentifiedMessage(_MessageBase):
    """A call that must carry ``userId`` or ``anonymousId`` (all but alias)."""

    anonymous_id: SegmentId | None = Field(default=None, alias="anonymousId")
    user_id: SegmentId | None = Field(default=None, alias="userId")

    @model_validator(mode="after")
    def _require_identity(self) -> Self:
        if self.user_id is None and self.anonymous_id is None:
            raise PydanticCustomError(
                "missing_identity",
                "either userId or anonymousId is required (a non-empty string)",
            )
        return self


class IdentifyMessage(_IdentifiedMessage):
    """``identify``: who the user is, and their traits."""

    type: Literal["identify"]
    traits: _JsonObject | None = None


class TrackMessage(_IdentifiedMessage):
    """``track``: an action the user performed."""

    type: Literal["track"]
    event: EventName
    properties: _JsonObject | None = None


class PageMessage(_IdentifiedMessage):
    """``page``: the user saw a web page."""

    type: Literal["page"]
    name: str | None = None
    category: str | None = None
    properties: _JsonObject | None = None


class ScreenMessage(_IdentifiedMessage):
    """``screen``: the user saw an app screen."""

    type: Literal["screen"]
    name: str | None = None
    category: str | None = None
    properties: _JsonObject | None = None


class GroupMessage(_IdentifiedMessage):
    """``group``: the user belongs to a group (company, account, team ...)."""

    type: Literal["group"]
    group_id: SegmentId = Field(alias="groupId")
    traits: _JsonObject | None = None


class AliasMessage(_MessageBase):
    """``alias``: ``previousId`` and ``userId`` are the same person."""

    type: Literal["alias"]
    previous_id: SegmentId = Field(alias="previousId")
    user_id: SegmentId = Field(alias="userId")
    anonymous_id: SegmentId | None = Field(default=None, alias="anonymousId")


Message: TypeAlias = Annotated[
    IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage,
    Field(discriminator="type"),
]
"""Any Segment call, dispatched on its ``type``."""


class Batch(BaseModel):
    """The body of the HTTP Tracking API's ``/v1/batch``."""

    model_config = _WIRE

    batch: list[Message] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)
    context: Context | None = None
    integrations: _Integrations | None = None
    sent_at: Timestamp | None = Field(default=None, alias="sentAt")
    write_key: str | None = Field(default=None, alias="writeKey")


MESSAGE_ADAPTER: Final[TypeAdapter[Message]] = TypeAdapter(
    Message, config=ConfigDict(title="Message")
)
"""Validates one message (``validate_python`` for dicts, ``validate_json`` for raw bytes)."""


def parse_message(data: dict[str, Any]) -> Message:
    """Validate one Segment call; raises :class:`pydantic.ValidationError` if it is invalid."""
    return MESSAGE_ADAPTER.validate_python(data)
