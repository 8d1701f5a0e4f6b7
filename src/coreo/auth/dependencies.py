"""FastAPI dependencies: who is calling, may they, and are they within their rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials, HTTPBearer
from fastapi.security.http import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from coreo.auth import service as auth_service
from coreo.auth.service import InvalidCredentialsError, Principal
from coreo.db import utcnow
from coreo.errors import ServiceUnavailableError
from coreo.ratelimit import MemoryRateLimiter
from coreo.web.problems import ProblemError
from coreo.web.state import Runtime, runtime

__all__ = ["KeyCache", "authenticate_token", "get_principal", "require_scope"]

_bearer = HTTPBearer(auto_error=False, description="A secret API key: `Bearer coreo_sk_…`.")
_basic = HTTPBasic(
    auto_error=False,
    description="The API key as user name, empty password (how Segment SDKs send write keys).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer, Basic realm="coreo"'}
_TOUCH_INTERVAL = 60.0


class KeyCache:
    """Verified principals by token hash for a few seconds, so hot paths skip the database."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._touched: dict[str, float] = {}

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token_hash] = (principal, time.monotonic() + self.ttl)

    def forget_key(self, key_id: str) -> None:
        """Drop a key at once (this process); other processes drop it within the TTL."""
        with self._lock:
            for token_hash in [h for h, (p, _) in self._entries.items() if p.key_id == key_id]:
                del self._entries[token_hash]

    def due_for_touch(self, key_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key_id, float("-inf")) < _TOUCH_INTERVAL:
                return False
            self._touched[key_id] = now
            return True


def _lookup(state: Runtime, token: str, cache: KeyCache) -> Principal:
    with state.database.transaction(write=False) as session:
        principal = auth_service.authenticate(session=session, token=token)
    if cache.due_for_touch(principal.key_id):
        with state.database.transaction(write=True) as session:
            auth_service.touch_api_key(session=session, key_id=principal.key_id, at=utcnow())
    return principal


def _enforce_rate_limit(state: Runtime, principal: Principal) -> None:
    settings = state.settings
    rate = principal.rate_limit_per_second or settings.rate_limit_per_second
    burst = max(settings.rate_limit_burst, int(rate))
    try:
        decision = state.rate_limiter.hit(f"key:{principal.key_id}", rate=rate, burst=burst)
    except ServiceUnavailableError:
        # Fail open: an unreachable limiter must not take the whole API down with it.
        state.metrics.rate_limit_store_errors.inc()
        return
    if not decision.allowed:
        state.metrics.rate_limited.inc()
        retry_after = max(1, int(decision.retry_after + 0.999))
        raise ProblemError(
            "rate-limited",
            f"this API key exceeded {rate:g} requests per second; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


async def get_principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    basic: HTTPBasicCredentials | None = Depends(_basic),
) -> Principal:
    """Authenticate the request's API key and charge its rate limit."""
    token = bearer.credentials if bearer is not None else basic.username if basic else None
    return await authenticate_token(request, token)


async def authenticate_token(request: Request, token: str | None) -> Principal:
    """Verify ``token`` (cached for a few seconds) and charge the key's rate limit."""
    if not token:
        raise ProblemError(
            "unauthenticated",
            "send an API key as 'Authorization: Bearer <key>' or as the Basic user name",
            headers=_CHALLENGE,
        )
    state = runtime(request)
    cache: KeyCache = request.app.state.key_cache
    token_hash = auth_service.hash_token(token)
    principal = cache.get(token_hash)
    if principal is None:
        try:
            principal = await run_in_threadpool(_lookup, state, token, cache)
        except InvalidCredentialsError as error:
            raise ProblemError("unauthenticated", error.message, headers=_CHALLENGE) from None
        cache.put(token_hash, principal)
    if isinstance(state.rate_limiter, MemoryRateLimiter):
        _enforce_rate_limit(state, principal)
    else:
        await run_in_threadpool(_enforce_rate_limit, state, principal)
    request.state.principal = principal
    return principal


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that answers 403 unless the caller's key has ``scope`` (or ``admin``)."""
    if scope not in auth_service.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(principal: Principal = Depends(get_principal)) -> Principal:
        if not principal.has_scope(scope):
            raise ProblemError("forbidden", f"this API key lacks the '{scope}' scope")
        return principal

    return dependency
