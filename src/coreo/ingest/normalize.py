"""Normalisation and enrichment of a validated Segment message, before it enters the log.

What changes, in order:

* ``messageId`` is generated (UUID 4) when the sender left it out.
* ``receivedAt`` is the server's clock when the request arrived.
* Clock skew: when the sender sent both ``timestamp`` and ``sentAt`` (SDKs stamp
  ``sentAt`` when a batch leaves the device), the device clock's error is
  ``sentAt - receivedAt``; the corrected time is
  ``timestamp = receivedAt - (sentAt - originalTimestamp)``, the rule Segment documents.
  The sender's value is kept as ``originalTimestamp``. Without ``sentAt`` the timestamp
  is trusted; without any timestamp it is ``receivedAt``.
* E-mail addresses in ``traits``/``context.traits``/``properties`` (key ``email``) are
  trimmed and lower-cased; phone numbers (key ``phone``) become E.164 (default region
  Switzerland, configurable), and are left as sent when they cannot be parsed.
* ``context.userAgent`` is parsed into ``context.userAgentParsed`` (browser, os, device).
* ``context.locale`` becomes a BCP 47 tag (``de_ch`` → ``de-CH``).
* Optionally, ``context.ip`` is truncated (IPv4 /24, IPv6 /48) for privacy.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import phonenumbers
from ua_parser import parse as parse_user_agent

from coreo.config import Settings
from coreo.privacy.datamap import fold, is_special_category

__all__ = [
    "NormaliseOptions",
    "identity_key",
    "normalise",
    "normalise_email",
    "normalise_phone",
    "strip_special_categories",
]

_IDENTITY_CONTAINERS = ("traits", "properties")


@dataclass(frozen=True, slots=True)
class NormaliseOptions:
    phone_region: str = "CH"
    truncate_ip: bool = False
    gpc: bool = False  # the request carried Sec-GPC: 1 (Global Privacy Control)
    special_allowed: frozenset[str] = frozenset()  # folded names (datamap.fold)

    @classmethod
    def from_settings(cls, settings: Settings) -> NormaliseOptions:
        return cls(
            phone_region=settings.ingest_phone_region.upper(),
            truncate_ip=settings.ingest_truncate_ip,
            special_allowed=frozenset(fold(f) for f in settings.ingest_special_categories_allowed),
        )


def strip_special_categories(message: dict[str, Any], options: NormaliseOptions) -> list[str]:
    """Remove fields carrying special categories of personal data (GDPR Art. 9; revDSG
    Art. 5(c)) from traits, context.traits and properties, at any depth; return the paths
    removed (``traits.religion``). Fields the installation allows are kept."""
    removed: list[str] = []
    context = message.get("context")
    pending: list[tuple[Any, str]] = [
        (message.get("traits"), "traits"),
        (message.get("properties"), "properties"),
        (context.get("traits") if isinstance(context, dict) else None, "context.traits"),
    ]
    while pending:  # a stack, not recursion: nesting depth is the sender's choice
        current, where = pending.pop()
        if isinstance(current, dict):
            for name in list(current):
                value, text = current[name], str(name)
                if is_special_category(text) and fold(text) not in options.special_allowed:
                    del current[name]
                    removed.append(f"{where}.{text}")
                elif isinstance(value, dict | list):  # only containers hold further names
                    pending.append((value, f"{where}.{text}"))
        elif isinstance(current, list):
            inner = f"{where}[]"
            pending.extend((item, inner) for item in current if isinstance(item, dict | list))
    return sorted(removed)


def _iso(value: datetime) -> str:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+00:03 has no UTC equivalent: keep it
        return value.isoformat(timespec="milliseconds")
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=8)
def _received_iso(value: datetime) -> str:
    """``_iso`` of a request's arrival time, shared by all the messages of the request."""
    return _iso(value)


def normalise_email(value: str) -> str:
    """Trim and lower-case an e-mail address (the part every provider agrees on)."""
    return value.strip().lower()


@lru_cache(maxsize=65_536)
def normalise_phone(value: str, region: str = "CH") -> str:
    """Return ``value`` in E.164 when it parses as a possible number, else unchanged."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def _parsed_user_agent(value: str) -> dict[str, str | None]:
    result = parse_user_agent(value)
    browser, os, device = result.user_agent, result.os, result.device
    return {
        "browser": browser.family if browser else None,
        "browserVersion": browser.major if browser else None,
        "os": os.family if os else None,
        "osVersion": os.major if os else None,
        "device": device.family if device else None,
        "deviceBrand": device.brand if device else None,
    }


def _normalise_locale(value: str) -> str:
    parts = value.replace("_", "-").split("-")
    if len(parts) >= 2 and len(parts[1]) == 2:
        return "-".join([parts[0].lower(), parts[1].upper(), *parts[2:]])
    return "-".join([parts[0].lower(), *parts[1:]])


def _truncate_ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return value
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network.network_address)


def _normalise_identity_fields(container: Any, options: NormaliseOptions) -> None:
    if not isinstance(container, dict):
        return
    email = container.get("email")
    if isinstance(email, str):
        container["email"] = normalise_email(email)
    phone = container.get("phone")
    if isinstance(phone, str):
        container["phone"] = normalise_phone(phone, options.phone_region)


def _mark_gpc(message: dict[str, Any]) -> None:
    context = message.get("context")
    if not isinstance(context, dict):
        context = message["context"] = {}
    consent = context.get("consent")
    if not isinstance(consent, dict):
        consent = context["consent"] = {}
    consent["gpc"] = True


def normalise(
    message: dict[str, Any],
    *,
    received_at: datetime,
    sent_at: datetime | None,
    options: NormaliseOptions,
) -> dict[str, Any]:
    """Normalise a validated message (wire names, as sent) in place and return it.

    ``sent_at`` is the message's own ``sentAt`` or, failing that, the batch's.
    """
    if "messageId" not in message:
        message["messageId"] = str(uuid.uuid4())
    message["receivedAt"] = _received_iso(received_at)
    sent = message.get("timestamp") or message.get("originalTimestamp")
    if isinstance(sent, str):
        original = datetime.fromisoformat(sent)
        message["originalTimestamp"] = sent
        when = original
        if sent_at is not None:
            try:
                when = received_at - (sent_at - original)
            except OverflowError:  # an absurd device clock: keep what it said
                when = original
        message["timestamp"] = _iso(when)
    else:
        message["timestamp"] = message["receivedAt"]
    if sent_at is not None:
        message["sentAt"] = _iso(sent_at)
    for name in _IDENTITY_CONTAINERS:
        _normalise_identity_fields(message.get(name), options)
    if options.gpc:  # the browser's opt-out travels with the event: context.consent.gpc
        _mark_gpc(message)
    context = message.get("context")
    if isinstance(context, dict):
        _normalise_identity_fields(context.get("traits"), options)
        agent = context.get("userAgent")
        if isinstance(agent, str) and agent:
            context["userAgentParsed"] = _parsed_user_agent(agent)
        locale = context.get("locale")
        if isinstance(locale, str) and locale:
            context["locale"] = _normalise_locale(locale)
        ip = context.get("ip")
        if options.truncate_ip and isinstance(ip, str):
            context["ip"] = _truncate_ip(ip)
    return message


def identity_key(message: dict[str, Any]) -> str:
    """The key that partitions the log: the anonymous id when there is one (a device's
    anonymous and identified events then stay in order together), else the user id."""
    for field in ("anonymousId", "userId", "previousId"):
        value = message.get(field)
        if value is not None and str(value).strip():
            return str(value)
    return ""
