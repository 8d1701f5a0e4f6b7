"""The rate-limiter contract every store implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass

__all__ = ["RateLimitDecision", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """Outcome of taking ``cost`` tokens from a bucket."""

    allowed: bool
    remaining: int
    retry_after: float  # seconds until the request would be allowed; 0 when allowed


class RateLimiter(abc.ABC):
    """Token buckets keyed by a string: ``rate`` tokens per second refill up to ``burst``."""

    @abc.abstractmethod
    def hit(self, key: str, *, rate: float, burst: int, cost: int = 1) -> RateLimitDecision:
        """Take ``cost`` tokens from ``key``'s bucket if it holds that many."""

    def ping(self) -> None:  # noqa: B027  (optional hook: in-process stores are always up)
        """Raise when the store cannot be reached."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections."""


def refill(tokens: float, elapsed: float, *, rate: float, burst: int) -> float:
    """Return the bucket level after ``elapsed`` seconds of refilling."""
    return min(float(burst), tokens + max(elapsed, 0.0) * rate)
