"""Token buckets in Redis, shared by every server process; one atomic Lua script per hit."""

from __future__ import annotations

import math
from typing import Any

import redis

from coreo.errors import ServiceUnavailableError
from coreo.ratelimit.base import RateLimitDecision, RateLimiter

__all__ = ["RedisRateLimiter"]

# KEYS[1] bucket; ARGV rate, burst, cost. Redis' own clock keeps processes consistent.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, client: redis.Redis, *, namespace: str = "coreo:rl:") -> None:
        self._client = client
        self._namespace = namespace
        self._script = client.register_script(_BUCKET_SCRIPT)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRateLimiter:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, **kwargs)

    def hit(self, key: str, *, rate: float, burst: int, cost: int = 1) -> RateLimitDecision:
        try:
            allowed, tokens_text = self._script(
                keys=[self._namespace + key], args=[rate, burst, cost]
            )
        except redis.RedisError as error:
            raise ServiceUnavailableError(
                f"rate-limit store unreachable: {type(error).__name__}"
            ) from None
        tokens = float(tokens_text)
        retry_after = 0.0 if allowed else (cost - tokens) / rate
        return RateLimitDecision(bool(allowed), math.floor(tokens), retry_after)

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as error:
            raise ServiceUnavailableError(
                f"rate-limit store unreachable: {type(error).__name__}"
            ) from None

    def close(self) -> None:
        self._client.close()
