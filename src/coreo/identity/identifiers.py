"""The identifiers a Segment message carries, typed.

``userId`` → ``user_id``, ``anonymousId`` → ``anonymous_id``, ``context.device.id`` →
``device_id``, and ``context.externalIds`` → their own ``type`` (``loyalty_card``,
``erp_customer_no``…) are read from every call. Further fields are read as the workspace's
identity rules name them (``IdentityRules.sources``; by default e-mail and phone from
identify ``traits`` and every call's ``context.traits``, ``traits.loyaltyCard``, and
``properties.email`` of ``Order Completed``, a guest checkout's buyer). Values are keyed as
the rules say (e-mail by mailbox) and placeholders the rules ignore are dropped. ``alias``
carries ``previousId`` and ``userId``: the previous id is a known user id when one exists,
otherwise an anonymous id. ``group`` traits describe the group, not the person, and are not
read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from coreo.identity.rules import DEFAULT_RULES, IdentityRules

__all__ = ["Identifier", "identifiers_of"]

_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_VALUE = 300


@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:_MAX_VALUE] if text else None
    return None


def _external_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    kind = re.sub(r"[^a-z0-9_]+", "_", value.strip().lower()).strip("_")
    return kind if _TYPE.fullmatch(kind) else None


def _at(message: dict[str, Any], path: list[str]) -> Any:
    value: Any = message
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def identifiers_of(
    message: dict[str, Any], rules: IdentityRules = DEFAULT_RULES
) -> list[Identifier]:
    """Every identifier of the person a message is about, without duplicates, sorted."""
    found: set[Identifier] = set()

    def add(kind: str, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        key = rules.key(kind, text)
        if key is not None and not rules.ignores(kind, key):
            found.add(Identifier(kind, key))

    kind = message.get("type")
    add("user_id", message.get("userId"))
    add("anonymous_id", message.get("anonymousId"))
    if isinstance(kind, str):
        for source in rules.sources_of(kind, message.get("event")):
            add(source.type, _at(message, source.path))
    raw_context = message.get("context")
    context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
    device = context.get("device")
    if isinstance(device, dict):
        add("device_id", device.get("id"))
    external = context.get("externalIds")
    if isinstance(external, list):
        for item in external[:20]:
            if isinstance(item, dict):
                external_type = _external_type(item.get("type"))
                if external_type is not None:
                    add(external_type, item.get("id"))
    return sorted(found)


def previous_id(message: dict[str, Any]) -> str | None:
    """An alias call's ``previousId``."""
    return _text(message.get("previousId")) if message.get("type") == "alias" else None
