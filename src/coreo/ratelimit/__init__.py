"""Per-key token-bucket rate limiting behind one interface (memory or Redis store)."""

from __future__ import annotations

from coreo.config import RateLimitBackend, Settings
from coreo.errors import ConfigurationError
from coreo.ratelimit.base import RateLimitDecision, RateLimiter
from coreo.ratelimit.memory import MemoryRateLimiter

__all__ = ["MemoryRateLimiter", "RateLimitDecision", "RateLimiter", "build_rate_limiter"]


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """Return the limiter the settings ask for."""
    if settings.rate_limit_backend is RateLimitBackend.REDIS:
        from coreo.ratelimit.redis import RedisRateLimiter

        if settings.redis_url is None:
            raise ConfigurationError("COREO_REDIS_URL is required for the redis rate limiter")
        return RedisRateLimiter.from_url(settings.redis_url.get_secret_value())
    return MemoryRateLimiter()
