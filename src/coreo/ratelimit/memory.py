"""In-process token buckets: exact, lock-protected, for a single server process."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from coreo.ratelimit.base import RateLimitDecision, RateLimiter, refill

__all__ = ["MemoryRateLimiter"]

_MAX_BUCKETS = 100_000


class MemoryRateLimiter(RateLimiter):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def hit(self, key: str, *, rate: float, burst: int, cost: int = 1) -> RateLimitDecision:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = refill(tokens, now - last, rate=rate, burst=burst)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
                self._forget_full_buckets(now, rate=rate, burst=burst)
            self._buckets[key] = (tokens, now)
        retry_after = 0.0 if allowed else (cost - tokens) / rate
        return RateLimitDecision(allowed, math.floor(tokens), retry_after)

    def _forget_full_buckets(self, now: float, *, rate: float, burst: int) -> None:
        # A bucket that has refilled completely is the same as no bucket at all.
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if refill(tokens, now - last, rate=rate, burst=burst) >= burst
        ]
        for key in full:
            del self._buckets[key]
