"""Segment-Spec messages as the retailer's sources send them: web, app, e-mail tool, service desk.

Hot path: a default world writes millions of messages, so contexts are built once per
device and shared, timestamps are formatted from a per-day cache, and ids come from the
unit's seeded generator (never ``uuid4``, which would break byte-for-byte reproducibility).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "SECOND",
    "Clock",
    "Device",
    "EventSink",
    "Messages",
    "make_device",
    "new_id",
]

DAY_MS = 86_400_000
SECOND = 1 / 86_400  # one second in simulation time (days)
APP_NAME = "Alpenmarkt"
SITE = "https://www.alpenmarkt.ch"

# A sink receives (milliseconds since 1970, message). Writers serialise; tests collect.
EventSink = Callable[[int, dict[str, Any]], None]


def new_id(rng: random.Random) -> str:
    """A UUID-4-shaped id drawn from ``rng`` (reproducible, unlike ``uuid.uuid4``)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class Clock:
    """Converts simulation time (days since the scenario start, a float) to timestamps."""

    def __init__(self, start: date) -> None:
        self.start = start
        self.start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
        self.start_ms *= 1000
        self._days: dict[int, str] = {}

    def ms(self, t: float) -> int:
        return self.start_ms + int(t * DAY_MS)

    def iso_ms(self, ms: int) -> str:
        """ISO-8601 UTC with milliseconds, e.g. ``2025-03-14T09:21:33.123Z``."""
        day, rest = divmod(ms - self.start_ms, DAY_MS)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = (self.start + timedelta(days=day)).isoformat()
            self._days[day] = prefix
        hours, rest = divmod(rest, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return f"{prefix}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}Z"

    def iso(self, t: float) -> str:
        return self.iso_ms(self.ms(t))

    def date(self, t: float) -> date:
        return self.start + timedelta(days=int(t // 1))


_USER_AGENTS: dict[str, tuple[str, ...]] = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/128.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Safari/537.36",
    ),
    "mobile_web": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/128.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
    ),
}
_APP_DEVICES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    # platform -> (manufacturer, model, os name, os version)
    "ios": (
        ("Apple", "iPhone15,2", "iOS", "17.6"),
        ("Apple", "iPhone14,5", "iOS", "17.5.1"),
        ("Apple", "iPhone16,1", "iOS", "18.0"),
    ),
    "android": (
        ("samsung", "SM-S918B", "Android", "14"),
        ("Google", "Pixel 8", "Android", "14"),
        ("Xiaomi", "2201116SG", "Android", "13"),
    ),
}


@dataclass(slots=True)
class Device:
    """A browser or app installation. Its anonymousId is the cookie or install id."""

    platform: str  # desktop | mobile_web | tablet | ios | android
    anonymous_id: str
    device_id: str | None
    context: dict[str, Any]
    shared: bool = False
    gpc: bool = False
    users: list[str] = field(default_factory=list)  # person ids seen on it (ground truth)
    anonymous_ids: list[str] = field(default_factory=list)  # every id it had (cookie resets)
    current_user: str | None = None  # the userId the SDK keeps after identify (localStorage)

    @property
    def is_app(self) -> bool:
        return self.device_id is not None

    def reset_cookie(self, rng: random.Random) -> None:
        """Cookie loss (browser reset, ITP expiry): a new anonymousId, nobody logged in."""
        self.anonymous_id = new_id(rng)
        self.anonymous_ids.append(self.anonymous_id)
        self.current_user = None


def make_device(
    rng: random.Random, platform: str, *, ip: str, locale: str, gpc: bool, shared: bool = False
) -> Device:
    """Build a device with its reusable Segment ``context``."""
    context: dict[str, Any] = {"ip": ip, "locale": locale}
    device_id = None
    if platform in _APP_DEVICES:
        manufacturer, model, os_name, os_version = rng.choice(_APP_DEVICES[platform])
        device_id = new_id(rng).upper() if platform == "ios" else f"{rng.getrandbits(64):016x}"
        context |= {
            "app": {"name": APP_NAME, "version": "5.3.1", "build": "531"},
            "device": {
                "id": device_id,
                "manufacturer": manufacturer,
                "model": model,
                "type": platform,
            },
            "os": {"name": os_name, "version": os_version},
            "library": {"name": f"analytics-{platform}", "version": "4.1.8"},
            "network": {"wifi": rng.random() < 0.7, "cellular": True},
            "timezone": "Europe/Zurich",
        }
    else:
        context |= {
            "userAgent": rng.choice(_USER_AGENTS[platform]),
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "timezone": "Europe/Zurich",
        }
        if gpc:
            # Global Privacy Control, as the browser's Sec-GPC: 1 header reports it.
            context["globalPrivacyControl"] = True
    anonymous_id = new_id(rng)
    return Device(
        platform=platform,
        anonymous_id=anonymous_id,
        anonymous_ids=[anonymous_id],
        device_id=device_id,
        context=context,
        shared=shared,
        gpc=gpc and device_id is None,
    )


class Messages:
    """Builds Segment messages for one unit and hands them to the sink."""

    def __init__(self, rng: random.Random, clock: Clock, sink: EventSink) -> None:
        self.rng = rng
        self.clock = clock
        self.sink = sink

    def _emit(self, t: float, message: dict[str, Any]) -> None:
        ms = self.clock.ms(t)
        message["messageId"] = new_id(self.rng)
        message["timestamp"] = self.clock.iso_ms(ms)
        self.sink(ms, message)

    @staticmethod
    def _ids(message: dict[str, Any], device: Device | None, user_id: str | None) -> None:
        if device is not None:
            message["anonymousId"] = device.anonymous_id
        if user_id is not None:
            message["userId"] = user_id

    def track(
        self,
        t: float,
        device: Device | None,
        user_id: str | None,
        event: str,
        properties: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> None:
        message: dict[str, Any] = {"type": "track", "event": event, "properties": properties}
        self._ids(message, device, user_id)
        message["context"] = context if context is not None else device.context if device else {}
        self._emit(t, message)

    def identify(
        self,
        t: float,
        device: Device | None,
        user_id: str | None,
        traits: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> None:
        message: dict[str, Any] = {"type": "identify", "traits": traits}
        self._ids(message, device, user_id)
        message["context"] = context if context is not None else device.context if device else {}
        self._emit(t, message)

    def page(
        self, t: float, device: Device, user_id: str | None, name: str, path: str, title: str
    ) -> None:
        url = SITE + path
        message: dict[str, Any] = {
            "type": "page",
            "name": name,
            "properties": {"path": path, "url": url, "title": title},
        }
        self._ids(message, device, user_id)
        message["context"] = device.context | {"page": {"path": path, "url": url, "title": title}}
        self._emit(t, message)

    def screen(self, t: float, device: Device, user_id: str | None, name: str) -> None:
        message: dict[str, Any] = {"type": "screen", "name": name, "properties": {}}
        self._ids(message, device, user_id)
        message["context"] = device.context
        self._emit(t, message)

    def alias(self, t: float, device: Device, previous_id: str, user_id: str) -> None:
        message: dict[str, Any] = {"type": "alias", "previousId": previous_id, "userId": user_id}
        message["context"] = device.context
        self._emit(t, message)

    def group(
        self, t: float, device: Device, user_id: str, group_id: str, traits: dict[str, Any]
    ) -> None:
        message: dict[str, Any] = {"type": "group", "groupId": group_id, "traits": traits}
        self._ids(message, device, user_id)
        message["context"] = device.context
        self._emit(t, message)
